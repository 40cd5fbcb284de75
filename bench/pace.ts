/**
 * Section 6: reading at the bank's pace. The two-year history of `john`/`busy` (50,000 transactions)
 * read page by page through the stack, and what the unattended budget costs in DynamoDB requests.
 */
import { performance } from 'node:perf_hooks';
import type { TestApi } from '../test/support/flow';
import { countServerRequests, total } from './counting-proxy';
import { psuIp } from './http';

interface HistoryResult {
  limit: number;
  pages: number;
  transactions: number;
  seconds: number;
  pagesPerSecond: number;
  /** Uncompressed body bytes: the largest Lambda response, with no Accept-Encoding to shrink it. */
  largestResponseBytes: number;
  upstreamCalls: number;
}

interface BudgetCostResult {
  /** DynamoDB requests per unattended read while slots remain (counter read + write, connection, cache write). */
  withinBudget: { perRequest: number; operations: Record<string, number> };
  /** Per unattended read past the budget, answered from the cache. */
  fromCache: { perRequest: number; operations: Record<string, number> };
  /** Per user-present read, for comparison (no counter). */
  attended: { perRequest: number; operations: Record<string, number> };
  /** 40 concurrent unattended reads of a fresh endpoint: upstream calls and DynamoDB requests in all. */
  burst: { concurrency: number; upstream: number; dynamodb: number; statuses: Record<string, number> };
}

export interface PaceResult {
  history: HistoryResult[];
  budget: BudgetCostResult;
}

const get = async (api: TestApi, path: string, sub: string, headers: Record<string, string> = {}) => {
  const response = await fetch(`${api.stack.apiUrl}${path}`, {
    headers: { authorization: `Bearer ${await api.token(sub)}`, 'accept-encoding': 'identity', ...headers },
  });
  const text = await response.text();
  return { status: response.status, text, headers: response.headers };
};

const readHistory = async (api: TestApi, sub: string, base: string, limit: number): Promise<HistoryResult> => {
  const before = (await api.simStats()).data['/data/v1/accounts/{account_id}/transactions'] ?? 0;
  let cursor: string | undefined;
  let pages = 0;
  let transactions = 0;
  let largest = 0;
  const started = performance.now();
  do {
    const page = await get(api, `${base}?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, sub, {
      'x-psu-ip': psuIp,
    });
    if (page.status !== 200) throw new Error(`page ${pages + 1} answered ${page.status}: ${page.text.slice(0, 200)}`);
    const body = JSON.parse(page.text) as { results: unknown[]; next_cursor?: string };
    largest = Math.max(largest, Buffer.byteLength(page.text));
    transactions += body.results.length;
    cursor = body.next_cursor;
    pages += 1;
  } while (cursor);
  const seconds = (performance.now() - started) / 1000;
  const after = (await api.simStats()).data['/data/v1/accounts/{account_id}/transactions'] ?? 0;
  return {
    limit,
    pages,
    transactions,
    seconds,
    pagesPerSecond: pages / seconds,
    largestResponseBytes: largest,
    upstreamCalls: after - before,
  };
};

const perRequest = async (api: TestApi, calls: () => Promise<unknown>, n: number) => {
  const dynamo = countServerRequests(Number(new URL(api.stack.dynamoEndpoint).port));
  try {
    for (let i = 0; i < n; i += 1) await calls();
  } finally {
    dynamo.stop();
  }
  const counts = dynamo.counts();
  const operations = Object.fromEntries(
    Object.entries(counts).map(([operation, count]) => [operation, Math.round((count / n) * 100) / 100]),
  );
  return { perRequest: total(counts) / n, operations };
};

export const measurePace = async (api: TestApi): Promise<PaceResult> => {
  const sub = 'bench-busy';
  const connectionId = await api.connect(sub, { username: 'john', password: 'busy' });
  const accounts = JSON.parse((await get(api, `/connections/${connectionId}/accounts`, sub, { 'x-psu-ip': psuIp })).text) as {
    results: { account_id: string; account_type: string }[];
  };
  const current = accounts.results.find((account) => account.account_type === 'TRANSACTION')?.account_id ?? '';
  const savings = accounts.results.find((account) => account.account_type === 'SAVINGS')?.account_id ?? '';
  const base = `/connections/${connectionId}/accounts/${current}/transactions`;
  const history = [await readHistory(api, sub, base, 1_000), await readHistory(api, sub, base, 500)];

  // One endpoint per measure, so each starts with a fresh counter.
  const unattended = (path: string) => () => get(api, `/connections/${connectionId}/accounts/${path}`, sub);
  const withinBudget = await perRequest(api, unattended(`${current}/balance`), 4);
  const fromCache = await perRequest(api, unattended(`${current}/balance`), 10);
  const attended = await perRequest(
    api,
    () => get(api, `/connections/${connectionId}/accounts/${current}/balance`, sub, { 'x-psu-ip': psuIp }),
    10,
  );

  const upstreamBefore = (await api.simStats()).data['/data/v1/accounts/{account_id}/standing_orders'] ?? 0;
  const dynamo = countServerRequests(Number(new URL(api.stack.dynamoEndpoint).port));
  const concurrency = 40;
  let responses: { status: number }[];
  try {
    responses = await Promise.all(Array.from({ length: concurrency }, unattended(`${savings}/standing_orders`)));
  } finally {
    dynamo.stop();
  }
  const statuses: Record<string, number> = {};
  for (const response of responses) statuses[response.status] = (statuses[response.status] ?? 0) + 1;
  const upstream = ((await api.simStats()).data['/data/v1/accounts/{account_id}/standing_orders'] ?? 0) - upstreamBefore;
  return {
    history,
    budget: { withinBudget, fromCache, attended, burst: { concurrency, upstream, dynamodb: total(dynamo.counts()), statuses } },
  };
};
