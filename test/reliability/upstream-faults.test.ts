/**
 * TrueLayer misbehaving, through the simulator's fault control: a fifth of data and token calls
 * answer 503, 504 or hang past TRUELAYER_TIMEOUT_MS. Clients must see either the data or a clear
 * problem, and no connection may lose its tokens to the noise.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ApiResponse } from '../support/flow';
import { TestApi } from '../support/flow';
import { connectionItem, expectProblem, psu, tableClient } from './helpers';

const timeoutMs = 500;
let api: TestApi;
let doc: DynamoDBDocumentClient;
const connections: { id: string; accountId: string; cardId: string }[] = [];

beforeAll(async () => {
  // The handlers' error logs are expected noise here.
  api = await TestApi.start({ env: { TRUELAYER_TIMEOUT_MS: String(timeoutMs), POWERTOOLS_LOG_LEVEL: 'SILENT' } });
  doc = tableClient(api.stack);
  for (let index = 0; index < 3; index += 1) {
    // Three different bank logins: one login twice would be a duplicate, and the newer would supersede the older.
    const id = await api.connect('alice', { username: `john${index + 1}`, password: `doe${index + 1}` });
    const accounts = await api.call('GET', `/connections/${id}/accounts`, { sub: 'alice', headers: psu });
    const cards = await api.call('GET', `/connections/${id}/cards`, { sub: 'alice', headers: psu });
    connections.push({ id, accountId: accounts.body.results[0].account_id, cardId: cards.body.results[0].account_id });
  }
});
afterAll(async () => api.close());
beforeEach(async () => api.simReset());

interface FaultReport {
  path: string;
  status?: number;
  delay_ms?: number;
  fired: number;
}

const firedFaults = async (): Promise<FaultReport[]> =>
  ((await (await fetch(`${api.stack.simUrl}/__sim/faults`)).json()) as { faults: FaultReport[] }).faults;

/**
 * Three faults per path, each at a rate of 7.5%: together about a fifth of the calls. Faults apply
 * in order and fire deterministically from the first matching call (local/sim/controls.ts), so the
 * first client call meets a 503, then a 504, then a hang on its three attempts.
 */
const installFaults = async () => {
  const rate = 0.075;
  const hang = timeoutMs + 400;
  for (const path of ['/data/v1/*', '/connect/token']) {
    await api.simFault({ path, status: 503, rate });
    await api.simFault({ path, status: 504, rate });
    // A token call that hangs must not have been acted on (a status after the delay answers before
    // any processing); a data call that hangs is answered normally, too late.
    await api.simFault(path === '/connect/token' ? { path, delay_ms: hang, status: 504, rate } : { path, delay_ms: hang, rate });
  }
};

const dataPaths = (c: (typeof connections)[number]) => [
  'accounts',
  `accounts/${c.accountId}/balance`,
  `accounts/${c.accountId}/transactions`,
  'cards',
  `cards/${c.cardId}/balance`,
  'info',
];

const expectDataOrClearProblem = (response: ApiResponse, path: string) => {
  if (response.status === 200) {
    expect(response.body, path).toMatchObject({ status: 'Succeeded', results: expect.any(Array) });
    return;
  }
  expect([502, 503, 504], `${path}: ${response.text}`).toContain(response.status);
  expectProblem(response);
  expect(['upstream_unavailable', 'upstream_timeout', 'upstream_error'], response.text).toContain(response.body.code);
};

