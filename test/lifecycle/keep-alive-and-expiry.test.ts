/**
 * A connection nobody reads, through its whole 90-day consent, on the local stack: the worker the
 * clock runs at every due time keeps its refresh token alive, warns 14, 7 and 1 day(s) before the
 * end, and ends it at consent_expires_at. Real HTTP to the API and the simulator throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApi } from '../support/flow';

const day = 86_400;
const psu = { 'x-psu-ip': '203.0.113.7' };
let api: TestApi;

beforeAll(async () => {
  api = await TestApi.start();
});
afterAll(async () => api.close());

describe('a connection left idle', () => {
  let id: string;
  let consentExpiresAt: string;

  it('is refreshed by the worker at 25 days, so it still reads data after 31 days untouched', async () => {
    id = await api.connect('idle');
    consentExpiresAt = (await api.call('GET', `/connections/${id}`, { sub: 'idle' })).body.consent_expires_at;
    await api.simReset();
    await api.advanceClock(31 * day);
    // The simulator refuses a refresh token unused for 30 days: only the keep-alive saved this one.
    expect((await api.simStats()).token.refresh_token).toBe(1);
    const view = await api.call('GET', `/connections/${id}`, { sub: 'idle' });
    expect(view.body).toMatchObject({ status: 'active' });
    expect(Date.parse(view.body.last_refreshed_at)).toBeLessThan(api.stack.clock.now() - 5 * day * 1000);
    const accounts = await api.call('GET', `/connections/${id}/accounts`, { sub: 'idle', headers: psu });
    expect(accounts.status).toBe(200);
    expect(accounts.body.results.length).toBeGreaterThan(0);
  });

  it('still reads data at day 89, after more keep-alives', async () => {
    await api.simReset();
    await api.advanceClock(58 * day);
    // The read at day 31 refreshed (its access token had expired); keep-alives followed at 56 and 81.
    expect((await api.simStats()).token.refresh_token).toBe(2);
    const accounts = await api.call('GET', `/connections/${id}/accounts`, { sub: 'idle', headers: psu });
    expect(accounts.status).toBe(200);
    const view = await api.call('GET', `/connections/${id}`, { sub: 'idle' });
    expect(view.body.next_action).toEqual({ action: 'reconfirm_consent', by: consentExpiresAt });
    expect(view.body.last_fetched_at).toBeDefined();
  });

  it('was warned 14, 7 and 1 day(s) before the end, once each, at those times', async () => {
    const expiring = (await api.events(id)).filter((event) => event.type === 'connection.expiring');
    expect(expiring.map((event) => event.data.days_left)).toEqual([14, 7, 1]);
    for (const event of expiring) {
      const expected = Date.parse(consentExpiresAt) - (event.data.days_left ?? 0) * day * 1000;
      expect(Math.abs(Date.parse(event.occurred_at) - expected)).toBeLessThan(60_000);
      expect(event).toMatchObject({ connection_id: id, owner: 'idle', data: { status: 'active', consent_expires_at: consentExpiresAt } });
    }
  });

  it('ends at consent_expires_at: inactive (consent_expired), connection.expired once, and asks for a reconnect', async () => {
    await api.advanceClock(2 * day);
    const events = await api.events(id);
    const expired = events.filter((event) => event.type === 'connection.expired');
    expect(expired).toHaveLength(1);
    expect(Math.abs(Date.parse(expired[0]!.occurred_at) - Date.parse(consentExpiresAt))).toBeLessThan(60_000);
    expect(expired[0]!.data).toEqual({ status: 'inactive', status_reason: 'consent_expired', consent_expires_at: consentExpiresAt });
    expect(events.filter((event) => event.type === 'connection.expiring')).toHaveLength(3);
    const view = await api.call('GET', `/connections/${id}`, { sub: 'idle' });
    expect(view.body).toMatchObject({ status: 'inactive', status_reason: 'consent_expired', next_action: { action: 'reconnect' } });
    // Nothing more is due for it: another month passes with no further event.
    await api.advanceClock(30 * day);
    expect(await api.events(id)).toHaveLength(events.length);
  });

  it('never puts a token in an event', async () => {
    expect(JSON.stringify(await api.events())).not.toMatch(/eyJ|refresh_token|access_token/);
  });
});

describe('an auth link nobody used', () => {
  it('lapses to inactive (authorization_expired) when the worker passes its expiry, with no event', async () => {
    const created = await api.createConnection('hesitant');
    await api.advanceClock(11 * 60);
    const view = await api.call('GET', `/connections/${created.connection_id}`, { sub: 'hesitant' });
    expect(view.body).toMatchObject({ status: 'inactive', status_reason: 'authorization_expired', next_action: { action: 'reconnect' } });
    expect(await api.events(created.connection_id)).toEqual([]);
  });
});
