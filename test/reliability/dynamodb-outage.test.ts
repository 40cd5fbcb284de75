/**
 * DynamoDB unreachable or throttling: every route answers a 503 problem, nothing is half-written,
 * and the service picks up where it was once the store is back. The handlers reach the table
 * through a proxy the test can break (dynamo-proxy.ts); the test reads the table directly.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestApi } from '../support/flow';
import { DynamoProxy } from './dynamo-proxy';
import { expectProblem, psu, scanTable, tableClient } from './helpers';

let api: TestApi;
let proxy: DynamoProxy;
let doc: DynamoDBDocumentClient;
let activeId: string;

const extendBody = { user_has_reconfirmed_consent: true, user: { name: 'Alice Smith', email: 'alice@example.com' } };

const scan = () => scanTable(doc, api.stack.tableName);

beforeAll(async () => {
  proxy = new DynamoProxy();
  await proxy.listen();
  // The handlers' error logs are expected noise here.
  api = await TestApi.start({ env: { DYNAMODB_ENDPOINT: proxy.url, POWERTOOLS_LOG_LEVEL: 'SILENT' } });
  proxy.target = api.stack.dynamoEndpoint;
  doc = tableClient(api.stack);
  activeId = await api.connect('alice');
});
afterAll(async () => {
  await api.close();
  await proxy.closePort().catch(() => undefined);
});
afterEach(() => proxy.reset());

/** Every route, as a client (or the user's browser) would call it, with input that would otherwise succeed. */
const everyRoute = (callbackStep: Awaited<ReturnType<TestApi['authorize']>>) =>
  [
    ['POST /connections', () => api.call('POST', '/connections', { sub: 'alice', body: {} })],
    ['GET /connections', () => api.call('GET', '/connections', { sub: 'alice' })],
    ['GET /connections/{id}', () => api.call('GET', `/connections/${activeId}`, { sub: 'alice' })],
    ['GET /connections/{id}/accounts', () => api.call('GET', `/connections/${activeId}/accounts`, { sub: 'alice', headers: psu })],
    ['POST /connections/{id}/extend', () => api.call('POST', `/connections/${activeId}/extend`, { sub: 'alice', body: extendBody })],
    ['POST /connections/{id}/complete', () => api.complete('alice', activeId, 'D'.repeat(43))],
    ['DELETE /connections/{id}', () => api.call('DELETE', `/connections/${activeId}`, { sub: 'alice' })],
    ['GET /callback', () => api.deliverCallback(callbackStep)],
  ] as const;

describe('the store unreachable', () => {
  it('answers 503 service_unavailable with Retry-After on every route while the port is closed, writes nothing, and recovers', async () => {
    const pending = await api.createConnection('alice');
    const step = await api.authorize(pending.auth_link);
    const before = await scan();
    const simBefore = await api.simStats();

    await proxy.closePort();
    for (const [name, call] of everyRoute(step)) {
      const response = await call();
      expectProblem(response, 503);
      expect(response.body.code, name).toBe('service_unavailable');
      expect(response.headers.get('retry-after'), name).toMatch(/^\d+$/);
    }
    await proxy.listen();

    expect(await scan()).toEqual(before);
    // Nothing was spent at TrueLayer either: the code is still unexchanged, nothing revoked or extended.
    const simAfter = await api.simStats();
    expect(simAfter.token).toEqual(simBefore.token);
    expect(simAfter.delete).toBe(simBefore.delete);
    expect(simAfter.extend).toBe(simBefore.extend);
    // The state was not consumed, so the same callback completes once the store is back.
    const callback = await api.deliverCallback(step);
    expect(callback.status, callback.text).toBe(302);
    const completionCode = new URL(callback.headers.get('location')!).searchParams.get('completion_code')!;
    expect((await api.complete('alice', pending.connection_id, completionCode)).status).toBe(200);
    const data = await api.call('GET', `/connections/${pending.connection_id}/accounts`, { sub: 'alice', headers: psu });
    expect(data.status, data.text).toBe(200);
  });

  it('answers 503 when connections are dropped mid-request, and nothing changes', async () => {
    const before = await scan();
    proxy.reset(() => 'drop');
    const read = await api.call('GET', `/connections/${activeId}`, { sub: 'alice' });
    expectProblem(read, 503);
    const create = await api.call('POST', '/connections', { sub: 'alice', body: {} });
    expectProblem(create, 503);
    proxy.reset();
    expect(await scan()).toEqual(before);
  });
});

