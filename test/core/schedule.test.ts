/** When a connection is next due for the lifecycle worker, from the connection alone. */
import { describe, expect, it } from 'vitest';
import { dueNotice, keepAliveDue, nextDueAt } from '../../shared/lifecycle/schedule';

const t0 = Date.parse('2026-01-01T00:00:00Z');
const day = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();
const active = {
  status: 'active' as const,
  authLinkExpiresAt: iso(t0 + 600_000),
  consentExpiresAt: iso(t0 + 90 * day),
  lastRefreshedAt: iso(t0),
  tokens: 'v1.x',
  expiryNoticesSent: undefined as number[] | undefined,
  outbox: undefined,
};

describe('next due time', () => {
  it('is the keep-alive 25 days after the refresh token was last used', () => {
    expect(nextDueAt(active, t0)).toBe(t0 + 25 * day);
    expect(keepAliveDue(active, t0 + 25 * day - 1)).toBe(false);
    expect(keepAliveDue(active, t0 + 25 * day)).toBe(true);
  });

  it('is the 14-day notice when that comes before the keep-alive, then the next unsent one', () => {
    const late = { ...active, lastRefreshedAt: iso(t0 + 75 * day) };
    expect(nextDueAt(late, t0 + 75 * day)).toBe(t0 + 76 * day);
    expect(nextDueAt({ ...late, expiryNoticesSent: [14] }, t0 + 76 * day)).toBe(t0 + 83 * day);
    expect(nextDueAt({ ...late, expiryNoticesSent: [14, 7, 1] }, t0 + 89 * day)).toBe(t0 + 90 * day);
  });

  it('is now while the outbox holds events', () => {
    expect(nextDueAt({ ...active, status: 'inactive', outbox: [{}] as never }, t0 + day)).toBe(t0 + day);
  });

  it('is the link expiry for an unused link, and nothing for an ended connection', () => {
    expect(
      nextDueAt(
        { ...active, status: 'authorization_required', tokens: undefined, consentExpiresAt: undefined, lastRefreshedAt: undefined },
        t0,
      ),
    ).toBe(t0 + 600_000);
    expect(nextDueAt({ ...active, status: 'inactive' }, t0)).toBeUndefined();
  });

  it('is the completion deadline for a connection waiting for its owner, and not once it is active', () => {
    const authorized = { ...active, status: 'authorized' as const, completionExpiresAt: iso(t0 + 600_000) };
    expect(nextDueAt(authorized, t0)).toBe(t0 + 600_000);
    expect(nextDueAt({ ...authorized, status: 'active' }, t0)).toBe(t0 + 25 * day);
  });
});

describe('the notice due', () => {
  it('is the nearest threshold passed, and a late run counts the earlier ones as sent', () => {
    expect(dueNotice(active, t0 + 75 * day)).toBeUndefined();
    expect(dueNotice(active, t0 + 76 * day)).toEqual({ daysLeft: 14, sent: [14] });
    expect(dueNotice(active, t0 + 89.5 * day)).toEqual({ daysLeft: 1, sent: [14, 7, 1] });
    expect(dueNotice({ ...active, expiryNoticesSent: [14] }, t0 + 80 * day)).toBeUndefined();
    expect(dueNotice(active, t0 + 90 * day)).toBeUndefined();
  });
});
