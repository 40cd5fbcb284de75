/**
 * When a connection next needs the lifecycle worker, computed from the connection alone. Every
 * write stores the result in the sparse due index, so a run reads only what is due.
 */
import type { ConnectionRecord } from '../connections/connection';

const day = 86_400_000;

export const lifecycleTimes = {
  /** TrueLayer refresh tokens die after 30 days unused; refresh well before. */
  keepAliveAfterMs: 25 * day,
  /** `connection.expiring` this many days before the consent ends, each once. */
  noticeDays: [14, 7, 1] as readonly number[],
} as const;

export type Schedulable = Pick<
  ConnectionRecord,
  'status' | 'authLinkExpiresAt' | 'consentExpiresAt' | 'lastRefreshedAt' | 'tokens' | 'expiryNoticesSent' | 'outbox'
> &
  Partial<Pick<ConnectionRecord, 'completionExpiresAt'>>;

const at = (iso: string | undefined): number | undefined => (iso === undefined ? undefined : Date.parse(iso));

/** Epoch ms of the next due work, or undefined when there is none (the item leaves the index). */
export const nextDueAt = (record: Schedulable, now: number): number | undefined => {
  const times: number[] = [];
  if ((record.outbox?.length ?? 0) > 0) times.push(now);
  if (record.status === 'authorization_required') times.push(Date.parse(record.authLinkExpiresAt));
  // An owner who does not complete in time: the worker revokes it at TrueLayer (not_confirmed).
  if (record.status === 'authorized') {
    const deadline = at(record.completionExpiresAt);
    if (deadline !== undefined) times.push(deadline);
  }
  if (record.status === 'authorized' || record.status === 'active') {
    const lastUsed = at(record.lastRefreshedAt);
    if (record.tokens && lastUsed !== undefined) times.push(lastUsed + lifecycleTimes.keepAliveAfterMs);
    const expires = at(record.consentExpiresAt);
    if (expires !== undefined) {
      times.push(expires);
      if (record.status === 'active') {
        for (const days of lifecycleTimes.noticeDays) if (!record.expiryNoticesSent?.includes(days)) times.push(expires - days * day);
      }
    }
  }
  const valid = times.filter((t) => Number.isFinite(t));
  return valid.length ? Math.min(...valid) : undefined;
};

/**
 * The expiry notice due now, if any: the nearest threshold passed and not yet sent. A run that
 * comes late sends that one only and counts the earlier thresholds as sent.
 */
export const dueNotice = (record: Schedulable, now: number): { daysLeft: number; sent: number[] } | undefined => {
  const expires = at(record.consentExpiresAt);
  if (record.status !== 'active' || expires === undefined || now >= expires) return undefined;
  const sent = record.expiryNoticesSent ?? [];
  const passed = lifecycleTimes.noticeDays.filter((days) => expires - days * day <= now && !sent.includes(days));
  if (passed.length === 0) return undefined;
  const daysLeft = Math.min(...passed);
  return { daysLeft, sent: [...new Set([...sent, ...lifecycleTimes.noticeDays.filter((days) => days >= daysLeft)])].sort((a, b) => b - a) };
};

export const keepAliveDue = (record: Schedulable, now: number): boolean => {
  const lastUsed = at(record.lastRefreshedAt);
  return (
    (record.status === 'active' || record.status === 'authorized') &&
    Boolean(record.tokens) &&
    lastUsed !== undefined &&
    lastUsed + lifecycleTimes.keepAliveAfterMs <= now
  );
};
