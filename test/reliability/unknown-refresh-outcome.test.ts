/**
 * With refresh tokens that do not rotate (TrueLayer's stable mode), a refresh sent but never answered
 * costs nothing: the stored refresh token is tried again and the connection carries on. Also the
 * refresh ahead of expiry, which a read runs alongside its data call.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApi } from '../support/flow';
import { connectionItem, psu, sleep, tableClient } from './helpers';

const tokenTimeoutMs = 2_000;

let api: TestApi;
let doc: DynamoDBDocumentClient;

beforeAll(async () => {
  api = await TestApi.start({
    rotateRefreshTokens: false,
    gatewayTimeoutMs: 1_500,
    env: { TRUELAYER_TOKEN_TIMEOUT_MS: String(tokenTimeoutMs), TOKEN_REFRESH_AHEAD_MS: '300000' },
  });
  doc = tableClient(api.stack);
});
afterAll(async () => api.close());

const item = (id: string) => connectionItem(doc, api.stack.tableName, id);
const accounts = (id: string, sub: string) => api.call('GET', `/connections/${id}/accounts`, { sub, headers: psu });

describe('a refresh whose outcome is unknown, refresh tokens not rotating', () => {
  it('reset after sending: the stored token is retried once at once, and the read succeeds', async () => {
    const sub = 'stable-reset';
    const id = await api.connect(sub);
    api.advance(3_700);
    const before = await api.simStats();
    await api.simFault({ path: '/connect/token', reset: true, times: 1 });

    const read = await accounts(id, sub);
    expect(read.status, read.text).toBe(200);
    expect((await api.simStats()).token.refresh_token - before.token.refresh_token).toBe(2);
    const stored = await item(id);
    expect(stored).toMatchObject({ status: 'active', refresh_count: 1 });
    expect(stored.refresh_outcome_unknown_at).toBeUndefined();
  });

  it('reset twice: the item records the unknown outcome, and the next read settles it with the stored token', async () => {
    const sub = 'stable-reset-twice';
    const id = await api.connect(sub);
    api.advance(3_700);
    const before = await api.simStats();
    await api.simFault({ path: '/connect/token', reset: true, times: 2 });

    const first = await accounts(id, sub);
    expect(first.status).toBe(503);
    expect(first.body.code).toBe('upstream_unavailable');
    const marked = await item(id);
    expect(marked.refresh_outcome_unknown_at).toEqual(expect.any(String));
    expect(marked.status).toBe('active');

    const next = await accounts(id, sub);
    expect(next.status, next.text).toBe(200);
    expect((await api.simStats()).token.refresh_token - before.token.refresh_token).toBe(3);
    expect((await item(id)).refresh_outcome_unknown_at).toBeUndefined();
  });

  it('timed out: the next read retries the stored token and the connection stays active', async () => {
    const sub = 'stable-timeout';
    const id = await api.connect(sub);
    api.advance(3_700);
    await api.simFault({ path: '/connect/token', delay_ms: tokenTimeoutMs + 500, times: 1 });

    expect((await accounts(id, sub)).status).toBe(503);
    for (let i = 0; i < 50 && (await item(id)).refresh_outcome_unknown_at === undefined; i += 1) await sleep(100);
    expect((await item(id)).refresh_outcome_unknown_at).toEqual(expect.any(String));

    const next = await accounts(id, sub);
    expect(next.status, next.text).toBe(200);
    expect(await item(id)).toMatchObject({ status: 'active', refresh_count: 1 });
  });
});

describe('refresh ahead of expiry', () => {
  it('a read finding the token within five minutes of expiry refreshes it alongside the data call', async () => {
    const sub = 'ahead';
    const id = await api.connect(sub);
    const issued = await item(id);
    api.advance(3_600 - 180);
    const before = await api.simStats();

    const read = await accounts(id, sub);
    expect(read.status, read.text).toBe(200);
    const after = await api.simStats();
    expect(after.token.refresh_token - before.token.refresh_token).toBe(1);
    expect((after.data['/data/v1/accounts'] ?? 0) - (before.data['/data/v1/accounts'] ?? 0)).toBe(1);
    const refreshed = await item(id);
    expect(refreshed.refresh_count).toBe(1);
    expect(refreshed.access_token_expires_at as number).toBeGreaterThan((issued.access_token_expires_at as number) + 3_000_000);
    expect(refreshed.lease_holder).toBeUndefined();

    // The token it stored is the newest: the next read uses it without refreshing.
    const next = await accounts(id, sub);
    expect(next.status).toBe(200);
    expect((await api.simStats()).token.refresh_token - before.token.refresh_token).toBe(1);
  });

  it('a read with the token further from expiry refreshes nothing', async () => {
    const sub = 'not-yet';
    const id = await api.connect(sub);
    api.advance(3_600 - 600);
    const before = await api.simStats();
    expect((await accounts(id, sub)).status).toBe(200);
    expect((await api.simStats()).token.refresh_token).toBe(before.token.refresh_token);
  });
});