describe('a fifth of TrueLayer calls failing or hanging', () => {
  it('gives every client call its data or a clear 502/503/504 problem, and leaves every connection intact', async () => {
    await installFaults();
    const statuses: number[] = [];
    for (let round = 0; round < 6; round += 1) {
      // Every access token expires each round, so refreshes meet the faults too.
      api.advance(3700);
      const calls = connections.flatMap((c) =>
        dataPaths(c)
          .slice(round % 2 === 0 ? 0 : 3, round % 2 === 0 ? 3 : 6)
          .map((path) => ({ c, path })),
      );
      const responses = await Promise.all(
        calls.map(({ c, path }) => api.call('GET', `/connections/${c.id}/${path}`, { sub: 'alice', headers: psu })),
      );
      for (const [index, response] of responses.entries()) expectDataOrClearProblem(response, calls[index]!.path);
      statuses.push(...responses.map((response) => response.status));
    }

    // The noise really was there, on both kinds of call, and most calls still got their data.
    const fired = await firedFaults();
    expect(fired.filter((f) => f.path === '/data/v1/*').every((f) => f.fired > 0)).toBe(true);
    expect(fired.filter((f) => f.path === '/connect/token').reduce((sum, f) => sum + f.fired, 0)).toBeGreaterThan(0);
    expect(statuses.some((status) => status !== 200)).toBe(true);
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThan(statuses.length / 2);

    await fetch(`${api.stack.simUrl}/__sim/faults`, { method: 'DELETE' });
    for (const c of connections) {
      const view = await api.call('GET', `/connections/${c.id}`, { sub: 'alice' });
      expect(view.body.status, view.text).toBe('active');
      const item = await connectionItem(doc, api.stack.tableName, c.id);
      expect(item.lease_holder).toBeUndefined();
      expect(typeof item.tokens).toBe('string');
      const data = await api.call('GET', `/connections/${c.id}/accounts`, { sub: 'alice', headers: psu });
      expect(data.status, data.text).toBe(200);
    }
    // And the stored refresh tokens are still the live ones.
    api.advance(3700);
    for (const c of connections) {
      const data = await api.call('GET', `/connections/${c.id}/info`, { sub: 'alice', headers: psu });
      expect(data.status, data.text).toBe(200);
    }
  });

  it('retries a data GET that meets one 503 and answers the data', async () => {
    const c = connections[0]!;
    await api.simFault({ path: '/data/v1/accounts', status: 503, times: 1 });
    const response = await api.call('GET', `/connections/${c.id}/accounts`, { sub: 'alice', headers: psu });
    expect(response.status, response.text).toBe(200);
    expect((await api.simStats()).data['/data/v1/accounts']).toBe(2);
  });

  it('answers 504 upstream_timeout when every attempt hangs past the timeout', async () => {
    const c = connections[0]!;
    await api.simFault({ path: '/data/v1/info', delay_ms: timeoutMs + 300 });
    const response = await api.call('GET', `/connections/${c.id}/info`, { sub: 'alice', headers: psu });
    expectProblem(response, 504);
    expect(response.body.code).toBe('upstream_timeout');
    await fetch(`${api.stack.simUrl}/__sim/faults`, { method: 'DELETE' });
    expect((await api.call('GET', `/connections/${c.id}/info`, { sub: 'alice', headers: psu })).status).toBe(200);
  });

  it('waits out a refresh slower than the data timeout, so a rotation TrueLayer completes is never lost', async () => {
    const id = await api.connect('slow-refresh');
    api.advance(3_700);
    // Past the 500 ms data timeout, well inside the token timeout (TRUELAYER_TOKEN_TIMEOUT_MS, 50 s).
    await api.simFault({ path: '/connect/token', delay_ms: 900, times: 1 });
    const read = await api.call('GET', `/connections/${id}/me`, { sub: 'slow-refresh', headers: psu });
    expect(read.status, read.text).toBe(200);
    api.advance(3_700);
    const again = await api.call('GET', `/connections/${id}/me`, { sub: 'slow-refresh', headers: psu });
    expect(again.status, again.text).toBe(200);
  });

  it('maps a refresh that TrueLayer answers 503 to 503 and keeps the tokens for the next try', async () => {
    const c = connections[1]!;
    api.advance(3700);
    await api.simFault({ path: '/connect/token', status: 503 });
    const before = await connectionItem(doc, api.stack.tableName, c.id);
    const response = await api.call('GET', `/connections/${c.id}/accounts`, { sub: 'alice', headers: psu });
    expectProblem(response, 503);
    expect(response.body.code).toBe('upstream_unavailable');
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    const after = await connectionItem(doc, api.stack.tableName, c.id);
    expect(after.tokens).toBe(before.tokens);
    expect(after.lease_holder).toBeUndefined();
    await fetch(`${api.stack.simUrl}/__sim/faults`, { method: 'DELETE' });
    expect((await api.call('GET', `/connections/${c.id}/accounts`, { sub: 'alice', headers: psu })).status).toBe(200);
  });

  it("turns TrueLayer's 429 into 429 upstream_rate_limited with Retry-After, without retrying", async () => {
    const c = connections[2]!;
    await api.simFault({ path: '/data/v1/accounts', status: 429, times: 1 });
    const response = await api.call('GET', `/connections/${c.id}/accounts`, { sub: 'alice', headers: psu });
    expectProblem(response, 429);
    expect(response.body.code).toBe('upstream_rate_limited');
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await api.simStats()).data['/data/v1/accounts']).toBe(1);
    expect((await api.call('GET', `/connections/${c.id}`, { sub: 'alice' })).body.status).toBe('active');
  });
});
