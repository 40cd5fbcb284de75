/**
 * GET /connections/{id}/{data path}: TrueLayer's Data API v1 body, fetched with a fresh access token,
 * at the bank's pace: unattended calls within their daily budget, the last good answer past it,
 * ETags for revalidation, and settled transactions in pages of at most one TrueLayer call each.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { isoAt } from '../clock';
import { ConnectionInactiveError, ConnectionNotConfirmedError, ServiceError, ValidationError } from '../errors';
import { metricNames } from '../metrics';
import type { DataResponse } from '../truelayer/data-client';
import { type DataPath, dataPathTemplates, parseDataPath, validateDateRange } from '../truelayer/data-paths';
import { TrueLayerError } from '../truelayer/errors';
import { type ConnectionRecord, effectiveStatus } from './connection';
import { loadOwned } from './load-owned';
import { type CachedResponse, ResponseCache } from './response-cache';
import type { Caller, ConnectionServices, RequestBudget } from './services';
import type { TransactionPages } from './transaction-pages';
import type { UnattendedBudget } from './unattended-budget';
import { mapUpstreamError } from './upstream-errors';

export interface DataRequest {
  connectionId: string;
  /** The data path after `/connections/{id}/`, e.g. `accounts/abc/transactions`. */
  path: string;
  query: Record<string, string | undefined>;
  /** The end user's IP when they are present (X-PSU-IP), which lifts the unattended 4-a-day limit. */
  psuIp?: string | undefined;
  /** When the answer is due and when the invocation ends (real epoch ms); the data call ends by `answerBy`. */
  budget?: RequestBudget | undefined;
  /** The client's `If-None-Match`: a matching ETag answers 304 with no body. */
  ifNoneMatch?: string | undefined;
}

/** What reading at the bank's pace needs beyond the connection services. */
export interface ReadPaceServices {
  budget: UnattendedBudget;
  cache: ResponseCache;
  pages: TransactionPages;
}

/** The answer: 200 with the body text, or 304 without; headers to send either way. */
export interface DataAnswer {
  status: 200 | 304;
  bodyText?: string;
  headers: Record<string, string>;
}

const rangeQuery = new Set(['from', 'to']);
const pageQuery = new Set(['from', 'to', 'limit', 'cursor']);

/** Settled transactions come in pages; pending ones are few and come whole. */
const isPaged = (path: DataPath): boolean => path.supportsDateRange && !path.template.endsWith('/pending');

