/**
 * A slow TrueLayer never costs a connection: token calls (refresh, code exchange, extend) run on their
 * own deadline past API Gateway's, so a pair TrueLayer rotated after the client was answered is still
 * stored; a refresh sent but never answered is settled by retrying the stored refresh token.
 *
 * Every duration is the deployed one scaled down by ten: API Gateway gives up at 2.9 s (29 s), token
 * calls at 5 s (50 s), and TrueLayer's token endpoint is delayed 2 s and 3.5 s (20 s and 35 s).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApi } from '../support/flow';
import { connectionItem, expectProblem, psu, sleep, tableClient } from './helpers';

const gatewayTimeoutMs = 2_900;
const tokenTimeoutMs = 5_000;

let api: TestApi;
let doc: DynamoDBDocumentClient;

beforeAll(async () => {
  // Rotation on (the default): a pair rotated and not stored is lost for good.
  api = await TestApi.start({
    rotateRefreshTokens: true,
    gatewayTimeoutMs,
    env: { TRUELAYER_TOKEN_TIMEOUT_MS: String(tokenTimeoutMs), TOKEN_REFRESH_AHEAD_MS: '0' },
  });
  doc = tableClient(api.stack);
});
afterAll(async () => api.close());

const item = (id: string) => connectionItem(doc, api.stack.tableName, id);
const accounts = (id: string, sub: string) => api.call('GET', `/connections/${id}/accounts`, { sub, headers: psu });
const view = async (id: string, sub: string) => (await api.call('GET', `/connections/${id}`, { sub })).body;

/** Polls until `check` holds (the invocation the gateway gave up on is still working). */
const eventually = async <T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 10_000): Promise<T> => {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > until) return value;
    await sleep(100);
  }
};

const expectGatewayTimeout = (response: { status: number; body: unknown }) => {
  expect(response.status).toBe(503);
  expect(response.body).toEqual({ message: 'Service Unavailable' });
};

