/** The connection record and its lifecycle: status is computed against the clock on every read. */
export type StoredStatus = 'authorization_required' | 'authorized' | 'active' | 'inactive';
export type ConnectionStatus = StoredStatus;

export type StatusReason =
  | 'user_denied'
  | 'authorization_failed'
  | 'authorization_expired'
  | 'consent_expired'
  | 'consent_revoked'
  | 'refresh_rejected'
  /** A refresh was sent, no answer came, and the stored refresh token was then refused. */
  | 'refresh_lost'
  | 'revoked'
  /** The fifth wrong completion code. */
  | 'completion_failed'
  /** Someone other than the creator completed it: the bank behind it is not the creator's. */
  | 'owner_mismatch'
  /** Not completed by its owner within 10 minutes of the callback. */
  | 'not_confirmed'
  /** Replaced by a newer connection of the same owner to the same accounts. */
  | 'superseded';

import type { ConnectionEvent } from '../lifecycle/events';

/** What is stored for a connection (the item, minus DynamoDB keys). */
export interface ConnectionRecord {
  connectionId: string;
  owner: string;
  status: StoredStatus;
  statusReason?: StatusReason | undefined;
  /** TrueLayer's error code when the status came from TrueLayer (e.g. `access_denied`). */
  statusDetail?: string | undefined;
  scopes: string[];
  providers: string;
  providerId?: string | undefined;
  responseMode: 'query' | 'form_post';
  returnUrl?: string | undefined;
  redirectUri: string;
  createdAt: string;
  updatedAt: string;
  authLinkExpiresAt: string;
  provider?: { providerId: string; displayName?: string | undefined } | undefined;
  credentialsId?: string | undefined;
  consentCreatedAt?: string | undefined;
  consentExpiresAt?: string | undefined;
  /** Encrypted `{access_token, refresh_token}`; absent before the exchange and after revoke. */
  tokens?: string | undefined;
  accessTokenExpiresAt?: number | undefined;
  lastRefreshedAt?: string | undefined;
  refreshCount: number;
  /**
   * Set when a call that spends the refresh token (refresh, extend) was sent and no answer came:
   * TrueLayer may have rotated the pair. Cleared by the next token write.
   */
  refreshOutcomeUnknownAt?: string | undefined;
  version: number;
  leaseHolder?: string | undefined;
  leaseExpiresAt?: number | undefined;
  /** Last Data API answer served for it (rough: written at most once a minute). */
  lastFetchedAt?: string | undefined;
  lastError?: { code: string; at: string } | undefined;
  /** Which `connection.expiring` notices (days before the end) went out for this consent. */
  expiryNoticesSent?: number[] | undefined;
  /** Events written with the change they report and not yet published. */
  outbox?: ConnectionEvent[] | undefined;
  /** Keyed hashes of the accounts' sort code + number or IBAN, to find duplicate connections. */
  accountHashes?: string[] | undefined;
  /** While `authorized`: the sha256 (hex) of the one-time completion code, never the code. */
  completionCodeHash?: string | undefined;
  /** While `authorized`: when the owner's time to complete it runs out. */
  completionExpiresAt?: string | undefined;
  /** Wrong completion codes presented so far. */
  completionTries?: number | undefined;
}

export interface ConnectionView {
  connection_id: string;
  status: ConnectionStatus;
  status_reason?: string;
  provider?: { provider_id: string; display_name?: string };
  scopes: string[];
  created_at: string;
  updated_at: string;
  consent_expires_at?: string;
  auth_link_expires_at?: string;
  completion_expires_at?: string;
  return_url?: string;
  last_refreshed_at?: string;
  last_fetched_at?: string;
  last_error?: { code: string; at: string };
  next_action?: { action: 'reconfirm_consent'; by: string } | { action: 'reconnect' };
}

export interface EffectiveStatus {
  status: ConnectionStatus;
  reason?: StatusReason | undefined;
}

/** An `authorized` connection its owner did not complete in time (one without a deadline predates completion). */
export const isUnconfirmed = (record: Pick<ConnectionRecord, 'status' | 'completionExpiresAt'>, now: number): boolean =>
  record.status === 'authorized' && record.completionExpiresAt !== undefined && Date.parse(record.completionExpiresAt) <= now;

/** The status a reader should see now, whatever has been written down so far. */
export const effectiveStatus = (record: ConnectionRecord, now: number): EffectiveStatus => {
  if (record.status === 'inactive') return { status: 'inactive', reason: record.statusReason };
  if (record.status === 'authorization_required' && Date.parse(record.authLinkExpiresAt) <= now) {
    return { status: 'inactive', reason: 'authorization_expired' };
  }
  if (record.status === 'authorized' && isUnconfirmed(record, now)) return { status: 'inactive', reason: 'not_confirmed' };
  if (record.consentExpiresAt && Date.parse(record.consentExpiresAt) <= now) {
    return { status: 'inactive', reason: 'consent_expired' };
  }
  return { status: record.status };
};

export const toView = (record: ConnectionRecord, now: number): ConnectionView => {
  const { status, reason } = effectiveStatus(record, now);
  return {
    connection_id: record.connectionId,
    status,
    ...(reason ? { status_reason: reason } : {}),
    ...(record.provider
      ? {
          provider: {
            provider_id: record.provider.providerId,
            ...(record.provider.displayName ? { display_name: record.provider.displayName } : {}),
          },
        }
      : {}),
    scopes: record.scopes,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    ...(record.consentExpiresAt ? { consent_expires_at: record.consentExpiresAt } : {}),
    ...(record.status === 'authorization_required' ? { auth_link_expires_at: record.authLinkExpiresAt } : {}),
    ...(status === 'authorized' && record.completionExpiresAt ? { completion_expires_at: record.completionExpiresAt } : {}),
    ...(record.returnUrl ? { return_url: record.returnUrl } : {}),
    ...(record.lastRefreshedAt ? { last_refreshed_at: record.lastRefreshedAt } : {}),
    ...(record.lastFetchedAt ? { last_fetched_at: record.lastFetchedAt } : {}),
    ...(record.lastError ? { last_error: { code: record.lastError.code, at: record.lastError.at } } : {}),
    ...nextAction(record, { status, reason }, now),
  };
};

const reconfirmWindowMs = 14 * 86_400_000;

/** Endings the user can undo by connecting again (not a delete, a replacement, or someone else's bank). */
const reconnectable = new Set<StatusReason>([
  'consent_expired',
  'consent_revoked',
  'refresh_rejected',
  'refresh_lost',
  'authorization_expired',
  'authorization_failed',
  'user_denied',
  'not_confirmed',
]);

/** What the app should ask its user to do next, if anything. */
const nextAction = (record: ConnectionRecord, effective: EffectiveStatus, now: number): Pick<ConnectionView, 'next_action'> => {
  if (effective.status === 'inactive')
    return effective.reason && reconnectable.has(effective.reason) ? { next_action: { action: 'reconnect' } } : {};
  if (effective.status === 'active' && record.consentExpiresAt && Date.parse(record.consentExpiresAt) - now <= reconfirmWindowMs) {
    return { next_action: { action: 'reconfirm_consent', by: record.consentExpiresAt } };
  }
  return {};
};
