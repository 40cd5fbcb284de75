/** Paging a transaction history window by window: every transaction exactly once, whatever the density and limit. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TransactionPages, timestampMs } from '../../shared/connections/transaction-pages';

const dayMs = 86_400_000;
const owner = { connectionId: 'c1', owner: 'alice' };
const path = 'accounts/a1/transactions';

/** A cipher that only marks the text; the sealing itself is TokenCipher's (tampering is tested through the stack). */
const cipher = {
  encrypt: async (text: string, context: { connectionId: string; owner: string }) =>
    `${context.connectionId}.${context.owner}.${Buffer.from(text).toString('base64url')}`,
  decrypt: async (blob: string, context: { connectionId: string; owner: string }) => {
    const [connectionId, who, text] = blob.split('.');
    if (connectionId !== context.connectionId || who !== context.owner || !text) throw new Error('wrong row');
    return Buffer.from(text, 'base64url').toString();
  },
};

/** TrueLayer's answer to from/to (whole days, both inclusive, in the bank's time zone): every transaction in them. */
const bank =
  (transactions: readonly Record<string, unknown>[], zoneOffsetMs = 0) =>
  (from: string, to: string) => {
    const lower = Date.parse(`${from}T00:00:00Z`) - zoneOffsetMs;
    const upper = Date.parse(`${to}T00:00:00Z`) + dayMs - 1 - zoneOffsetMs;
    return stamped(transactions)
      .filter(({ at }) => at >= lower && at <= upper)
      .map(({ t }) => t);
  };

const parsed = new WeakMap<readonly Record<string, unknown>[], { t: Record<string, unknown>; at: number }[]>();
const stamped = (transactions: readonly Record<string, unknown>[]) => {
  let list = parsed.get(transactions);
  if (!list) {
    list = transactions.map((t) => ({ t, at: timestampMs(t.timestamp) }));
    parsed.set(transactions, list);
  }
  return list;
};

const readAll = async (
  transactions: Record<string, unknown>[],
  now: number,
  query: { from?: string; limit?: string },
  zoneOffsetMs = 0,
) => {
  const pages = new TransactionPages(cipher);
  const answer = bank(transactions, zoneOffsetMs);
  const seen: string[] = [];
  const stamps: number[] = [];
  let cursor: string | undefined;
  let calls = 0;
  do {
    const plan = await pages.plan(owner, path, cursor ? { cursor, ...(query.limit ? { limit: query.limit } : {}) } : query, now);
    calls += 1;
    const page = pages.page(plan, answer(plan.upstream.from, plan.upstream.to));
    expect(page.results.length).toBeLessThanOrEqual(Number(query.limit ?? 500));
    seen.push(...page.results.map((t) => String(t.normalised_provider_transaction_id)));
    stamps.push(...page.results.map((t) => timestampMs(t.timestamp)));
    cursor = page.next ? await pages.seal(owner, page.next) : undefined;
    if (calls > 5_000) throw new Error('no end to the pages');
  } while (cursor);
  return { seen, stamps, calls };
};

const now = Date.UTC(2026, 11, 3, 12, 0, 0);

describe('transaction pages', () => {
  it('returns every transaction of the range exactly once, newest first, for any density, ties, limit and bank time zone', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ day: fc.integer({ min: 0, max: 400 }), second: fc.integer({ min: 0, max: 86_399 }), tie: fc.boolean() }), {
          maxLength: 400,
        }),
        fc.integer({ min: 1, max: 60 }),
        // A bank that reads the dates in its own zone (BST, or west of UTC) must lose nothing either.
        fc.constantFrom(0, 3_600_000, -5 * 3_600_000),
        async (specs, limit, zoneOffsetMs) => {
          const transactions = specs.map((spec, index) => {
            // Some share a timestamp to the second, as posted batches do.
            const at = now - spec.day * dayMs - (spec.tie ? 0 : spec.second * 1000);
            const stamp = new Date(at).toISOString();
            return {
              normalised_provider_transaction_id: `txn-${index}`,
              timestamp: index % 2 ? stamp.slice(0, 19) : stamp,
              amount: -index,
              description: 'X',
            };
          });
          const from = new Date(now - 400 * dayMs).toISOString().slice(0, 10);
          const { seen, stamps } = await readAll(transactions, now, { from, limit: String(limit) }, zoneOffsetMs);
          for (let i = 1; i < stamps.length; i += 1) expect(stamps[i]).toBeLessThanOrEqual(stamps[i - 1] as number);
          const inRange = transactions.filter((t) => timestampMs(t.timestamp) >= Date.parse(`${from}T00:00:00Z`));
          expect([...seen].sort()).toEqual(inRange.map((t) => t.normalised_provider_transaction_id).sort());
          expect(new Set(seen).size).toBe(seen.length);
        },
      ),
      { numRuns: 200, examples: [[[{ day: 154, second: 25_201, tie: false }], 1, -5 * 3_600_000]] },
    );
  });

  it('keeps pages near the limit on a busy account: two years at 68 a day in about 100 pages of 500', async () => {
    const transactions = Array.from({ length: 50_000 }, (_, index) => ({
      normalised_provider_transaction_id: `txn-${index}`,
      timestamp: new Date(now - index * 1_261_440).toISOString(),
      amount: 1,
      description: 'D',
    }));
    const { seen, calls } = await readAll(transactions, now, {});
    expect(new Set(seen).size).toBe(50_000);
    expect(calls).toBeLessThan(130);
  });

  it('refuses a cursor of another connection, another path, or one edited, as invalid_cursor', async () => {
    const pages = new TransactionPages(cipher);
    const plan = await pages.plan(owner, path, { limit: '1' }, now);
    const cursor = await pages.seal(owner, { ...plan.position, at: now - dayMs, key: 'k' });
    for (const attempt of [
      () => pages.plan({ ...owner, connectionId: 'c2' }, path, { cursor }, now),
      () => pages.plan(owner, 'cards/a1/transactions', { cursor }, now),
      () => pages.plan(owner, path, { cursor: 'c1.alice.bm90LWpzb24' }, now),
    ]) {
      await expect(attempt()).rejects.toMatchObject({ code: 'invalid_cursor', status: 400 });
    }
    await expect(pages.plan(owner, path, { cursor, from: '2026-01-01' }, now)).rejects.toMatchObject({ code: 'validation_error' });
  });
});