export const readData = async (
  services: ConnectionServices,
  pace: ReadPaceServices,
  caller: Caller,
  request: DataRequest,
): Promise<DataAnswer> => {
  const path = parseDataPath(request.path);
  if (!path) {
    throw new ServiceError({
      code: 'not_found',
      title: 'Unknown data path',
      detail: `"${request.path.slice(0, 100)}" is not a Data API path; use one of: ${dataPathTemplates.map((t) => t.replace('/data/v1/', '')).join(', ')}.`,
    });
  }
  const paged = isPaged(path);
  const allowedQuery = paged ? pageQuery : rangeQuery;
  const unknown = Object.keys(request.query).filter((name) => !allowedQuery.has(name));
  if (unknown.length) {
    throw new ValidationError(
      `Unknown query parameter(s): ${unknown.map((n) => `"${n.slice(0, 40)}"`).join(', ')}; only "from" and "to" are accepted, on transaction paths, and "limit" and "cursor" on settled transactions.`,
    );
  }
  const range = {
    ...(request.query.from !== undefined ? { from: request.query.from } : {}),
    ...(request.query.to !== undefined ? { to: request.query.to } : {}),
  };
  const problems = validateDateRange(path, range);
  if (problems.length) throw new ServiceError({ code: 'invalid_date_range', detail: problems.join(' ') });
  // A zone id (fe80::1%eth0) is a local interface, never an end user's address.
  if (request.psuIp !== undefined && (isIP(request.psuIp) === 0 || request.psuIp.includes('%')))
    throw new ValidationError("X-PSU-IP must be the end user's IPv4 or IPv6 address.");

  const record = await loadOwned(services, caller, request.connectionId);
  const effective = effectiveStatus(record, services.clock.now());
  if (effective.status === 'inactive') throw new ConnectionInactiveError(effective.reason);
  // Whoever finished the bank's dialog may not be the owner: nothing is read until the owner completes it.
  if (record.status === 'authorized') throw new ConnectionNotConfirmedError();
  const budget = request.budget ?? {};
  const owner = { connectionId: record.connectionId, owner: record.owner };

  const plan = paged ? await pace.pages.plan(owner, path.path, request.query, services.clock.now()) : undefined;
  const upstreamQuery = plan ? plan.upstream : range;
  const requestHash = ResponseCache.requestHash(path.path, plan ? plan.canonical : JSON.stringify([range.from ?? null, range.to ?? null]));

  // `/me` is TrueLayer's own record of the connection, not a call to the bank: never limited.
  const unattended = request.psuIp === undefined && path.kind !== 'me';
  const scope = { connectionId: record.connectionId, template: path.template, accountId: path.accountId };
  /** The kept copy of this answer, served (and counted) instead of a call upstream; undefined when none is kept. */
  const keptAnswer = async (why: string, headers: Record<string, string>): Promise<DataAnswer | undefined> => {
    const cached = await pace.cache.get(owner, requestHash);
    if (!cached) return undefined;
    const now = services.clock.now();
    services.log.info(`${why}: answered from the kept copy`, { endpoint: path.template, age_seconds: ageSeconds(cached, now) });
    services.metrics.count(metricNames.unattendedCacheHits);
    return fromCache(cached, now, headers, request.ifNoneMatch);
  };

  let slot: number | undefined;
  const answerHeaders: Record<string, string> = {};
  if (unattended) {
    const decision = await pace.budget.take(scope);
    answerHeaders['x-unattended-remaining'] = String(decision.remaining);
    if (!decision.granted) {
      const kept = await keptAnswer('unattended budget used up', answerHeaders);
      if (kept) return kept;
      throw new ServiceError({
        code: 'unattended_limit_reached',
        detail: `This endpoint has had ${pace.budget.limit} calls without the user present in the last 24 hours, the most the bank allows, and no earlier answer is kept. Retry after ${decision.retryAfterSeconds} seconds, or send X-PSU-IP when the user is present.`,
        headers: { 'retry-after': String(decision.retryAfterSeconds), ...answerHeaders },
      });
    }
    slot = decision.slot;
  }

  let sent = false;
  const call = (accessToken: string) => {
    sent = true;
    return services.data.get(path, {
      accessToken,
      ...(Object.keys(upstreamQuery).length ? { query: upstreamQuery } : {}),
      ...(request.psuIp ? { psuIp: request.psuIp } : {}),
      ...(budget.answerBy ? { deadline: budget.answerBy } : {}),
    });
  };

  let response: DataResponse;
  try {
    response = await fetchWithRefresh(services, record, call, budget);
  } catch (error) {
    // A slot for a call that never reached TrueLayer is given back; one that did counts, as at the bank.
    if (slot !== undefined && !sent) {
      await pace.budget.release(scope, slot).catch(() => undefined);
      answerHeaders['x-unattended-remaining'] = String(Number(answerHeaders['x-unattended-remaining']) + 1);
    }
    const bankSaysNo = error instanceof ServiceError && error.extra.upstream_code === 'provider_request_limit_exceeded';
    if (unattended && bankSaysNo) {
      // The bank counted differently from us: its own limit is reached, so the copy we keep is the answer.
      const kept = await keptAnswer('bank refused an unattended call', { ...answerHeaders, 'x-unattended-remaining': '0' });
      if (kept) return kept;
    }
    if (error instanceof ServiceError) Object.assign(error.headers, answerHeaders);
    throw error;
  }

  const fetchedAt = services.clock.now();
  let bodyText: string;
  let tag: string;
  if (plan) {
    const results = (response.body as { results?: unknown[] }).results ?? [];
    const page = pace.pages.page(plan, results);
    const core = { results: page.results, status: (response.body as { status?: unknown }).status ?? 'Succeeded' };
    const nextCursor = page.next ? await pace.pages.seal(owner, page.next) : undefined;
    const coreText = JSON.stringify(core);
    bodyText = nextCursor ? `${coreText.slice(0, -1)},"next_cursor":${JSON.stringify(nextCursor)}}` : coreText;
    // The sealed cursor differs on every call: the tag stands for the page and where the next one starts.
    tag = etagOf(`${coreText}|${page.next ? JSON.stringify([page.next.at, page.next.key, page.next.w]) : ''}`);
  } else {
    bodyText = JSON.stringify(response.body);
    tag = etagOf(bodyText);
  }
  await pace.cache.put(owner, requestHash, { bodyText, etag: tag, fetchedAt }, { attended: !unattended });
  const headers: Record<string, string> = {
    ...answerHeaders,
    'content-type': response.headers['content-type'] ?? 'application/json; charset=utf-8',
    etag: tag,
    'x-data-source': 'truelayer',
    ...(response.headers['x-tl-correlation-id'] ? { 'x-tl-correlation-id': response.headers['x-tl-correlation-id'] } : {}),
  };
  if (matches(request.ifNoneMatch, tag)) return { status: 304, headers };
  return { status: 200, bodyText, headers };
};

