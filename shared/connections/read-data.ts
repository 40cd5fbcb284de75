/** GET /connections/{id}/{data path}: TrueLayer's Data API v1 body, fetched with a fresh access token. */
import { isIP } from 'node:net';
import { isoAt } from '../clock';
import { ConnectionInactiveError, ConnectionNotConfirmedError, ServiceError, ValidationError } from '../errors';
import { dataPathTemplates, parseDataPath, validateDateRange } from '../truelayer/data-paths';
import type { DataResponse } from '../truelayer/data-client';
import { TrueLayerError } from '../truelayer/errors';
import { effectiveStatus, type ConnectionRecord } from './connection';
import { loadOwned } from './load-owned';
import type { Caller, ConnectionServices, RequestBudget } from './services';
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
}

const allowedQuery = new Set(['from', 'to']);

export const readData = async (services: ConnectionServices, caller: Caller, request: DataRequest): Promise<DataResponse> => {
  const path = parseDataPath(request.path);
  if (!path) {
    throw new ServiceError({
      code: 'not_found',
      title: 'Unknown data path',
      detail: `"${request.path.slice(0, 100)}" is not a Data API path; use one of: ${dataPathTemplates.map((t) => t.replace('/data/v1/', '')).join(', ')}.`,
    });
  }
  const unknown = Object.keys(request.query).filter((name) => !allowedQuery.has(name));
  if (unknown.length) throw new ValidationError(`Unknown query parameter(s): ${unknown.map((n) => `"${n.slice(0, 40)}"`).join(', ')}; only "from" and "to" are accepted, on transaction paths.`);
  const range = { ...(request.query.from !== undefined ? { from: request.query.from } : {}), ...(request.query.to !== undefined ? { to: request.query.to } : {}) };
  const problems = validateDateRange(path, range);
  if (problems.length) throw new ServiceError({ code: 'invalid_date_range', detail: problems.join(' ') });
  // A zone id (fe80::1%eth0) is a local interface, never an end user's address.
  if (request.psuIp !== undefined && (isIP(request.psuIp) === 0 || request.psuIp.includes('%'))) throw new ValidationError('X-PSU-IP must be the end user\'s IPv4 or IPv6 address.');

  const record = await loadOwned(services, caller, request.connectionId);
  const effective = effectiveStatus(record, services.clock.now());
  if (effective.status === 'inactive') throw new ConnectionInactiveError(effective.reason);
  // Whoever finished the bank's dialog may not be the owner: nothing is read until the owner completes it.
  if (record.status === 'authorized') throw new ConnectionNotConfirmedError();

  const budget = request.budget ?? {};
  const call = (accessToken: string) =>
    services.data.get(path, {
      accessToken,
      ...(Object.keys(range).length ? { query: range } : {}),
      ...(request.psuIp ? { psuIp: request.psuIp } : {}),
      ...(budget.answerBy ? { deadline: budget.answerBy } : {}),
    });

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
    const applied = await services.repository.transition(record, 'consent_revoked', { now: services.clock.now(), detail: 'access_denied', newEventId: services.newId });
    if (applied) await services.outbox.flushQuietly(applied.record);
    return new ConnectionInactiveError(applied?.result.reason ?? record.statusReason ?? 'consent_revoked', { upstream_code: 'access_denied' });
  }
  return mapUpstreamError(error);
};


