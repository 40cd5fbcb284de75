/**
 * Every status change a connection can make, in one table: which statuses a change applies to, the
 * status and reason it leads to, whether the tokens are erased, and the event apps are told of.
 * Use cases ask `transition()` what happens and the repository writes exactly that, so no other
 * module decides a status.
 */
import type { ConnectionRecord, StatusReason, StoredStatus } from './connection';

export type EventType =
  | 'connection.activated'
  | 'connection.expiring'
  | 'connection.expired'
  | 'connection.refresh_failed'
  | 'connection.revoked'
  | 'connection.superseded';

export type TransitionName =
  /** The callback exchanged the code and stored the tokens: waiting for the owner to complete. */
  | 'code_exchanged'
  /** The owner completed the connection with the completion code the callback gave the return URL. */
  | 'completed'
  /** A re-authentication (extend) stored a new token pair and consent. */
  | 'extended'
  | 'completion_failed'
  | 'owner_mismatch'
  | 'not_confirmed'
  | 'user_denied'
  | 'authorization_failed'
  /** The auth link lapsed unused. */
  | 'link_expired'
  /** TrueLayer refused the refresh token (`invalid_grant`), or there is none to refresh with. */
  | 'refresh_refused'
  /** A refresh was sent, no answer came, and the stored refresh token was then refused. */
  | 'refresh_lost'
  /** `consent_expires_at` passed. */
  | 'consent_ended'
  /** TrueLayer answered 403 `access_denied`: the user withdrew consent at the bank. */
  | 'consent_revoked'
  /** The owner deleted it. */
  | 'revoked'
  /** A newer connection of the same owner covers the same accounts. */
  | 'superseded'
  /** 14, 7 or 1 day(s) before the consent ends; the status stays as it is. */
  | 'expiry_notice';

export interface TransitionRule {
  /** The stored statuses this change applies to; from anything else it is refused. */
  from: readonly StoredStatus[];
  /** Absent: the status stays as it is. */
  to?: StoredStatus;
  /** `null` clears the reason. */
  reason?: StatusReason | null;
  eraseTokens?: boolean;
  emits?: EventType;
}

const live = ['authorized', 'active'] as const;
const anyButEnded = ['authorization_required', 'authorized', 'active'] as const;

/** The table. A revoked connection (inactive, `revoked`) accepts nothing: a revoke is final. */
export const transitions: Readonly<Record<TransitionName, TransitionRule>> = {
  code_exchanged: { from: ['authorization_required'], to: 'authorized', reason: null },
  completed: { from: ['authorized'], to: 'active', reason: null, emits: 'connection.activated' },
  // A re-authentication revives a consent that lapsed meanwhile (never a revoked one).
  extended: { from: [...live, 'inactive'], to: 'active', reason: null },
  completion_failed: { from: ['authorized'], to: 'inactive', reason: 'completion_failed', eraseTokens: true, emits: 'connection.revoked' },
  owner_mismatch: { from: ['authorized'], to: 'inactive', reason: 'owner_mismatch', eraseTokens: true, emits: 'connection.revoked' },
  not_confirmed: { from: ['authorized'], to: 'inactive', reason: 'not_confirmed', eraseTokens: true, emits: 'connection.revoked' },
  user_denied: { from: ['authorization_required'], to: 'inactive', reason: 'user_denied' },
  authorization_failed: { from: ['authorization_required'], to: 'inactive', reason: 'authorization_failed' },
  link_expired: { from: ['authorization_required'], to: 'inactive', reason: 'authorization_expired' },
  refresh_refused: { from: live, to: 'inactive', reason: 'refresh_rejected', emits: 'connection.refresh_failed' },
  refresh_lost: { from: live, to: 'inactive', reason: 'refresh_lost', emits: 'connection.refresh_failed' },
  consent_ended: { from: live, to: 'inactive', reason: 'consent_expired', emits: 'connection.expired' },
  consent_revoked: { from: live, to: 'inactive', reason: 'consent_revoked', emits: 'connection.revoked' },
  revoked: { from: [...anyButEnded, 'inactive'], to: 'inactive', reason: 'revoked', eraseTokens: true, emits: 'connection.revoked' },
  superseded: { from: ['active'], to: 'inactive', reason: 'superseded', eraseTokens: true, emits: 'connection.superseded' },
  expiry_notice: { from: ['active'], emits: 'connection.expiring' },
};