describe('a slow refresh', () => {
  it.each([
    ['20 s', 2_000],
    ['35 s', 3_500],
  ])('delayed %s: the connection stays active and the next read succeeds on exactly one upstream refresh', async (_label, delayMs) => {
    const sub = `slow-refresh-${delayMs}`;
    const id = await api.connect(sub);
    api.advance(3_700);
    const before = await api.simStats();
    await api.simFault({ path: '/connect/token', delay_ms: delayMs, times: 1 });

    const first = await accounts(id, sub);
    if (delayMs > gatewayTimeoutMs) expectGatewayTimeout(first);
    else expect([200, 503]).toContain(first.status);
    expect((await view(id, sub)).status).toBe('active');

    const next = await accounts(id, sub);
    expect(next.status, next.text).toBe(200);
    expect(next.body.results.length).toBeGreaterThan(0);
    expect((await api.simStats()).token.refresh_token - before.token.refresh_token).toBe(1);
    const stored = await item(id);
    expect(stored.status).toBe('active');
    expect(stored.refresh_outcome_unknown_at).toBeUndefined();
    expect(stored.lease_holder).toBeUndefined();

    // With rotation only the pair from that one refresh is valid: a later refresh proves it was kept.
    api.advance(3_700);
    expect((await accounts(id, sub)).status).toBe(200);
    expect((await view(id, sub)).status).toBe('active');
  });

  it("a read that cannot wait out another request's refresh answers 409 refresh_in_progress with Retry-After, and the holder carries on", async () => {
    const sub = 'slow-refresh-waiter';
    const id = await api.connect(sub);
    api.advance(3_700);
    const before = await api.simStats();
    await api.simFault({ path: '/connect/token', delay_ms: 4_000, times: 1 });

    const holder = accounts(id, sub);
    await sleep(200);
    const waiter = await accounts(id, sub);
    expectProblem(waiter, 409);
    expect(waiter.body.code).toBe('refresh_in_progress');
    expect(Number(waiter.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expectGatewayTimeout(await holder);

    const later = await eventually(
      () => accounts(id, sub),
      (response) => response.status === 200,
    );
    expect(later.status, later.text).toBe(200);
    expect((await api.simStats()).token.refresh_token - before.token.refresh_token).toBe(1);
  });

  it('a refresh TrueLayer never answers within the token deadline is recorded, and the stored token tried next: refused, the connection is refresh_lost', async () => {
    const sub = 'refresh-timeout';
    const id = await api.connect(sub);
    api.advance(3_700);
    const before = await api.simStats();
    // Past the token deadline: TrueLayer rotates the pair after we stopped listening.
    await api.simFault({ path: '/connect/token', delay_ms: tokenTimeoutMs + 1_000, times: 1 });

    expectGatewayTimeout(await accounts(id, sub));
    const marked = await eventually(
      () => item(id),
      (stored) => stored.refresh_outcome_unknown_at !== undefined,
    );
    expect(marked.refresh_outcome_unknown_at).toEqual(expect.any(String));
    expect(marked.status).toBe('active');
    expect(marked.lease_holder).toBeUndefined();
    // Wait for the simulator to have processed the delayed call (and rotated the pair).
    await sleep(1_500);

    const next = await accounts(id, sub);
    expectProblem(next, 409);
    expect(next.body).toMatchObject({ code: 'connection_inactive', status_reason: 'refresh_lost' });
    expect((await api.simStats()).token.refresh_token - before.token.refresh_token).toBe(2);
    expect(await view(id, sub)).toMatchObject({ status: 'inactive', status_reason: 'refresh_lost' });
  });

  it('a refresh reset after TrueLayer processed it is retried once with the stored token; refused, the connection is refresh_lost', async () => {
    const sub = 'refresh-reset';
    const id = await api.connect(sub);
    api.advance(3_700);
    const before = await api.simStats();
    await api.simFault({ path: '/connect/token', reset: true, times: 1 });

    const read = await accounts(id, sub);
    expectProblem(read, 409);
    expect(read.body).toMatchObject({ code: 'connection_inactive', status_reason: 'refresh_lost' });
    expect((await api.simStats()).token.refresh_token - before.token.refresh_token).toBe(2);
  });
});

describe('a slow code exchange', () => {
  it('delayed 35 s: the browser may get 503, but the tokens are stored and the connection is never lost', async () => {
    const sub = 'slow-exchange';
    const created = await api.createConnection(sub);
    const step = await api.authorize(created.auth_link);
    const before = await api.simStats();
    await api.simFault({ path: '/connect/token', delay_ms: 3_500, times: 1 });

    expectGatewayTimeout(await api.deliverCallback(step));
    const settled = await eventually(
      () => view(created.connection_id, sub),
      (connection) => connection.status !== 'authorization_required',
    );
    expect(['authorized', 'active']).toContain(settled.status);
    expect((await api.simStats()).token.authorization_code - before.token.authorization_code).toBe(1);
    const stored = await item(created.connection_id);
    expect(stored.tokens).toEqual(expect.any(String));
  });
});

describe('a slow extend', () => {
  it('delayed 35 s: the client may get 503, but the new pair and consent are stored and the connection stays active', async () => {
    const sub = 'slow-extend';
    const id = await api.connect(sub, { username: 'john', password: 'eternal' });
    api.advance(30 * 86_400);
    const consentBefore = (await view(id, sub)).consent_expires_at;
    const before = await api.simStats();
    await api.simFault({ path: '/data/v1/connections/extend', delay_ms: 3_500, times: 1 });

    const extended = await api.call('POST', `/connections/${id}/extend`, {
      sub,
      body: { user_has_reconfirmed_consent: true, user: { name: 'Jane Doe', email: 'jane@example.com' } },
    });
    expectGatewayTimeout(extended);
    const settled = await eventually(
      () => view(id, sub),
      (connection) => connection.consent_expires_at !== consentBefore,
    );
    expect(settled.status).toBe('active');
    expect(Date.parse(settled.consent_expires_at)).toBeGreaterThan(Date.parse(consentBefore));
    expect((await api.simStats()).extend - before.extend).toBe(1);

    // The pair the extend returned is the one stored: a later refresh with it works.
    api.advance(3_700);
    const read = await accounts(id, sub);
    expect(read.status, read.text).toBe(200);
    expect((await api.simStats()).token.refresh_token - before.token.refresh_token).toBe(1);
  });
});
