/** GET /connections/{id}/{data path}: every Data API path, refresh, and upstream errors, through the local stack. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TestApi } from '../support/flow';

let api: TestApi;
let id: string;
let accountId: string;
let cardId: string;
const psu = { 'x-psu-ip': '203.0.113.7' };

beforeAll(async () => {
  api = await TestApi.start();
  id = await api.connect('alice');
  const accounts = await api.call('GET', `/connections/${id}/accounts`, { sub: 'alice', headers: psu });
  accountId = accounts.body.results[0].account_id;
  const cards = await api.call('GET', `/connections/${id}/cards`, { sub: 'alice', headers: psu });
  cardId = cards.body.results[0].account_id;
});
afterAll(async () => api.close());
beforeEach(async () => api.simReset());

describe('data paths', () => {
  const paths = () => [
    'me',
    'info',
    'accounts',
    `accounts/${accountId}`,
    `accounts/${accountId}/balance`,
    `accounts/${accountId}/transactions`,
    `accounts/${accountId}/transactions/pending`,
    `accounts/${accountId}/standing_orders`,
    `accounts/${accountId}/direct_debits`,
    'cards',
    `cards/${cardId}`,
    `cards/${cardId}/balance`,
    `cards/${cardId}/transactions`,
    `cards/${cardId}/transactions/pending`,
  ];

  it("answers every Data API v1 GET with TrueLayer's body as is, one upstream call each", async () => {
    for (const path of paths()) {
      const direct = await api.call('GET', `/connections/${id}/${path}`, { sub: 'alice', headers: psu });
      expect(direct.status, path).toBe(200);
      expect(direct.body, path).toMatchObject({ status: 'Succeeded', results: expect.any(Array) });
    }
    const stats = await api.simStats();
    const total = Object.values(stats.data).reduce((a, b) => a + b, 0);
    expect(total).toBe(paths().length);
    expect(stats.token.refresh_token).toBe(0);
  });

  it('filters transactions by from/to', async () => {
    const all = { body: { results: [] as { timestamp: string }[] } };
    let cursor: string | undefined;
    do {
      const page = await api.call(
        'GET',
        `/connections/${id}/accounts/${accountId}/transactions${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`,
        { sub: 'alice', headers: psu },
      );
      all.body.results.push(...page.body.results);
      cursor = page.body.next_cursor;
    } while (cursor);
    const first = all.body.results.map((t: { timestamp: string }) => t.timestamp.slice(0, 10)).sort()[0] ?? '';
    const to = new Date(Date.parse(first) + 30 * 86_400_000).toISOString().slice(0, 10);
    const some = await api.call('GET', `/connections/${id}/accounts/${accountId}/transactions?from=${first}&to=${to}`, {
      sub: 'alice',
      headers: psu,
    });
    expect(some.status).toBe(200);
    expect(some.body.results.length).toBeGreaterThan(0);
    expect(some.body.results.length).toBeLessThan(all.body.results.length);
  });

  it.each([
    ['from after to', '?from=2026-05-01&to=2026-04-01'],
    ['an impossible date', '?from=2026-02-30'],
    ['not a date', '?from=yesterday'],
  ])('refuses %s with 400 invalid_date_range before calling TrueLayer', async (_name, query) => {
    const response = await api.call('GET', `/connections/${id}/accounts/${accountId}/transactions${query}`, { sub: 'alice', headers: psu });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('invalid_date_range');
    expect(Object.keys((await api.simStats()).data)).toHaveLength(0);
  });

  it('refuses unknown data paths and traversal with 404, and unknown query parameters with 400', async () => {
    for (const path of ['payments', 'accounts/..%2Fme', 'accounts/a%2Fb/balance', `accounts/${accountId}/balance/extra`]) {
      const response = await api.call('GET', `/connections/${id}/${path}`, { sub: 'alice' });
      expect(response.status, path).toBe(404);
    }
    const query = await api.call('GET', `/connections/${id}/accounts?async=true`, { sub: 'alice' });
    expect(query.status).toBe(400);
  });

  it('maps TrueLayer 404 account_not_found to 404 with the upstream code', async () => {
    const response = await api.call('GET', `/connections/${id}/accounts/nope123/balance`, { sub: 'alice', headers: psu });
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ code: 'account_not_found', upstream_code: 'account_not_found' });
  });

  it('compresses the body when the client accepts gzip', async () => {
    const response = await fetch(`${api.stack.apiUrl}/connections/${id}/accounts/${accountId}/transactions`, {
      headers: { authorization: `Bearer ${await api.token('alice')}`, 'accept-encoding': 'gzip', ...psu },
    });
    expect(response.headers.get('content-encoding')).toBe('gzip');
    // fetch decodes gzip itself: the body read is the JSON envelope.
    expect(((await response.json()) as { status: string }).status).toBe('Succeeded');
  });

  it('forwards X-PSU-IP: without it the 5th unattended call in a day is answered from the cache, not sent to the bank', async () => {
    const path = `/connections/${id}/accounts/${accountId}/standing_orders`;
    for (let i = 0; i < 4; i += 1) expect((await api.call('GET', path, { sub: 'alice' })).status).toBe(200);
    const fifth = await api.call('GET', path, { sub: 'alice' });
    expect(fifth.status).toBe(200);
    expect(fifth.headers.get('x-data-source')).toBe('cache');
    expect((await api.simStats()).data['/data/v1/accounts/{account_id}/standing_orders']).toBe(4);
    expect((await api.call('GET', path, { sub: 'alice', headers: psu })).status).toBe(200);
    expect((await api.simStats()).data['/data/v1/accounts/{account_id}/standing_orders']).toBe(5);
  });

  it("maps the bank's own 429 provider_request_limit_exceeded to 429 with Retry-After when nothing is cached", async () => {
    await api.simFault({
      path: '/data/v1/accounts*',
      status: 429,
      body: {
        error: 'provider_request_limit_exceeded',
        error_description: 'Maximum number of requests per user allowed by provider exceeded.',
        error_details: {},
      },
      times: 1,
    });
    // A query never asked before, so no earlier answer is kept for it.
    const yesterday = new Date(api.stack.clock.now() - 86_400_000).toISOString().slice(0, 10);
    const limited = await api.call('GET', `/connections/${id}/accounts/${accountId}/transactions/pending?to=${yesterday}`, {
      sub: 'alice',
    });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ code: 'upstream_rate_limited', upstream_code: 'provider_request_limit_exceeded' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('refuses a malformed X-PSU-IP', async () => {
    const response = await api.call('GET', `/connections/${id}/accounts`, { sub: 'alice', headers: { 'x-psu-ip': 'not-an-ip' } });
    expect(response.status).toBe(400);
  });
});

describe('refresh', () => {
  it('refreshes an expired access token once and answers with the new one', async () => {
    api.advance(3_700);
    const response = await api.call('GET', `/connections/${id}/accounts`, { sub: 'alice', headers: psu });
    expect(response.status).toBe(200);
    expect((await api.simStats()).token.refresh_token).toBe(1);
    // The new pair was stored: a second call needs no refresh.
    await api.call('GET', `/connections/${id}/accounts`, { sub: 'alice', headers: psu });
    expect((await api.simStats()).token.refresh_token).toBe(1);
  });

  it('makes exactly one upstream refresh when 40 requests find the token expired at once', async () => {
    api.advance(3_700);
    const responses = await Promise.all(
      Array.from({ length: 40 }, () => api.call('GET', `/connections/${id}/accounts`, { sub: 'alice', headers: psu })),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(40).fill(200));
    expect((await api.simStats()).token.refresh_token).toBe(1);
  });

  it('retries once with a fresh token when TrueLayer refuses a token we thought valid (401)', async () => {
    await api.simFault({ path: '/data/v1/info', status: 401, times: 1 });
    const response = await api.call('GET', `/connections/${id}/info`, { sub: 'alice', headers: psu });
    expect(response.status).toBe(200);
    const stats = await api.simStats();
    expect(stats.token.refresh_token).toBe(1);
    expect(stats.data['/data/v1/info']).toBe(2);
  });

  it('answers 502 when TrueLayer refuses the fresh token too', async () => {
    await api.simFault({ path: '/data/v1/info', status: 401, times: 2 });
    const response = await api.call('GET', `/connections/${id}/info`, { sub: 'alice', headers: psu });
    expect(response.status).toBe(502);
    expect(response.body.code).toBe('upstream_unauthorized');
    expect((await api.call('GET', `/connections/${id}`, { sub: 'alice' })).body.status).toBe('active');
  });

  it.each([
    [503, 503, 'upstream_unavailable'],
    [501, 501, 'upstream_not_supported'],
    [500, 502, 'upstream_error'],
  ])('maps TrueLayer %i to %i %s, leaving the connection active', async (upstream, ours, code) => {
    await api.simFault({ path: '/data/v1/cards', status: upstream, times: 5 });
    const response = await api.call('GET', `/connections/${id}/cards`, { sub: 'alice', headers: psu });
    expect(response.status).toBe(ours);
    expect(response.body.code).toBe(code);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect((await api.call('GET', `/connections/${id}`, { sub: 'alice' })).body.status).toBe('active');
  });
});

describe('the end of consent', () => {
  it('marks the connection inactive on 403 access_denied and answers 409 connection_inactive', async () => {
    const other = await api.connect('bob');
    await api.simFault({
      path: '/data/v1/accounts',
      status: 403,
      body: { error: 'access_denied', error_description: 'revoked at the bank' },
      times: 1,
    });
    const response = await api.call('GET', `/connections/${other}/accounts`, { sub: 'bob', headers: psu });
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({ code: 'connection_inactive', upstream_code: 'access_denied' });
    expect((await api.call('GET', `/connections/${other}`, { sub: 'bob' })).body).toMatchObject({
      status: 'inactive',
      status_reason: 'consent_revoked',
    });
  });

  it('reads inactive on day 91 and refuses data with 409, without calling TrueLayer', async () => {
    const later = await api.connect('carol');
    api.advance(91 * 86_400);
    const connection = await api.call('GET', `/connections/${later}`, { sub: 'carol' });
    expect(connection.body).toMatchObject({ status: 'inactive', status_reason: 'consent_expired' });
    await api.simReset();
    const data = await api.call('GET', `/connections/${later}/accounts`, { sub: 'carol', headers: psu });
    expect(data.status).toBe(409);
    expect(data.body.code).toBe('connection_inactive');
    const stats = await api.simStats();
    expect(stats.token.refresh_token + Object.keys(stats.data).length).toBe(0);
  });
});