/** What a change needs beyond the connection itself. */
export interface TransitionInput {
  /** Epoch ms: decides whether a refused refresh or a 403 came after the consent ended. */
  now: number;
  /** For `superseded`: the connection that replaces this one. */
  supersededBy?: string;
  /** For `expiry_notice`. */
  daysLeft?: number;
  /** TrueLayer's error code behind the change, kept as `status_detail`. */
  detail?: string;
}

export interface EmittedEvent {
  type: EventType;
  data: { status: StoredStatus; status_reason?: StatusReason; consent_expires_at?: string; days_left?: number; superseded_by?: string };
}

export interface TransitionResult {
  name: TransitionName;
  /** The statuses the stored item must still have for the write to land. */
  from: readonly StoredStatus[];
  status: StoredStatus;
  /** `undefined`: the reason is cleared. */
  reason: StatusReason | undefined;
  detail: string | undefined;
  eraseTokens: boolean;
  /** False for a change that leaves the status as it is (an expiry notice). */
  changesStatus: boolean;
  events: EmittedEvent[];
}

export type Connectionish = Pick<ConnectionRecord, 'status' | 'statusReason' | 'consentExpiresAt'> &
  Partial<Pick<ConnectionRecord, 'expiryNoticesSent'>>;

const isRevoked = (c: Connectionish): boolean => c.status === 'inactive' && c.statusReason === 'revoked';

/**
 * A refusal or a 403 that comes once the consent has ended is the consent ending, whatever the
 * upstream said: apps hear `connection.expired`, not a failure they could fix.
 */
const resolveName = (connection: Connectionish, name: TransitionName, now: number): TransitionName => {
  const ended = connection.consentExpiresAt !== undefined && Date.parse(connection.consentExpiresAt) <= now;
  if (ended && (name === 'refresh_refused' || name === 'refresh_lost' || name === 'consent_revoked')) return 'consent_ended';
  return name;
};

/** The change `name` makes to `connection`, or undefined when it does not apply from its status. */
export const transition = (connection: Connectionish, requested: TransitionName, input: TransitionInput): TransitionResult | undefined => {
  const name = resolveName(connection, requested, input.now);
  const rule = transitions[name];
  if (isRevoked(connection) || !rule.from.includes(connection.status)) return undefined;
  // Each notice goes out once per consent, however many runs see it due.
  if (name === 'expiry_notice' && (input.daysLeft === undefined || connection.expiryNoticesSent?.includes(input.daysLeft)))
    return undefined;
  const status = rule.to ?? connection.status;
  const reason = rule.reason === undefined ? connection.statusReason : (rule.reason ?? undefined);
  const events: EmittedEvent[] = [];
  if (rule.emits) {
    events.push({
      type: rule.emits,
      data: {
        status,
        ...(reason ? { status_reason: reason } : {}),
        ...(connection.consentExpiresAt ? { consent_expires_at: connection.consentExpiresAt } : {}),
        ...(name === 'expiry_notice' && input.daysLeft !== undefined ? { days_left: input.daysLeft } : {}),
        ...(name === 'superseded' && input.supersededBy ? { superseded_by: input.supersededBy } : {}),
      },
    });
  }
  return {
    name,
    from: rule.from,
    status,
    reason,
    detail: rule.to === 'inactive' ? input.detail : undefined,
    eraseTokens: rule.eraseTokens ?? false,
    changesStatus: rule.to !== undefined,
    events,
  };
};
