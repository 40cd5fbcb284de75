/**
 * The lifecycle worker's core: everything due between requests. It reads only the connections the
 * sparse due index lists as due, and for each: lapses an unused auth link, revokes at TrueLayer a
 * connection its owner did not complete in time (`not_confirmed`), ends a consent that passed,
 * sends the expiry notice due, refreshes a refresh token about to die unused, and publishes
 * what the outbox holds. Safe to run twice at once (conditional writes, the refresh lease); one
 * item failing never stops the run, and it stays due, so the next run retries it.
 */

import { expireUnconfirmed } from '../connections/complete-connection';
import { type ConnectionRecord, isUnconfirmed } from '../connections/connection';
import type { ConnectionServices } from '../connections/services';
import type { TransitionInput, TransitionName } from '../connections/state-machine';
import { ConnectionInactiveError, ServiceError } from '../errors';
import { dueNotice, keepAliveDue, lifecycleTimes } from './schedule';

export interface LifecycleRunOptions {
  /** Epoch ms the run acts at; default the clock's now. */
  now?: number;
  /** Items worked on at once. */
  concurrency?: number;
  /** Real-time epoch ms after which no new item is started (the rest stay due for the next run). */
  deadline?: number;
  /** Tries per event publish (with backoff). */
  publishAttempts?: number;
}

export interface LifecycleRunResult {
  at: string;
  /** Index entries read plus items read: what the run cost in reads. */
  itemsRead: number;
  due: number;
  processed: number;
  refreshed: number;
  notices: number;
  expired: number;
  linksLapsed: number;
  /** `authorized` connections their owner did not complete in time, revoked (`not_confirmed`). */
  unconfirmed: number;
  refreshFailed: number;
  eventsPublished: number;
  /** Left for the next run: the deadline came, or another holder had the lease. */
  deferred: number;
  failures: { connection_id: string; error: string }[];
}

type Tally = Omit<LifecycleRunResult, 'at' | 'itemsRead' | 'due' | 'failures'>;

const describe = (error: unknown): string =>
  error instanceof ServiceError ? error.code : error instanceof Error ? `${error.name}: ${error.message}` : String(error);

export const runLifecycle = async (services: ConnectionServices, options: LifecycleRunOptions = {}): Promise<LifecycleRunResult> => {
  const now = options.now ?? services.clock.now();
  const { ids, itemsRead: indexRead } = await services.repository.dueConnectionIds(now);
  const tally: Tally = {
    processed: 0,
    refreshed: 0,
    notices: 0,
    expired: 0,
    linksLapsed: 0,
    unconfirmed: 0,
    refreshFailed: 0,
    eventsPublished: 0,
    deferred: 0,
  };
  const failures: LifecycleRunResult['failures'] = [];
  let itemsRead = indexRead;
  let next = 0;
  const workOne = async (): Promise<void> => {
    for (;;) {
      const id = ids[next];
      next += 1;
      if (id === undefined) return;
      if (options.deadline !== undefined && Date.now() > options.deadline) {
        tally.deferred += 1;
        continue;
      }
      try {
        itemsRead += 1;
        const record = await services.repository.get(id);
        if (record) await processConnection(services, record, now, tally, options.publishAttempts ?? 3);
        tally.processed += 1;
      } catch (error) {
        failures.push({ connection_id: id, error: describe(error) });
        services.log.warn('lifecycle work failed; it stays due for the next run', { connection_id: id, error: describe(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 8) }, workOne));
  return { at: new Date(now).toISOString(), itemsRead, due: ids.length, ...tally, failures };
};

const processConnection = async (
  services: ConnectionServices,
  initial: ConnectionRecord,
  now: number,
  tally: Tally,
  publishAttempts: number,
): Promise<void> => {
  const { repository } = services;
  let record = initial;
  let wrote = false;
  const apply = async (name: TransitionName, input: Omit<TransitionInput, 'now'> & { noticesSent?: number[] } = {}): Promise<boolean> => {
    const applied = await repository.transition(record, name, { now, newEventId: services.newId, ...input });
    if (applied) record = applied.record;
    wrote ||= Boolean(applied);
    return Boolean(applied);
  };

  const consentEnded = record.consentExpiresAt !== undefined && Date.parse(record.consentExpiresAt) <= now;
  if (record.status === 'authorization_required' && Date.parse(record.authLinkExpiresAt) <= now) {
    if (await apply('link_expired')) tally.linksLapsed += 1;
  } else if (isUnconfirmed(record, now)) {
    // Revoked at TrueLayer with its tokens erased, through the state machine (connection.revoked).
    if (await expireUnconfirmed(services, record, now)) {
      tally.unconfirmed += 1;
      wrote = true;
      record = (await repository.get(record.connectionId)) ?? record;
    }
  } else if ((record.status === 'active' || record.status === 'authorized') && consentEnded) {
    if (await apply('consent_ended')) tally.expired += 1;
  } else {
    const notice = dueNotice(record, now);
    if (notice && (await apply('expiry_notice', { daysLeft: notice.daysLeft, noticesSent: notice.sent }))) tally.notices += 1;
    if (keepAliveDue(record, now)) {
      try {
        const before = record.lastRefreshedAt;
        record = (await services.vault.keepAlive(record, now - lifecycleTimes.keepAliveAfterMs)).record;
        if (record.lastRefreshedAt !== before) {
          tally.refreshed += 1;
          wrote = true;
        }
      } catch (error) {
        if (error instanceof ConnectionInactiveError) {
          // The vault ended it (connection.refresh_failed is in its outbox): publish below.
          tally.refreshFailed += 1;
          wrote = true;
          record = (await repository.get(record.connectionId)) ?? record;
        } else if (error instanceof ServiceError && error.code === 'refresh_in_progress') tally.deferred += 1;
        else throw error;
      }
    }
  }

  // Whatever the steps above (or an earlier crash) left in the outbox goes out now, in order.
  if (record.outbox?.length) {
    // Awaited first: `tally.x += await …` would read tally.x before the wait and lose other items' counts.
    const published = await services.outbox.flush(record, publishAttempts);
    tally.eventsPublished += published;
    return;
  }
  // Every write recomputes the item's due time; an item whose work needed no write (a keep-alive
  // another request already did, a spurious due time) gets its due time rewritten here.
  if (!wrote) await repository.reschedule(record, now);
};