describe('the store throttling', () => {
  it("answers 503 service_unavailable once the SDK's retries are spent, and writes nothing", async () => {
    const before = await scan();
    proxy.reset(() => 'throttle');
    const read = await api.call('GET', `/connections/${activeId}`, { sub: 'alice' });
    expectProblem(read, 503);
    expect(read.body.code).toBe('service_unavailable');
    const create = await api.call('POST', '/connections', { sub: 'alice', body: {} });
    expectProblem(create, 503);
    proxy.reset();
    expect(await scan()).toEqual(before);
  });

  it('rides out a brief throttle: the retried call succeeds', async () => {
    proxy.reset((operation, index) => (operation === 'GetItem' && index < 1 ? 'throttle' : 'pass'));
    const read = await api.call('GET', `/connections/${activeId}`, { sub: 'alice' });
    expect(read.status, read.text).toBe(200);
    expect(proxy.calls.filter((call) => call.operation === 'GetItem').map((call) => call.action)).toEqual(['throttle', 'pass']);
  });
});

describe('the store failing between two writes of one request', () => {
  it('leaves no connection behind when its auth state cannot be stored', async () => {
    const before = (await api.call('GET', '/connections', { sub: 'dave' })).body.connections;
    expect(before).toEqual([]);
    // The first PutItem (whichever item it writes) passes; every attempt of the second fails.
    proxy.reset((operation, index) => (operation === 'PutItem' && index >= 1 ? 'drop' : 'pass'));
    const create = await api.call('POST', '/connections', { sub: 'dave', body: {} });
    expectProblem(create, 503);
    proxy.reset();
    // The client was told the create failed: it must not find a connection it never got a link for.
    const after = await api.call('GET', '/connections', { sub: 'dave' });
    expect(after.body.connections).toEqual([]);
  });

  it('keeps a callback whose token write fails from storing anything, and answers 503', async () => {
    const created = await api.createConnection('erin');
    const step = await api.authorize(created.auth_link);
    // State consumed (DeleteItem) and connection read, then the token write (UpdateItem) fails.
    proxy.reset((operation) => (operation === 'UpdateItem' ? 'drop' : 'pass'));
    const callback = await api.deliverCallback(step);
    expectProblem(callback, 503);
    proxy.reset();
    const view = await api.call('GET', `/connections/${created.connection_id}`, { sub: 'erin' });
    expect(view.body.status).toBe('authorization_required');
    const item = (await scan()).find((entry) => entry.pk === `conn#${created.connection_id}`);
    expect(item?.tokens).toBeUndefined();
    expect(item?.version).toBe(0);
  });

  it('keeps a freshly rotated pair when the store stumbles right after the refresh', async () => {
    const id = await api.connect('fiona');
    api.advance(3_700);
    const refreshesBefore = (await api.simStats()).token.refresh_token;
    // UpdateItem 0 takes the lease; the token write then meets four throttles in a row (more than
    // the SDK's own three attempts) before the store recovers.
    proxy.reset((operation, index) => (operation === 'UpdateItem' && index >= 1 && index <= 4 ? 'throttle' : 'pass'));
    const read = await api.call('GET', `/connections/${id}/accounts`, { sub: 'fiona', headers: { 'x-psu-ip': '203.0.113.7' } });
    expect(read.status, read.text).toBe(200);
    proxy.reset();
    expect((await api.simStats()).token.refresh_token).toBe(refreshesBefore + 1);
    // The stored pair is the newest: with rotation, the next refresh would fail otherwise.
    api.advance(3_700);
    const again = await api.call('GET', `/connections/${id}/accounts`, { sub: 'fiona', headers: { 'x-psu-ip': '203.0.113.7' } });
    expect(again.status, again.text).toBe(200);
    expect((await api.call('GET', `/connections/${id}`, { sub: 'fiona' })).body.status).toBe('active');
  });
});
