/**
 * Long transaction histories, page by page, each page from at most one TrueLayer call.
 *
 * TrueLayer v1 answers a from/to range with every transaction in it, at once. So a page is one date
 * window (whole UTC days, newest first): the window is fetched (a day wider each side, against time
 * zone differences), the transactions already returned
 * are dropped, the newest `limit` of the rest are the page. The cursor carries where the walk stands:
 * the last transaction returned (its timestamp and a stable tie key), which bounds the next window
 * from above, and the window length, which adapts to how busy the account is so pages come out
 * near `limit`. Keyset, not offset: no transaction is returned twice or skipped, however the windows
 * fall. The cursor is sealed (AES-GCM, bound to the connection and its owner): opaque to the client,
 * and any edit, or use on another connection or path, is refused as `invalid_cursor`.
 */
import type { TokenCipher } from '../crypto/token-cipher';
import { ServiceError, ValidationError } from '../errors';

const dayMs = 86_400_000;
const defaultPageLimit = 500;
const maxPageLimit = 1_000;
/** With no `from`, a history reaches back two years (what UK banks typically serve). */
const defaultHistoryMs = 730 * dayMs;
const firstWindowDays = 31;
const maxWindowDays = 366;

/** The state of a walk through one range, sealed into the cursor. */
export interface PagePosition {
  /** The data path the cursor belongs to. */
  p: string;
  /** The range, epoch ms, both ends inclusive. */
  from: number;
  to: number;
  /** The last transaction returned: its timestamp and tie key. Absent before the first page. */
  at?: number;
  key?: string;
  /** Window length in days for the next page. */
  w: number;
}

export interface PagePlan {
  position: PagePosition;
  limit: number;
  /** The first instant of the window (UTC midnight); the window ends at the position. */
  windowStart: number;
  /**
   * The one upstream call this page makes: the window with a day to spare on each side, so a bank
   * that reads the dates in its own time zone still returns all of it (the page filters exactly).
   */
  upstream: { from: string; to: string };
  /**
   * What was asked, as one text for the cache key: a first page by its query as given (so "since
   * the 1st" asked again tomorrow finds today's copy), a later page by the position in its cursor.
   */
  canonical: string;
}

type Transaction = Record<string, unknown>;

const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const startOfDay = (ms: number): number => Math.floor(ms / dayMs) * dayMs;
const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i;

/** Timestamps come with and without a zone; TrueLayer's zoneless ones are UTC. */
export const timestampMs = (value: unknown): number => {
  if (typeof value !== 'string') return Number.NaN;
  const text = value.length > 10 && !hasZone.test(value) ? `${value}Z` : value;
  return Date.parse(text);
};

/** The stable part of a transaction's identity: TrueLayer says to dedupe on the normalised id. */
const tieKey = (item: Transaction): string => {
  const id = item.normalised_provider_transaction_id ?? item.provider_transaction_id ?? item.transaction_id;
  return `${typeof id === 'string' ? id : ''}|${String(item.amount)}|${String(item.description)}`;
};

/** Newest first; equal timestamps by tie key, descending, so the order is total and repeatable. */
const compare = (a: { at: number; key: string }, b: { at: number; key: string }): number =>
  b.at - a.at || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0);

const boundMs = (value: string, end: boolean): number => {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return Date.parse(`${value}T00:00:00Z`) + (end ? dayMs - 1 : 0);
  return Date.parse(value);
};

const parseLimit = (value: string | undefined): number => {
  if (value === undefined) return defaultPageLimit;
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > maxPageLimit) {
    throw new ValidationError(`"limit" must be a whole number from 1 to ${maxPageLimit}.`);
  }
  return Number(value);
};

const invalidCursor = (): ServiceError =>
  new ServiceError({
    code: 'invalid_cursor',
    detail: 'The cursor is not one this service issued for this connection and path; start again without it.',
  });

const validPosition = (value: unknown, path: string): value is PagePosition => {
  const v = value as PagePosition;
  return (
    typeof v === 'object' &&
    v !== null &&
    v.p === path &&
    Number.isSafeInteger(v.from) &&
    Number.isSafeInteger(v.to) &&
    v.from <= v.to &&
    Number.isInteger(v.w) &&
    v.w >= 1 &&
    v.w <= maxWindowDays &&
    (v.at === undefined ? v.key === undefined : Number.isSafeInteger(v.at) && typeof v.key === 'string')
  );
};

