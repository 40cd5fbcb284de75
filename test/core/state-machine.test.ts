/** The transition table, read as a specification: what each change does from each status. */
import { describe, expect, it } from 'vitest';
import type { StatusReason, StoredStatus } from '../../shared/connections/connection';
import { type TransitionName, transition, transitions } from '../../shared/connections/state-machine';

const now = Date.parse('2026-06-01T00:00:00Z');
const day = 86_400_000;
const future = new Date(now + 30 * day).toISOString();
const past = new Date(now - day).toISOString();
const at = (status: StoredStatus, statusReason?: StatusReason, consentExpiresAt: string | undefined = future) => ({
  status,
  statusReason,
  consentExpiresAt,
});

describe('the connection journey', () => {
  it('goes authorization_required → authorized (code exchanged) → active (completed), announcing only the activation', () => {
    const exchanged = transition(at('authorization_required', undefined, undefined), 'code_exchanged', { now });
    expect(exchanged).toMatchObject({ status: 'authorized', reason: undefined, events: [] });
    const completed = transition(at('authorized'), 'completed', { now });
    expect(completed).toMatchObject({ status: 'active', eraseTokens: false });
    expect(completed?.events).toEqual([{ type: 'connection.activated', data: { status: 'active', consent_expires_at: future } }]);
  });

  it('completes only an authorized connection', () => {
    for (const status of ['authorization_required', 'active', 'inactive'] as const)
      expect(transition(at(status), 'completed', { now })).toBeUndefined();
  });

  it.each([
    ['completion_failed', 'completion_failed'],
    ['owner_mismatch', 'owner_mismatch'],
    ['not_confirmed', 'not_confirmed'],
  ] as const)('ends an authorized connection on %s: inactive, tokens erased, connection.revoked', (name, reason) => {
    const result = transition(at('authorized'), name, { now });
    expect(result).toMatchObject({ status: 'inactive', reason, eraseTokens: true });
    expect(result?.events).toEqual([
      { type: 'connection.revoked', data: { status: 'inactive', status_reason: reason, consent_expires_at: future } },
    ]);
    expect(transition(at('active'), name, { now })).toBeUndefined();
  });

  it('ends an unused auth link quietly: denied, failed or lapsed', () => {
    expect(transition(at('authorization_required'), 'user_denied', { now, detail: 'access_denied' })).toMatchObject({
      status: 'inactive',
      reason: 'user_denied',
      detail: 'access_denied',
      events: [],
    });
    expect(transition(at('authorization_required'), 'authorization_failed', { now })).toMatchObject({
      status: 'inactive',
      reason: 'authorization_failed',
      events: [],
    });
    expect(transition(at('authorization_required'), 'link_expired', { now })).toMatchObject({
      status: 'inactive',
      reason: 'authorization_expired',
      events: [],
    });
    expect(transition(at('active'), 'user_denied', { now })).toBeUndefined();
  });
});

describe('endings of a live connection', () => {
  it.each([
    ['refresh_refused', 'refresh_rejected', 'connection.refresh_failed'],
    ['refresh_lost', 'refresh_lost', 'connection.refresh_failed'],
    ['consent_revoked', 'consent_revoked', 'connection.revoked'],
    ['consent_ended', 'consent_expired', 'connection.expired'],
  ] as const)('%s → inactive (%s), %s, tokens kept', (name, reason, event) => {
    for (const status of ['authorized', 'active'] as const) {
      const result = transition(at(status), name, { now });
      expect(result).toMatchObject({ status: 'inactive', reason, eraseTokens: false });
      expect(result?.events.map((e) => e.type)).toEqual([event]);
    }
  });

  it('calls a refusal or a 403 after the consent ended what it is: the consent ended', () => {
    for (const name of ['refresh_refused', 'refresh_lost', 'consent_revoked'] as const) {
      const result = transition(at('active', undefined, past), name, { now });
      expect(result).toMatchObject({ name: 'consent_ended', reason: 'consent_expired' });
      expect(result?.events.map((e) => e.type)).toEqual(['connection.expired']);
    }
  });

  it('revokes from any status but a revoke, erasing the tokens', () => {
    for (const status of ['authorization_required', 'authorized', 'active'] as const) {
      expect(transition(at(status), 'revoked', { now })).toMatchObject({ status: 'inactive', reason: 'revoked', eraseTokens: true });
    }
    expect(transition(at('inactive', 'consent_expired'), 'revoked', { now })?.events.map((e) => e.type)).toEqual(['connection.revoked']);
  });

  it('supersedes only an active connection, naming the new one', () => {
    const result = transition(at('active'), 'superseded', { now, supersededBy: 'new-id' });
    expect(result).toMatchObject({ status: 'inactive', reason: 'superseded', eraseTokens: true });
    expect(result?.events[0]?.data).toMatchObject({ superseded_by: 'new-id', status_reason: 'superseded' });
    expect(transition(at('authorized'), 'superseded', { now, supersededBy: 'x' })).toBeUndefined();
  });
});

describe('a revoke is final', () => {
  it('refuses every change, the revoke itself included', () => {
    for (const name of Object.keys(transitions) as TransitionName[]) {
      expect(transition(at('inactive', 'revoked'), name, { now, daysLeft: 7 })).toBeUndefined();
    }
  });
});

describe('expiry notices', () => {
  it('keep the status and carry days_left', () => {
    const result = transition(at('active'), 'expiry_notice', { now, daysLeft: 7 });
    expect(result).toMatchObject({ status: 'active', changesStatus: false });
    expect(result?.events).toEqual([{ type: 'connection.expiring', data: { status: 'active', consent_expires_at: future, days_left: 7 } }]);
  });

  it('go out once per threshold', () => {
    expect(transition({ ...at('active'), expiryNoticesSent: [14, 7] }, 'expiry_notice', { now, daysLeft: 7 })).toBeUndefined();
    expect(transition({ ...at('active'), expiryNoticesSent: [14, 7] }, 'expiry_notice', { now, daysLeft: 1 })).toBeDefined();
  });
});

describe('the table', () => {
  it('never emits an event naming a token', () => {
    for (const name of Object.keys(transitions) as TransitionName[]) {
      for (const status of ['authorization_required', 'authorized', 'active', 'inactive'] as const) {
        const result = transition(at(status, 'consent_expired'), name, { now, daysLeft: 14, supersededBy: 'n' });
        expect(JSON.stringify(result?.events ?? [])).not.toMatch(/token|secret|code"/);
      }
    }
  });
});
