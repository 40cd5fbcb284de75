/** Listing, reading, extending and revoking connections, through the local stack. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApi } from '../support/flow';

let api: TestApi;
const psu = { 'x-psu-ip': '203.0.113.7' };
const user = { name: 'Jane Doe', email: 'jane@example.com' };
const extendBody = { user_has_reconfirmed_consent: true, user };

beforeAll(async () => {
  api = await TestApi.start();
});
afterAll(async () => api.close());

describe('listing and reading', () => {
  it("lists only the caller's connections, newest first", async () => {
    const first = await api.connect('lister');
    const second = (await api.createConnection('lister')).connection_id;
    await api.connect('someone-else');
    const list = await api.call('GET', '/connections', { sub: 'lister' });
    expect(list.status).toBe(200);
    expect(list.body.connections.map((c: { connection_id: string }) => c.connection_id)).toEqual([second, first]);
    expect(list.body.connections.map((c: { status: string }) => c.status)).toEqual(['authorization_required', 'active']);
    expect(JSON.stringify(list.body)).not.toMatch(/token|eyJ/);
  });

  it('answers 404 for an unknown id and for an id that is not an id', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'nope', 'x'.repeat(300)]) {
      const response = await api.call('GET', `/connections/${id}`, { sub: 'lister' });
      expect(response.status).toBe(404);
      expect(response.body.code).toBe('not_found');
    }
  });
});

describe('another user', () => {
  it('gets 404 on every route, exactly like an unknown id, and changes nothing', async () => {
    const id = await api.connect('owner');
    const accounts = await api.call('GET', `/connections/${id}/accounts`, { sub: 'owner', headers: psu });
    const aid = accounts.body.results[0].account_id;
    const unknown = await api.call('GET', '/connections/00000000-0000-4000-8000-000000000000', { sub: 'intruder' });
    const before = await api.call('GET', `/connections/${id}`, { sub: 'owner' });
    const stats = await api.simStats();
    const attempts: Array<[string, string, unknown?]> = [
      ['GET', `/connections/${id}`],
      ['DELETE', `/connections/${id}`],
      ['POST', `/connections/${id}/extend`, extendBody],
      ['GET', `/connections/${id}/accounts`],
      ['GET', `/connections/${id}/accounts/${aid}/balance`],
      ['GET', `/connections/${id}/accounts/${aid}/transactions`],
      ['GET', `/connections/${id}/me`],
      ['GET', `/connections/${id}/cards`],
    ];
    for (const [method, path, body] of attempts) {
      const response = await api.call(method, path, { sub: 'intruder', body, headers: psu });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.body, `${method} ${path}`).toEqual(unknown.body);
    }
    expect((await api.call('GET', '/connections', { sub: 'intruder' })).body.connections).toEqual([]);
    expect(await api.call('GET', `/connections/${id}`, { sub: 'owner' })).toMatchObject({ body: before.body });
    const after = await api.simStats();
    expect(after.extend).toBe(stats.extend);
    expect(after.delete).toBe(stats.delete);
    expect(after.data).toEqual(stats.data);
  });
});

describe('extend', () => {
  it('extends a john/eternal connection at once: new tokens and a new 90-day consent', async () => {
    const id = await api.connect('eternal', { username: 'john', password: 'eternal' });
    api.advance(30 * 86_400);
    const before = (await api.call('GET', `/connections/${id}`, { sub: 'eternal' })).body.consent_expires_at;
    const extended = await api.call('POST', `/connections/${id}/extend`, { sub: 'eternal', body: extendBody });
    expect(extended.status).toBe(200);
    expect(extended.body.status).toBe('active');
    expect(Date.parse(extended.body.consent_expires_at)).toBeGreaterThan(Date.parse(before));
    expect((await api.call('GET', `/connections/${id}/accounts`, { sub: 'eternal', headers: psu })).status).toBe(200);
  });

  it('sends other users through the bank again; the callback that follows updates the same connection', async () => {
    const id = await api.connect('reauth', { body: { return_url: `${api.stack.apiUrl}/done` } });
    api.advance(60 * 86_400);
    const extended = await api.call('POST', `/connections/${id}/extend`, { sub: 'reauth', body: extendBody });
    expect(extended.status).toBe(200);
    expect(extended.body).toEqual({ action_needed: 'authentication_needed', user_input_link: expect.stringContaining(api.stack.simUrl) });
    const callback = await api.deliverCallback(await api.authorize(extended.body.user_input_link));
    expect(callback.status).toBe(302);
    expect(Object.fromEntries(new URL(callback.headers.get('location')!).searchParams)).toEqual({ connection_id: id, status: 'active' });
    const connection = await api.call('GET', `/connections/${id}`, { sub: 'reauth' });
    expect(Date.parse(connection.body.consent_expires_at) - api.stack.clock.now()).toBeGreaterThan(89 * 86_400_000);
    expect((await api.call('GET', '/connections', { sub: 'reauth' })).body.connections).toHaveLength(1);
  });

  it('extends a connection whose consent already expired', async () => {
    const id = await api.connect('late', { username: 'john', password: 'eternal' });
    api.advance(91 * 86_400);
    expect((await api.call('GET', `/connections/${id}`, { sub: 'late' })).body.status).toBe('inactive');
    const extended = await api.call('POST', `/connections/${id}/extend`, { sub: 'late', body: extendBody });
    expect(extended.status).toBe(200);
    expect((await api.call('GET', `/connections/${id}`, { sub: 'late' })).body.status).toBe('active');
  });

  it.each([
    ['no reconfirmation', { user }, /user_has_reconfirmed_consent/],
    ['reconfirmation false', { user_has_reconfirmed_consent: false, user }, /user_has_reconfirmed_consent/],
    ['no email or phone', { user_has_reconfirmed_consent: true, user: { name: 'Jane' } }, /email or a phone/],
    ['a bad email', { user_has_reconfirmed_consent: true, user: { name: 'Jane', email: 'nope' } }, /email/],
    ['an unknown field', { ...extendBody, extra: 1 }, /extra/],
  ])('refuses %s with 400, calling nothing upstream', async (_name, body, detail) => {
    const id = await api.connect('validator');
    const stats = await api.simStats();
    const response = await api.call('POST', `/connections/${id}/extend`, { sub: 'validator', body });
    expect(response.status).toBe(400);
    expect(response.body.detail).toMatch(detail);
    expect((await api.simStats()).extend).toBe(stats.extend);
  });
});

describe('delete', () => {
  it('revokes at TrueLayer, erases the tokens, reads inactive (revoked); data then answers 409', async () => {
    const id = await api.connect('deleter');
    const before = (await api.simStats()).delete;
    const deleted = await api.call('DELETE', `/connections/${id}`, { sub: 'deleter' });
    expect(deleted.status).toBe(204);
    expect((await api.simStats()).delete).toBe(before + 1);
    expect((await api.call('GET', `/connections/${id}`, { sub: 'deleter' })).body).toMatchObject({
      status: 'inactive',
      status_reason: 'revoked',
    });
    const data = await api.call('GET', `/connections/${id}/accounts`, { sub: 'deleter', headers: psu });
    expect(data.status).toBe(409);
    expect(data.body.code).toBe('connection_inactive');
  });

  it('is safe to repeat', async () => {
    const id = await api.connect('repeater');
    expect((await api.call('DELETE', `/connections/${id}`, { sub: 'repeater' })).status).toBe(204);
    const before = await api.simStats();
    expect((await api.call('DELETE', `/connections/${id}`, { sub: 'repeater' })).status).toBe(204);
    expect((await api.simStats()).delete).toBe(before.delete);
  });

  it('refuses extend after delete', async () => {
    const id = await api.connect('gone');
    await api.call('DELETE', `/connections/${id}`, { sub: 'gone' });
    const extended = await api.call('POST', `/connections/${id}/extend`, { sub: 'gone', body: extendBody });
    expect(extended.status).toBe(409);
  });

  it('stays deleted when the user finishes at the bank afterwards (first authorization)', async () => {
    const created = await api.createConnection('halfway', { return_url: `${api.stack.apiUrl}/done` });
    const step = await api.authorize(created.auth_link);
    expect((await api.call('DELETE', `/connections/${created.connection_id}`, { sub: 'halfway' })).status).toBe(204);
    const callback = await api.deliverCallback(step);
    expect(new URL(callback.headers.get('location')!).searchParams.get('error')).toBe('connection_inactive');
    expect((await api.call('GET', `/connections/${created.connection_id}`, { sub: 'halfway' })).body).toMatchObject({
      status: 'inactive',
      status_reason: 'revoked',
    });
  });

  it("stays deleted when the user finishes an extend's re-authentication afterwards", async () => {
    const id = await api.connect('second-thoughts', { body: { return_url: `${api.stack.apiUrl}/done` } });
    const extended = await api.call('POST', `/connections/${id}/extend`, { sub: 'second-thoughts', body: extendBody });
    expect(extended.body.action_needed).toBe('authentication_needed');
    const step = await api.authorize(extended.body.user_input_link);
    expect((await api.call('DELETE', `/connections/${id}`, { sub: 'second-thoughts' })).status).toBe(204);
    const callback = await api.deliverCallback(step);
    // TrueLayer itself refuses the code of revoked credentials; either way the app hears an error.
    expect(new URL(callback.headers.get('location')!).searchParams.get('error')).toMatch(/^(connection_inactive|code_exchange_failed)$/);
    expect((await api.call('GET', `/connections/${id}`, { sub: 'second-thoughts' })).body).toMatchObject({
      status: 'inactive',
      status_reason: 'revoked',
    });
    expect((await api.call('GET', `/connections/${id}/me`, { sub: 'second-thoughts', headers: psu })).status).toBe(409);
  });

  it('keeps the connection as it was when TrueLayer fails to revoke (503)', async () => {
    const id = await api.connect('unlucky');
    await api.simFault({ path: '/api/delete', status: 503, times: 5 });
    const deleted = await api.call('DELETE', `/connections/${id}`, { sub: 'unlucky' });
    expect(deleted.status).toBe(503);
    await fetch(`${api.stack.simUrl}/__sim/faults`, { method: 'DELETE' });
    expect((await api.call('GET', `/connections/${id}`, { sub: 'unlucky' })).body.status).toBe('active');
    expect((await api.call('GET', `/connections/${id}/me`, { sub: 'unlucky', headers: psu })).status).toBe(200);
  });
});