export interface CursorOwner {
  connectionId: string;
  owner: string;
}

export class TransactionPages {
  constructor(private readonly cipher: Pick<TokenCipher, 'encrypt' | 'decrypt'>) {}

  /** What the page asked for is: its range, its position and the one window to fetch. */
  async plan(
    owner: CursorOwner,
    path: string,
    query: { from?: string; to?: string; limit?: string; cursor?: string },
    now: number,
  ): Promise<PagePlan> {
    const limit = parseLimit(query.limit);
    let position: PagePosition;
    if (query.cursor !== undefined) {
      if (query.from !== undefined || query.to !== undefined)
        throw new ValidationError('Send "cursor" without "from" and "to": the cursor already holds the range.');
      position = await this.open(owner, path, query.cursor);
    } else {
      const to = Math.min(query.to === undefined ? now : boundMs(query.to, true), now);
      const from = query.from === undefined ? startOfDay(to - defaultHistoryMs) : boundMs(query.from, false);
      position = { p: path, from, to: Math.max(from, to), w: firstWindowDays };
    }
    const upper = upperOf(position);
    const windowStart = Math.max(startOfDay(position.from), startOfDay(upper) - (position.w - 1) * dayMs);
    return {
      position,
      limit,
      windowStart,
      upstream: { from: isoDay(windowStart - dayMs), to: isoDay(Math.min(upper + dayMs, Math.max(upper, now))) },
      canonical:
        query.cursor === undefined
          ? JSON.stringify(['query', path, query.from ?? null, query.to ?? null, limit])
          : JSON.stringify([
              'cursor',
              position.p,
              position.from,
              position.to,
              position.at ?? null,
              position.key ?? null,
              position.w,
              limit,
            ]),
    };
  }

  /** The page from the window's transactions, and the position after it (undefined when the range is done). */
  page(plan: PagePlan, windowResults: readonly unknown[]): { results: Transaction[]; next?: PagePosition } {
    const { position, limit } = plan;
    const { windowStart } = plan;
    const lower = Math.max(position.from, windowStart);
    const after = position.at === undefined ? undefined : { at: position.at, key: position.key ?? '' };
    const candidates = windowResults
      .filter((item): item is Transaction => typeof item === 'object' && item !== null)
      .map((item) => ({ item, at: timestampMs(item.timestamp), key: tieKey(item) }))
      .filter(({ at }) => !Number.isNaN(at) && at >= lower && at <= position.to)
      .filter((entry) => after === undefined || compare(after, entry) < 0)
      .sort(compare);
    const taken = candidates.slice(0, limit);
    const last = taken[taken.length - 1];
    const windowDays = Math.max(1, Math.round((startOfDay(upperOf(position)) - windowStart) / dayMs) + 1);
    if (candidates.length > limit && last) {
      // More in this window: carry on after the last one, with a window the size this one should have been.
      const perDay = candidates.length / windowDays;
      return { results: taken.map(({ item }) => item), next: { ...position, at: last.at, key: last.key, w: clampDays(limit / perDay) } };
    }
    if (lower <= position.from) return { results: taken.map(({ item }) => item) };
    // The window is done: the next starts the day before it.
    const perDay = candidates.length / windowDays;
    const w = candidates.length === 0 ? clampDays(windowDays * 4) : clampDays((limit * 0.9) / perDay);
    return {
      results: taken.map(({ item }) => item),
      next: { p: position.p, from: position.from, to: position.to, at: windowStart, key: '', w },
    };
  }

  async seal(owner: CursorOwner, position: PagePosition): Promise<string> {
    return this.cipher.encrypt(JSON.stringify(position), owner);
  }

  private async open(owner: CursorOwner, path: string, cursor: string): Promise<PagePosition> {
    if (cursor.length === 0 || cursor.length > 2_000) throw invalidCursor();
    let parsed: unknown;
    try {
      parsed = JSON.parse(await this.cipher.decrypt(cursor, owner));
    } catch {
      throw invalidCursor();
    }
    if (!validPosition(parsed, path)) throw invalidCursor();
    return parsed;
  }
}

/**
 * The newest moment the next window must reach. An empty key marks a window boundary: everything
 * before `at` remains, so the window ends the day before.
 */
const upperOf = (position: PagePosition): number =>
  position.at === undefined ? position.to : position.key === '' ? position.at - 1 : position.at;

const clampDays = (days: number): number => Math.min(maxWindowDays, Math.max(1, Math.floor(days)));
