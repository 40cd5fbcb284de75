/** Reading at the bank's pace, through the local stack: the unattended budget, the cache, ETags, pages, providers. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { busyTransactionSpacingMs } from '../../local/sim/bank-data';
import { scanTable, tableClient } from '../reliability/helpers';
import { TestApi } from '../support/flow';

let api: TestApi;
let id: string;
let accountId: string;
const psu = { 'x-psu-ip': '203.0.113.7' };
const template = (path: string) => `/data/v1/accounts/{account_id}/${path}`;

beforeAll(async () => {
  api = await TestApi.start();
  id = await api.connect('alice');
  const accounts = await api.call('GET', `/connections/${id}/accounts`, { sub: 'alice', headers: psu });
  accountId = accounts.body.results[0].account_id;
});
afterAll(async () => api.close());
beforeEach(async () => api.simReset());

describe('the unattended budget', () => {
  it('sends 4 unattended reads upstream in a day and answers the 5th and 6th from the cache, with their age', async () => {
    const path = `/connections/${id}/accounts/${accountId}/balance`;
    const answers = [];
    for (let i = 0; i < 6; i += 1) {
      answers.push(await api.call('GET', path, { sub: 'alice' }));
      api.advance(60);
    }
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect((await api.simStats()).data[template('balance')]).toBe(4);
    expect(answers.map((a) => a.headers.get('x-unattended-remaining'))).toEqual(['3', '2', '1', '0', '0', '0']);
    expect(answers.map((a) => a.headers.get('x-data-source'))).toEqual([
      'truelayer',
      'truelayer',
      'truelayer',
      'truelayer',
      'cache',
      'cache',
    ]);
    expect(answers[4]?.headers.get('age')).toBe('60');
    expect(answers[5]?.headers.get('age')).toBe('120');
    expect(answers[5]?.body).toEqual(answers[3]?.body);
  });

  it('answers a nightly sync of recent transactions (from, no to) from the cache once its 4 calls are spent', async () => {
    const from = new Date(api.stack.clock.now() - 10 * 86_400_000).toISOString().slice(0, 10);
    const path = `/connections/${id}/accounts/${accountId}/transactions?from=${from}`;
    const answers = [];
    for (let night = 0; night < 5; night += 1) {
      answers.push(await api.call('GET', path, { sub: 'alice' }));
      api.advance(3_600);
    }
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.map((a) => a.headers.get('x-data-source'))).toEqual(['truelayer', 'truelayer', 'truelayer', 'truelayer', 'cache']);
    expect(answers[4]?.headers.get('age')).toBe('3600');
    expect((await api.simStats()).data[template('transactions')]).toBe(4);
  });

  it('never sends more than 4 of 40 concurrent unattended reads upstream; a user-present read still goes', async () => {
    const path = `/connections/${id}/accounts/${accountId}/standing_orders`;
    const answers = await Promise.all(Array.from({ length: 40 }, () => api.call('GET', path, { sub: 'alice' })));
    expect((await api.simStats()).data[template('standing_orders')]).toBe(4);
    expect(answers.filter((a) => a.headers.get('x-data-source') === 'truelayer')).toHaveLength(4);
    for (const answer of answers) {
      expect([200, 429]).toContain(answer.status);
      expect(answer.headers.get('x-unattended-remaining')).toMatch(/^[0-3]$/);
    }
    const present = await api.call('GET', path, { sub: 'alice', headers: psu });
    expect(present.status).toBe(200);
    expect(present.headers.get('x-data-source')).toBe('truelayer');
    expect(present.headers.get('x-unattended-remaining')).toBeNull();
    expect((await api.simStats()).data[template('standing_orders')]).toBe(5);
  });

  it('answers 429 unattended_limit_reached with Retry-After when no earlier answer is kept, and frees the slot a day later', async () => {
    const base = `/connections/${id}/accounts/${accountId}/transactions/pending`;
    const day = (n: number) => new Date(api.stack.clock.now() - n * 86_400_000).toISOString().slice(0, 10);
    for (let n = 1; n <= 4; n += 1)
      expect((await api.call('GET', `${base}?from=${day(n + 10)}&to=${day(n)}`, { sub: 'alice' })).status).toBe(200);
    const fifth = await api.call('GET', `${base}?from=${day(20)}&to=${day(5)}`, { sub: 'alice' });
    expect(fifth.status).toBe(429);
    expect(fifth.body.code).toBe('unattended_limit_reached');
    expect(fifth.headers.get('x-unattended-remaining')).toBe('0');
    const retryAfter = Number(fifth.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(86_000);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect((await api.simStats()).data[template('transactions/pending')]).toBe(4);
    api.advance(retryAfter);
    const later = await api.call('GET', `${base}?from=${day(20)}&to=${day(5)}`, { sub: 'alice' });
    expect(later.status).toBe(200);
    expect(later.headers.get('x-data-source')).toBe('truelayer');
  });

  it('counts a call that reached TrueLayer even when it failed, and gives back a slot whose call was never sent', async () => {
    const path = `/connections/${id}/accounts/${accountId}/direct_debits`;
    await api.simFault({ path: '/data/v1/accounts/*', status: 404, times: 1 });
    const failed = await api.call('GET', path, { sub: 'alice' });
    expect(failed.status).toBe(404);
    expect(failed.headers.get('x-unattended-remaining')).toBe('3');
    // The access token has expired and the refresh fails: nothing is sent to the Data API.
    api.advance(3_700);
    await api.simFault({ path: '/connect/token', status: 503, times: 10 });
    const unsent = await api.call('GET', path, { sub: 'alice' });
    expect(unsent.status).toBeGreaterThanOrEqual(500);
    expect(unsent.headers.get('x-unattended-remaining')).toBe('3');
    await api.simReset();
    const next = await api.call('GET', path, { sub: 'alice' });
    expect(next.status).toBe(200);
    expect(next.headers.get('x-unattended-remaining')).toBe('2');
    expect((await api.simStats()).data[template('direct_debits')]).toBe(1);
  });

  it('keeps the cached copy encrypted: the table holds no account id, amount or description in clear', async () => {
    const balance = await api.call('GET', `/connections/${id}/accounts/${accountId}/balance`, { sub: 'alice', headers: psu });
    const transactions = await api.call('GET', `/connections/${id}/accounts/${accountId}/transactions?limit=5`, {
      sub: 'alice',
      headers: psu,
    });
    const items = await scanTable(tableClient(api.stack), api.stack.tableName);
    expect(items.some((item) => String(item.pk).startsWith('cache#'))).toBe(true);
    expect(items.some((item) => String(item.pk).startsWith('unattended#'))).toBe(true);
    const stored = JSON.stringify(items);
    expect(stored).not.toContain(accountId);
    expect(stored).not.toContain(String(balance.body.results[0].current));
    for (const transaction of transactions.body.results) {
      expect(stored).not.toContain(transaction.description);
      expect(stored).not.toContain(transaction.normalised_provider_transaction_id);
    }
  });
});

describe('validators', () => {
  it('answers 304 with no body when If-None-Match carries the ETag, from TrueLayer and from the cache', async () => {
    // A settled month in the past: the same transactions on every read.
    const day = (n: number) => new Date(api.stack.clock.now() - n * 86_400_000).toISOString().slice(0, 10);
    const path = `/connections/${id}/accounts/${accountId}/transactions?from=${day(60)}&to=${day(30)}&limit=20`;
    const first = await api.call('GET', path, { sub: 'alice', headers: psu });
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const again = await api.call('GET', path, { sub: 'alice', headers: { ...psu, 'if-none-match': etag ?? '' } });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    const other = await api.call('GET', path, { sub: 'alice', headers: { ...psu, 'if-none-match': '"something-else"' } });
    expect(other.status).toBe(200);
    for (let i = 0; i < 4; i += 1) await api.call('GET', path, { sub: 'alice' });
    const cached = await api.call('GET', path, { sub: 'alice', headers: { 'if-none-match': etag ?? '' } });
    expect(cached.headers.get('x-data-source')).toBe('cache');
    expect(cached.status).toBe(304);
  });
});

describe('pages of transactions', () => {
  it('refuses a tampered cursor, a cursor for another path, and a limit out of range with 400', async () => {
    const first = await api.call('GET', `/connections/${id}/accounts/${accountId}/transactions?limit=10`, { sub: 'alice', headers: psu });
    expect(first.status).toBe(200);
    expect(first.body.results).toHaveLength(10);
    const cursor: string = first.body.next_cursor;
    expect(cursor).toEqual(expect.any(String));
    const tampered = `${cursor.slice(0, -2)}${cursor.endsWith('A') ? 'B' : 'A'}${cursor.slice(-1)}`;
    const bad = await api.call('GET', `/connections/${id}/accounts/${accountId}/transactions?cursor=${encodeURIComponent(tampered)}`, {
      sub: 'alice',
      headers: psu,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_cursor');
    const cards = await api.call('GET', `/connections/${id}/cards`, { sub: 'alice', headers: psu });
    const elsewhere = await api.call(
      'GET',
      `/connections/${id}/cards/${cards.body.results[0].account_id}/transactions?cursor=${encodeURIComponent(cursor)}`,
      { sub: 'alice', headers: psu },
    );
    expect(elsewhere.body.code).toBe('invalid_cursor');
    for (const limit of ['0', '1001', 'ten']) {
      expect(
        (await api.call('GET', `/connections/${id}/accounts/${accountId}/transactions?limit=${limit}`, { sub: 'alice', headers: psu }))
          .status,
      ).toBe(400);
    }
  });

  it("reads john/busy's two-year history page by page: every transaction exactly once, one TrueLayer call a page", async () => {
    const busy = await api.connect('bea', { username: 'john', password: 'busy' });
    const accounts = await api.call('GET', `/connections/${busy}/accounts`, { sub: 'bea', headers: psu });
    const current = accounts.body.results.find((a: { account_type: string }) => a.account_type === 'TRANSACTION').account_id;
    await api.simReset();
    const seen = new Set<string>();
    const indices: number[] = [];
    let pages = 0;
    let largestPage = 0;
    let cursor: string | undefined;
    do {
      const query = cursor ? `?cursor=${encodeURIComponent(cursor)}&limit=1000` : '?limit=1000';
      const page = await api.call('GET', `/connections/${busy}/accounts/${current}/transactions${query}`, { sub: 'bea', headers: psu });
      expect(page.status, page.text).toBe(200);
      expect(page.body.results.length).toBeLessThanOrEqual(1000);
      largestPage = Math.max(largestPage, Buffer.byteLength(page.text));
      for (const transaction of page.body.results) {
        expect(seen.has(transaction.normalised_provider_transaction_id)).toBe(false);
        seen.add(transaction.normalised_provider_transaction_id);
        indices.push(Math.round(Date.parse(transaction.timestamp) / busyTransactionSpacingMs));
      }
      cursor = page.body.next_cursor;
      pages += 1;
    } while (cursor);
    expect(seen.size).toBeGreaterThanOrEqual(49_900);
    expect(seen.size).toBeLessThanOrEqual(50_001);
    // Newest first, and no index of the grid missing between the newest and the oldest.
    for (let i = 1; i < indices.length; i += 1) expect(indices[i]).toBe((indices[i - 1] as number) - 1);
    expect((await api.simStats()).data[template('transactions')]).toBe(pages);
    expect(largestPage).toBeLessThan(1_000_000);
    console.info(`john/busy: ${seen.size} transactions in ${pages} pages; largest page ${largestPage} bytes`);
  }, 120_000);
});

describe('providers', () => {
  it("lists the banks for a country with the picker's fields, and keeps the list an hour", async () => {
    const uk = await api.call('GET', '/providers?country=gb', { sub: 'alice' });
    expect(uk.status).toBe(200);
    expect(uk.body.providers.length).toBeGreaterThan(1);
    for (const provider of uk.body.providers) {
      expect(Object.keys(provider).sort()).toEqual(['country', 'display_name', 'logo_url', 'provider_id', 'scopes']);
      expect(provider.country).toBe('uk');
    }
    expect(uk.body.providers.map((p: { provider_id: string }) => p.provider_id)).toContain('mock');
    await api.simFault({ path: '/api/providers', status: 500 });
    expect((await api.call('GET', '/providers?country=gb', { sub: 'alice' })).body).toEqual(uk.body);
    api.advance(3_601);
    expect((await api.call('GET', '/providers?country=gb', { sub: 'alice' })).status).toBe(502);
    await api.simReset();
    const ie = await api.call('GET', '/providers?country=ie', { sub: 'alice' });
    expect(ie.body.providers.every((p: { country: string }) => p.country === 'ie')).toBe(true);
  });

  it('refuses a malformed country and a call without a token', async () => {
    expect((await api.call('GET', '/providers?country=united-kingdom', { sub: 'alice' })).status).toBe(400);
    expect((await api.call('GET', '/providers')).status).toBe(401);
  });
});
