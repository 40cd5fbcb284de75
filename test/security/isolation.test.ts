/**
 * One user cannot see or touch another's connection: on every route that takes an id, another
 * user's id answers exactly what an unknown id answers (404), and nothing changes, here or at
 * TrueLayer.
 */

import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, psu, scanTable, tableClient } from '../reliability/helpers';
import type { ApiResponse } from '../support/flow';
import { TestApi } from '../support/flow';

let api: TestApi;
let doc: DynamoDBDocumentClient;
let activeId: string;
let pendingId: string;
let accountId: string;
let cardId: string;

beforeAll(async () => {
  api = await TestApi.start();
  doc = tableClient(api.stack);
  activeId = await api.connect('alice');
  pendingId = (await api.createConnection('alice')).connection_id;
  accountId = (await api.call('GET', `/connections/${activeId}/accounts`, { sub: 'alice', headers: psu })).body.results[0].account_id;
  cardId = (await api.call('GET', `/connections/${activeId}/cards`, { sub: 'alice', headers: psu })).body.results[0].account_id;
  // A connection of the intruder's own, so their calls reach real rows too.
  await api.connect('mallory');
});
afterAll(async () => api.close());

const extendBody = { user_has_reconfirmed_consent: true, user: { name: 'Mallory', email: 'mallory@example.com' } };

const dataPaths = () => [
  'me',
  'info',
  'accounts',
  `accounts/${accountId}`,
  `accounts/${accountId}/balance`,
  `accounts/${accountId}/transactions`,
  `accounts/${accountId}/transactions?from=2026-01-01&to=2026-03-31`,
  `accounts/${accountId}/transactions/pending`,
  `accounts/${accountId}/standing_orders`,
  `accounts/${accountId}/direct_debits`,
  'cards',
  `cards/${cardId}`,
  `cards/${cardId}/balance`,
  `cards/${cardId}/transactions`,
  `cards/${cardId}/transactions/pending`,
];

/** Each route that takes an id, as a call on a given id. */
const routesFor = (): [string, (id: string) => Promise<ApiResponse>][] => [
  ['GET /connections/{id}', (id) => api.call('GET', `/connections/${id}`, { sub: 'mallory' })],
  ['POST /connections/{id}/extend', (id) => api.call('POST', `/connections/${id}/extend`, { sub: 'mallory', body: extendBody })],
  ['DELETE /connections/{id}', (id) => api.call('DELETE', `/connections/${id}`, { sub: 'mallory' })],
  ...dataPaths().map((path): [string, (id: string) => Promise<ApiResponse>] => [
    `GET /connections/{id}/${path}`,
    (id) => api.call('GET', `/connections/${id}/${path}`, { sub: 'mallory', headers: psu }),
  ]),
];

const visible = (response: ApiResponse) => ({
  status: response.status,
  body: response.body,
  contentType: response.headers.get('content-type'),
  retryAfter: response.headers.get('retry-after'),
});

describe("another user's connection", () => {
  it.each([
    ['active', () => activeId],
    ['awaiting authorization', () => pendingId],
  ])('answers like an unknown id on every route when it is %s, and nothing changes', async (_state, id) => {
    const tableBefore = await scanTable(doc, api.stack.tableName);
    const simBefore = await api.simStats();

    for (const [route, call] of routesFor()) {
      const foreign = await call(id());
      const unknown = await call(randomUUID());
      expectProblem(foreign, 404);
      expect(visible(foreign), route).toEqual(visible(unknown));
    }

    expect(await scanTable(doc, api.stack.tableName)).toEqual(tableBefore);
    expect(await api.simStats()).toEqual(simBefore);
    const own = await api.call('GET', `/connections/${activeId}`, { sub: 'alice' });
    expect(own.body.status).toBe('active');
  });

  it("never appears in another user's list", async () => {
    const list = await api.call('GET', '/connections', { sub: 'mallory' });
    expect(list.status).toBe(200);
    const ids = list.body.connections.map((c: { connection_id: string }) => c.connection_id);
    expect(ids).toHaveLength(1);
    expect(ids).not.toContain(activeId);
    expect(ids).not.toContain(pendingId);
    const mine = await api.call('GET', '/connections', { sub: 'alice' });
    expect(mine.body.connections.map((c: { connection_id: string }) => c.connection_id).sort()).toEqual([activeId, pendingId].sort());
  });

  it('tells apart users whose ids differ only in case or by a look-alike character', async () => {
    for (const sub of ['Alice', 'alice ', 'аlice' /* Cyrillic а */]) {
      const response = await api.call('GET', `/connections/${activeId}`, { sub });
      expectProblem(response, 404);
    }
  });
});
