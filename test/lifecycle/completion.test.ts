/**
 * The owner's completion step, told through the lifecycle: every status change it makes goes through
 * the state machine and reaches apps as an event, the worker revokes a completion that lapsed, the
 * owner list shows the view's bookkeeping fields, and the /__local lifecycle controls are guarded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from '../local/helpers';
import { TestApi } from '../support/flow';

let api: TestApi;

beforeAll(async () => {
  api = await TestApi.start();
});
afterAll(async () => api.close());

const types = async (id: string) => (await api.events(id)).map((event) => event.type);

describe('completion', () => {
  it('emits nothing at the callback (authorized), then connection.activated once when the owner completes', async () => {
    const { connectionId, completionCode } = await api.connectAuthorized('ada', { complete: false });
    expect(await types(connectionId)).toEqual([]);
    expect((await api.complete('ada', connectionId, completionCode!)).status).toBe(200);
    const events = await api.events(connectionId);
    expect(events.map((event) => event.type)).toEqual(['connection.activated']);
    expect(events[0]!.data).toMatchObject({ status: 'active', consent_expires_at: expect.any(String) });
    // A code works once: the second try changes nothing and emits nothing.
    expect((await api.complete('ada', connectionId, completionCode!)).status).toBe(400);
    expect(await types(connectionId)).toEqual(['connection.activated']);
  });

  it('completed by someone else: revoked at TrueLayer (owner_mismatch), tokens erased, connection.revoked', async () => {
    const { connectionId, completionCode } = await api.connectAuthorized('bea', { complete: false });
    const before = (await api.simStats()).delete;
    expect((await api.complete('mallory', connectionId, completionCode!)).status).toBe(404);
    expect((await api.simStats()).delete - before).toBe(1);
    const events = await api.events(connectionId);
    expect(events.map((event) => event.type)).toEqual(['connection.revoked']);
    expect(events[0]!.data).toMatchObject({ status: 'inactive', status_reason: 'owner_mismatch' });
    const view = await api.call('GET', `/connections/${connectionId}`, { sub: 'bea' });
    expect(view.body).toMatchObject({ status: 'inactive', status_reason: 'owner_mismatch' });
  });

  it('the fifth wrong code: revoked (completion_failed) with connection.revoked', async () => {
    const { connectionId } = await api.connectAuthorized('cat', { complete: false });
    const wrong = 'A'.repeat(43);
    for (let i = 0; i < 4; i += 1) expect((await api.complete('cat', connectionId, wrong)).status).toBe(400);
    expect(await types(connectionId)).toEqual([]);
    const fifth = await api.complete('cat', connectionId, wrong);
    expect(fifth.body).toMatchObject({ code: 'invalid_completion_code', status_reason: 'completion_failed' });
    const events = await api.events(connectionId);
    expect(events.map((event) => event.type)).toEqual(['connection.revoked']);
    expect(events[0]!.data).toMatchObject({ status_reason: 'completion_failed' });
  });

  it('not completed in time: the worker revokes it at TrueLayer at its deadline (not_confirmed), untouched by any read', async () => {
    const { connectionId } = await api.connectAuthorized('dan', { complete: false });
    const before = (await api.simStats()).delete;
    await api.advanceClock(11 * 60);
    expect((await api.simStats()).delete - before).toBe(1);
    const events = await api.events(connectionId);
    expect(events.map((event) => event.type)).toEqual(['connection.revoked']);
    expect(events[0]!.data).toMatchObject({ status: 'inactive', status_reason: 'not_confirmed' });
    const view = await api.call('GET', `/connections/${connectionId}`, { sub: 'dan' });
    expect(view.body).toMatchObject({ status: 'inactive', status_reason: 'not_confirmed', next_action: { action: 'reconnect' } });
  });
});

describe('the owner list', () => {
  it("shows the view's bookkeeping, projected by the owner index: last refresh, last fetch, and what to do next", async () => {
    const id = await api.connect('eve');
    expect((await api.call('GET', `/connections/${id}/accounts`, { sub: 'eve' })).status).toBe(200);
    const list = await api.call<{ connections: Record<string, unknown>[] }>('GET', '/connections', { sub: 'eve' });
    const row = list.body.connections.find((connection) => connection.connection_id === id);
    expect(row).toMatchObject({ status: 'active', last_refreshed_at: expect.any(String), last_fetched_at: expect.any(String) });
    const single = await api.call('GET', `/connections/${id}`, { sub: 'eve' });
    expect(row).toEqual(single.body);
  });
});

describe('the /__local lifecycle controls', () => {
  it('answer only requests addressed to this machine', async () => {
    for (const path of ['/__local/events', '/__local/webhook']) {
      const response = await rawRequest(`${api.stack.apiUrl}${path}`, { headers: [['host', 'attacker.example']] });
      expect(response.status, path).toBe(403);
    }
  });

  it('take POST bodies as JSON only', async () => {
    const response = await rawRequest(`${api.stack.apiUrl}/__local/webhook/fail`, {
      method: 'POST',
      headers: [['content-type', 'text/plain']],
      body: '{"times": 1}',
    });
    expect(response.status).toBe(415);
  });
});
