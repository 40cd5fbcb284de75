/**
 * Races around one connection's tokens (exactly one refresh under a lease): many requests finding the token expired at once,
 * a lease holder that dies mid-refresh, and one callback delivered twice at the same moment.
 */

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApi } from '../support/flow';
import { connectionItem, expectProblem, psu, scanTable, sleep, tableClient } from './helpers';

let api: TestApi;
let doc: DynamoDBDocumentClient;

beforeAll(async () => {
  // Rotation on (the default): a second upstream refresh would revoke the first one's token.
  api = await TestApi.start({ rotateRefreshTokens: true });
  doc = tableClient(api.stack);
});
afterAll(async () => api.close());

const item = (id: string) => connectionItem(doc, api.stack.tableName, id);
const accounts = (id: string, sub: string) => api.call('GET', `/connections/${id}/accounts`, { sub, headers: psu });

describe('expired token, many requests at once', () => {
  it('serves all 50 with exactly one upstream refresh and stores the newest pair', async () => {
    const id = await api.connect('alice');
    const stored = await item(id);
    api.advance(3700);
    const before = await api.simStats();

    const responses = await Promise.all(Array.from({ length: 50 }, () => accounts(id, 'alice')));

    expect(responses.map((response) => response.status)).toEqual(Array(50).fill(200));
    for (const response of responses) expect(response.body.results.length).toBeGreaterThan(0);
    const after = await api.simStats();
    expect(after.token.refresh_token - before.token.refresh_token).toBe(1);
    const refreshed = await item(id);
    expect(refreshed.refresh_count).toBe(1);
    expect(refreshed.tokens).not.toBe(stored.tokens);
    expect(refreshed.lease_holder).toBeUndefined();

    // With rotation only the pair from that one refresh is valid: a later refresh proves it was kept.
    api.advance(3700);
    const later = await accounts(id, 'alice');
    expect(later.status, later.text).toBe(200);
    expect((await api.simStats()).token.refresh_token - before.token.refresh_token).toBe(2);
    expect((await api.call('GET', `/connections/${id}`, { sub: 'alice' })).body.status).toBe('active');
  });
});

describe('a lease holder that dies mid-refresh', () => {
  it('holds others off until its lease expires, then the next request refreshes and nothing is lost', async () => {
    const id = await api.connect('bob');
    api.advance(3700);
    const crashed = await item(id);
    // A Lambda that took the lease and was killed before it refreshed: its lease lives on.
    await doc.send(
      new UpdateCommand({
        TableName: api.stack.tableName,
        Key: { pk: `conn#${id}` },
        UpdateExpression: 'SET lease_holder = :h, lease_expires_at = :until',
        ConditionExpression: 'version = :v',
        ExpressionAttributeValues: { ':h': 'crashed-lambda', ':until': api.stack.clock.now() + 20_000, ':v': crashed.version },
      }),
    );
    const before = await api.simStats();

    let settled = false;
    const pending = accounts(id, 'bob').finally(() => {
      settled = true;
    });
    // While the dead holder's lease is live nobody else may refresh (rotation would fork the tokens).
    await sleep(400);
    expect(settled).toBe(false);
    expect((await api.simStats()).token.refresh_token).toBe(before.token.refresh_token);

    api.advance(21);
    const response = await pending;

    expect(response.status, response.text).toBe(200);
    expect((await api.simStats()).token.refresh_token - before.token.refresh_token).toBe(1);
    const after = await item(id);
    expect(after.lease_holder).toBeUndefined();
    expect(after.tokens).not.toBe(crashed.tokens);
    expect(after.version).toBe(Number(crashed.version) + 1);

    api.advance(3700);
    const later = await accounts(id, 'bob');
    expect(later.status, later.text).toBe(200);
    expect((await api.simStats()).token.refresh_token - before.token.refresh_token).toBe(2);
  });
});

describe('one callback delivered twice at once', () => {
  it('lets one win, refuses the other with invalid_state, and exchanges the code once', async () => {
    const created = await api.createConnection('carol');
    const step = await api.authorize(created.auth_link);
    const before = await api.simStats();

    const responses = await Promise.all([api.deliverCallback(step), api.deliverCallback(step)]);

    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([302, 400]);
    const refused = responses.find((response) => response.status === 400);
    expectProblem(refused!, 400);
    expect(refused!.body.code).toBe('invalid_state');
    expect((await api.simStats()).token.authorization_code - before.token.authorization_code).toBe(1);

    const stored = await item(created.connection_id);
    expect(stored.status).toBe('authorized');
    expect(typeof stored.tokens).toBe('string');
    // One token write on top of the created item.
    expect(stored.version).toBe(1);
    const winner = responses.find((response) => response.status === 302)!;
    const completionCode = new URL(winner.headers.get('location')!).searchParams.get('completion_code')!;
    expect((await api.complete('carol', created.connection_id, completionCode)).status).toBe(200);
    const states = (await scanTable(doc, api.stack.tableName)).filter(
      (entry) => entry.kind === 'state' && entry.connection_id === created.connection_id,
    );
    expect(states).toEqual([]);
    const data = await accounts(created.connection_id, 'carol');
    expect(data.status, data.text).toBe(200);
  });
});