/** One Data API call; a token TrueLayer refuses gets one forced refresh and one retry. */
const fetchWithRefresh = async (
  services: ConnectionServices,
  record: ConnectionRecord,
  call: (accessToken: string) => Promise<DataResponse>,
  budget: RequestBudget,
): Promise<DataResponse> => {
  let fresh = await services.vault.freshAccessToken(record, budget);
  // A token close to expiry is refreshed alongside the data call, which still uses the valid one;
  // awaited before answering, since nothing runs once the function has returned.
  const ahead = services.vault.refreshAhead(fresh, budget);
  try {
    const answer = await call(fresh.accessToken);
    await noteFetch(services, fresh.record);
    return answer;
  } catch (error) {
    if (error instanceof TrueLayerError) await noteFetch(services, fresh.record, error.code ?? `upstream_${error.status}`);
    if (!(error instanceof TrueLayerError)) throw error;
    if (error.status === 401) {
      // A token we thought valid was refused (or just replaced by the refresh ahead): one forced
      // refresh, or the result of the one in flight, and one retry.
      fresh = await services.vault.freshAccessToken(fresh.record, { ...budget, rejectedToken: fresh.accessToken });
      try {
        return await call(fresh.accessToken);
      } catch (retryError) {
        throw await settleUpstream(services, fresh.record, retryError);
      }
    }
    throw await settleUpstream(services, fresh.record, error);
  } finally {
    await ahead;
  }
};

const ageSeconds = (cached: CachedResponse, now: number): number => Math.max(0, Math.floor((now - cached.fetchedAt) / 1000));

const fromCache = (cached: CachedResponse, now: number, headers: Record<string, string>, ifNoneMatch: string | undefined): DataAnswer => {
  const tag = cached.etag;
  const all = {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    etag: tag,
    'x-data-source': 'cache',
    age: String(ageSeconds(cached, now)),
  };
  if (matches(ifNoneMatch, tag)) return { status: 304, headers: all };
  return { status: 200, bodyText: cached.bodyText, headers: all };
};

/** A strong validator: a hash of exactly the bytes (or, for pages, the content) answered. */
export const etagOf = (text: string): string => `"${createHash('sha256').update(text).digest('base64url').slice(0, 32)}"`;

/** `If-None-Match` uses the weak comparison (RFC 9110 §13.1.2): `W/` is ignored, `*` matches anything. */
const matches = (header: string | undefined, tag: string): boolean => {
  if (!header) return false;
  return header.split(',').some((candidate) => {
    const value = candidate.trim().replace(/^W\//, '');
    return value === '*' || value === tag;
  });
};

/** For the connection's view: the last answer (at most one write a minute) and the last failure. */
const noteFetch = async (services: ConnectionServices, record: ConnectionRecord, errorCode?: string): Promise<void> => {
  const now = services.clock.now();
  if (!errorCode && record.lastFetchedAt && now - Date.parse(record.lastFetchedAt) < 60_000) return;
  await services.repository.noteFetch(record.connectionId, isoAt(now), errorCode).catch(() => undefined);
};

/** A 403 `access_denied` means the consent is gone: the connection is marked inactive. */
const settleUpstream = async (services: ConnectionServices, record: ConnectionRecord, error: unknown): Promise<unknown> => {
  if (error instanceof TrueLayerError && error.status === 403 && error.code === 'access_denied') {
    // After the consent's end the state machine records it as consent_expired, not a revocation.
    const applied = await services.repository.transition(record, 'consent_revoked', {
      now: services.clock.now(),
      detail: 'access_denied',
      newEventId: services.newId,
    });
    if (applied) await services.outbox.flushQuietly(applied.record);
    return new ConnectionInactiveError(applied?.result.reason ?? record.statusReason ?? 'consent_revoked', {
      upstream_code: 'access_denied',
    });
  }
  return mapUpstreamError(error);
};
