/**
 * The token vault: seals token pairs into the connection item and hands out a fresh access token,
 * refreshing it single-flight under a conditional lease (one refresher per connection; the rest re-read) so that rotation never loses the newest
 * refresh token, and settling refreshes that were sent but never answered.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../clock';
import { isoAt } from '../clock';
import { refreshLeaseMsFor } from '../config';
import { type TokenCipher, TokenDecryptionError } from '../crypto/token-cipher';
import { ConnectionInactiveError, ConnectionNotReadyError, DependencyUnavailableError, NotFoundError, ServiceError } from '../errors';
import { type MetricsPort, metricNames, noMetrics } from '../metrics';
import type { TokenSet, TrueLayerAuthClient } from '../truelayer/auth-client';
import { TrueLayerError } from '../truelayer/errors';
import { type ConnectionRecord, effectiveStatus } from './connection';
import type { ConnectionRepository, TokenWrite } from './repository';
import type { RequestBudget } from './services';
import type { TransitionName } from './state-machine';
import { mapUpstreamError } from './upstream-errors';

export interface TokenPair {
  access_token: string;
  refresh_token?: string | undefined;
}

export interface TokenVaultOptions {
  repository: ConnectionRepository;
  cipher: TokenCipher;
  auth: Pick<TrueLayerAuthClient, 'refresh'>;
  clock: Clock;
  /** The longest one refresh call may take, retries included. Default 50 s. */
  tokenTimeoutMs?: number;
  /** Longer than one refresh call can take, so a live holder never loses its lease. Default: derived from `tokenTimeoutMs`. */
  leaseMs?: number;
  /** Ids for the events a status change emits. */
  newEventId?: () => string;
  /** Publishes what a status change put in the outbox, best effort (the worker publishes the rest). */
  afterTransition?: (record: ConnectionRecord) => Promise<void>;
  /** Refresh this long before the access token's expiry. */
  skewMs?: number;
  /** A read finding the token this close to expiry refreshes it alongside its data call (`refreshAhead`); 0: never. */
  refreshAheadMs?: number;
  /** How long a waiter sleeps between re-reads, and the most it waits in all (real time) when its caller gave no `answerBy`. */
  waitStepMs?: number;
  maxWaitMs?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Counts refreshes by outcome. */
  metrics?: MetricsPort;
}

export interface FreshToken {
  accessToken: string;
  record: ConnectionRecord;
}

export interface FreshTokenOptions extends RequestBudget {
  /** TrueLayer just answered 401 to this token: return another one. */
  rejectedToken?: string;
  /** Refresh unless a refresh happened after this (epoch ms), even if the access token is still valid. */
  refreshedAfter?: number;
}

/** Most a client is told to wait before asking again while another request refreshes. */
const maxRetryAfterSeconds = 5;

export class TokenVault {
  readonly leaseMs: number;
  readonly tokenTimeoutMs: number;
  private readonly skewMs: number;
  private readonly refreshAheadMs: number;
  private readonly waitStepMs: number;
  private readonly maxWaitMs: number;

  constructor(private readonly options: TokenVaultOptions) {
    this.tokenTimeoutMs = options.tokenTimeoutMs ?? 50_000;
    this.leaseMs = options.leaseMs ?? refreshLeaseMsFor(this.tokenTimeoutMs);
    this.skewMs = options.skewMs ?? 60_000;
    this.refreshAheadMs = options.refreshAheadMs ?? 0;
    this.waitStepMs = options.waitStepMs ?? 50;
    this.maxWaitMs = options.maxWaitMs ?? this.leaseMs;
  }

  seal(record: Pick<ConnectionRecord, 'connectionId' | 'owner'>, pair: TokenPair): Promise<string> {
    return this.options.cipher.encrypt(JSON.stringify(pair), { connectionId: record.connectionId, owner: record.owner });
  }

  async open(record: ConnectionRecord): Promise<TokenPair> {
    if (!record.tokens) throw new ConnectionInactiveError(record.statusReason ?? 'revoked');
    let plain: string;
    try {
      plain = await this.options.cipher.decrypt(record.tokens, { connectionId: record.connectionId, owner: record.owner });
    } catch (error) {
      // KMS being unreachable is worth a retry; a blob that will never decrypt is not.
      if (error instanceof TokenDecryptionError && error.reason === 'data_key_unavailable') {
        throw new DependencyUnavailableError('The key service is unavailable; try again shortly.', error);
      }
      if (error instanceof TokenDecryptionError) {
        // Tampered, or moved from another row: never usable, and worth an alarm.
        throw new ServiceError({
          code: 'tokens_unreadable',
          detail: "This connection's stored tokens are unusable; delete it and connect again.",
          cause: error,
        });
      }
      throw error;
    }
    return JSON.parse(plain) as TokenPair;
  }

  /**
   * An access token that is valid now. With `rejectedToken` (TrueLayer just answered 401 to it), a
   * token other than that one: one forced refresh, unless another request already did it. A request
   * that finds another one refreshing waits for its result until `answerBy`, then answers 409
   * `refresh_in_progress` with Retry-After while the holder carries on.
   */
  async freshAccessToken(record: ConnectionRecord, options: FreshTokenOptions = {}): Promise<FreshToken> {
    const { repository, clock } = this.options;
    const giveUpAt = options.answerBy ?? Date.now() + this.maxWaitMs;
    let current = record;
    for (;;) {
      const now = clock.now();
      this.assertUsable(current, now);
      const pair = await this.open(current);
      const refreshedRecently = options.refreshedAfter === undefined || Date.parse(current.lastRefreshedAt ?? '') > options.refreshedAfter;
      const stillValid =
        (current.accessTokenExpiresAt ?? 0) - this.skewMs > now && pair.access_token !== options.rejectedToken && refreshedRecently;
      if (stillValid) return { accessToken: pair.access_token, record: current };
      if (!pair.refresh_token) {
        const reason = await this.end(current, 'refresh_refused', 'no_refresh_token');
        throw new ConnectionInactiveError(reason, {
          detail: 'the connection was made without offline_access, so its access cannot be renewed',
        });
      }
      // A live lease seen in the item just read means someone is refreshing: no write to try.
      const leaseLive = (current.leaseExpiresAt ?? 0) > now;
      const holder = randomUUID();
      if (!leaseLive && (await repository.acquireLease(current.connectionId, current.version, holder, now, this.leaseMs))) {
        return this.refreshUnderLease(current, pair, holder, options);
      }
      // Someone else holds the lease (or the item moved on): wait for their result instead of
      // refreshing too, since with rotation a second refresh would revoke the first one's token.
      if (Date.now() + this.waitStepMs > giveUpAt) throw this.refreshInProgress(current, now);
      await sleep(this.waitStepMs);
      const reread = await repository.get(current.connectionId);
      if (!reread) throw new NotFoundError();
      current = reread;
    }
  }

  /**
   * A refresh whether or not the access token is still valid, unless one happened after
   * `refreshedAfter`: keeps the refresh token from dying unused (TrueLayer drops it after 30 days).
   */
  keepAlive(record: ConnectionRecord, refreshedAfter: number): Promise<FreshToken> {
    return this.freshAccessToken(record, { refreshedAfter });
  }

  /** Ends the connection as the state machine says for `name`; returns the reason now stored. */
  private async end(record: ConnectionRecord, name: TransitionName, detail: string): Promise<ConnectionRecord['statusReason']> {
    const now = this.options.clock.now();
    const applied = await this.options.repository.transition(record, name, {
      now,
      detail,
      newEventId: this.options.newEventId ?? randomUUID,
    });
    if (!applied) {
      const reread = await this.options.repository.get(record.connectionId);
      return reread?.statusReason ?? 'revoked';
    }
    await this.options.afterTransition?.(applied.record);
    return applied.result.reason;
  }

  /**
   * Runs `work` holding the refresh lease (anything that spends the refresh token takes it), and
   * releases it whatever happens; a write of tokens under the lease drops it itself. Undefined when
   * someone else holds it or the item moved on.
   */
  async withLease<T>(record: ConnectionRecord, work: (holder: string) => Promise<T>): Promise<{ value: T } | undefined> {
    const holder = randomUUID();
    if (!(await this.options.repository.acquireLease(record.connectionId, record.version, holder, this.options.clock.now(), this.leaseMs)))
      return undefined;
    try {
      return { value: await work(holder) };
    } finally {
      await this.options.repository.releaseLease(record.connectionId, holder).catch(() => undefined);
    }
  }

  /**
   * Stores a token pair TrueLayer just issued (a code exchange or an extend), with the status
   * change it makes. The item may have moved since it was read (a refresh, a status change): the
   * write is retried on the newest version, since these tokens are the newest TrueLayer issued.
   * `build` decides the write from the current record, or throws to store nothing.
   */
  async storeIssued(record: ConnectionRecord, build: (current: ConnectionRecord) => TokenWrite): Promise<ConnectionRecord> {
    const { repository, clock } = this.options;
    let current = record;
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const write = build(current);
      const now = clock.now();
      if (await this.persistently(() => repository.writeTokens(current, write, now))) {
        const { events, completion, refreshed: _refreshed, statusReason: _reason, ...fields } = write;
        const newConsent = write.consentExpiresAt !== undefined && write.consentExpiresAt !== current.consentExpiresAt;
        const stored: ConnectionRecord = {
          ...current,
          ...fields,
          status: write.status ?? current.status,
          version: current.version + 1,
          statusReason: write.statusReason === null ? undefined : current.statusReason,
          statusDetail: write.statusReason === null ? undefined : current.statusDetail,
          outbox: [...(current.outbox ?? []), ...(events ?? [])],
          ...(completion ? { completionCodeHash: completion.codeHash, completionExpiresAt: completion.expiresAt, completionTries: 0 } : {}),
          ...(newConsent ? { expiryNoticesSent: undefined } : {}),
          refreshOutcomeUnknownAt: undefined,
          leaseHolder: undefined,
          leaseExpiresAt: undefined,
        };
        if (write.events?.length) await this.options.afterTransition?.(stored);
        return stored;
      }
      const reread = await repository.get(current.connectionId);
      if (!reread) throw new NotFoundError();
      current = reread;
    }
    throw new ServiceError({ code: 'conflict', detail: 'The connection changed while its new tokens were stored; start again.' });
  }

  /**
   * For a read that has its token: when that token expires within `refreshAheadMs`, refreshes it
   * under the lease now, to run alongside the read's data call. Lambda freezes once the handler
   * returns, so the caller must await the promise before answering; the read then waits on the
   * longer of the two calls, not their sum. Never rejects: a failure is settled (and recorded) by
   * the refresh path, and the read keeps the data it fetched. Undefined when nothing is due.
   */
  refreshAhead(fresh: FreshToken, budget: RequestBudget = {}): Promise<void> | undefined {
    const { repository, clock } = this.options;
    const { record } = fresh;
    const now = clock.now();
    if (this.refreshAheadMs <= 0 || (record.accessTokenExpiresAt ?? 0) - now > this.refreshAheadMs) return undefined;
    if ((record.leaseExpiresAt ?? 0) > now) return undefined;
    return (async () => {
      try {
        const pair = await this.open(record);
        if (!pair.refresh_token) return;
        const holder = randomUUID();
        if (!(await repository.acquireLease(record.connectionId, record.version, holder, now, this.leaseMs))) return;
        await this.refreshUnderLease(record, pair, holder, budget);
      } catch (error) {
        this.options.log?.('refresh ahead of expiry failed; the next read retries', {
          connection_id: record.connectionId,
          error: error instanceof ServiceError ? error.code : error instanceof Error ? error.name : 'unknown',
        });
      }
    })();
  }

  /** 409 `refresh_in_progress`, with a Retry-After no later than the holder's lease ends. */
  private refreshInProgress(record: ConnectionRecord, now: number): ServiceError {
    const leaseLeft = Math.ceil(((record.leaseExpiresAt ?? now) - now) / 1000);
    const retryAfter = Math.min(maxRetryAfterSeconds, Math.max(1, leaseLeft));
    return new ServiceError({
      code: 'refresh_in_progress',
      detail: "Another request is refreshing this connection's token; try again shortly.",
      headers: { 'retry-after': String(retryAfter) },
    });
  }

  private assertUsable(record: ConnectionRecord, now: number): void {
    if (record.status === 'inactive') throw new ConnectionInactiveError(record.statusReason);
    if (record.status === 'authorization_required' || !record.tokens) {
      const effective = effectiveStatus(record, now);
      if (effective.status === 'inactive') throw new ConnectionInactiveError(effective.reason);
      throw new ConnectionNotReadyError(record.status);
    }
  }

  /**
   * A freshly rotated pair exists nowhere else: a store that is briefly unavailable gets a few more
   * chances (about 3 s in all) before the pair is given up.
   */
  private async persistently(write: () => Promise<boolean>): Promise<boolean> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await write();
      } catch (error) {
        if (!(error instanceof DependencyUnavailableError) || attempt >= 4) throw error;
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  /**
   * Spends the stored refresh token under our lease. The call gets the token-call deadline (capped by
   * the invocation's `workUntil`), not the request's: a refresh abandoned early could be one
   * TrueLayer completes, rotating the pair we would then never store.
   */
  private async refreshUnderLease(
    record: ConnectionRecord,
    pair: TokenPair,
    holder: string,
    budget: RequestBudget,
    leaseTakenAt = Date.now(),
  ): Promise<FreshToken> {
    const { repository, clock, auth } = this.options;
    const deadline = Math.min(Date.now() + this.tokenTimeoutMs, budget.workUntil ?? Number.POSITIVE_INFINITY);
    let refreshed: TokenSet;
    try {
      refreshed = await auth.refresh(pair.refresh_token as string, { deadline });
    } catch (error) {
      if (error instanceof TrueLayerError && error.status === 400 && error.code === 'invalid_grant') {
        (this.options.metrics ?? noMetrics).count(metricNames.refreshes, { Outcome: 'refused' });
        await repository.releaseLease(record.connectionId, holder).catch(() => undefined);
        // After a refresh that went unanswered, a refused stored token means TrueLayer did rotate it
        // then: the pair was lost in flight, not refused by the bank. The state machine calls a
        // refusal after the consent's end what it is: the consent ended.
        const reason = await this.end(record, record.refreshOutcomeUnknownAt ? 'refresh_lost' : 'refresh_refused', 'invalid_grant');
        throw new ConnectionInactiveError(reason, { upstream_code: 'invalid_grant' });
      }
      if (error instanceof TrueLayerError && error.outcomeUnknown) {
        const at = isoAt(clock.now());
        await this.persistently(() => repository.markRefreshOutcomeUnknown(record.connectionId, record.version, at)).catch(
          (markError: unknown) => {
            this.options.log?.('could not record an unknown refresh outcome', {
              connection_id: record.connectionId,
              error: String(markError),
            });
          },
        );
        this.options.log?.('refresh sent but not answered; the stored refresh token will be tried again', {
          connection_id: record.connectionId,
          kind: error.kind,
        });
        // A reset answers fast: try the stored token once more now, while our lease still covers a
        // whole call. A timeout has used that time up; the next request tries it.
        const retried = record.refreshOutcomeUnknownAt !== undefined;
        if (!retried && error.kind === 'network' && Date.now() + this.tokenTimeoutMs < leaseTakenAt + this.leaseMs) {
          return this.refreshUnderLease({ ...record, refreshOutcomeUnknownAt: at }, pair, holder, budget, leaseTakenAt);
        }
      }
      await repository.releaseLease(record.connectionId, holder).catch(() => undefined);
      throw mapUpstreamError(error);
    }
    (this.options.metrics ?? noMetrics).count(metricNames.refreshes, { Outcome: 'ok' });
    // Stable mode answers without a new refresh token: keep the one we have.
    const next: TokenPair = { access_token: refreshed.accessToken, refresh_token: refreshed.refreshToken ?? pair.refresh_token };
    const tokens = await this.seal(record, next);
    const now = clock.now();
    const write = { tokens, accessTokenExpiresAt: refreshed.expiresAt, lastRefreshedAt: isoAt(now), refreshed: true };
    if (await this.persistently(() => repository.writeTokens(record, write, now, holder))) {
      return {
        accessToken: next.access_token,
        record: {
          ...record,
          tokens,
          accessTokenExpiresAt: refreshed.expiresAt,
          lastRefreshedAt: write.lastRefreshedAt,
          refreshOutcomeUnknownAt: undefined,
          version: record.version + 1,
          leaseHolder: undefined,
          leaseExpiresAt: undefined,
        },
      };
    }
    // The lease was lost while we refreshed. Our pair is the newest TrueLayer issued, so it must be
    // stored unless the connection was revoked or deactivated meanwhile.
    const reread = await repository.get(record.connectionId);
    if (!reread) throw new NotFoundError();
    if (reread.status === 'inactive' || !reread.tokens) throw new ConnectionInactiveError(reread.statusReason);
    if (await this.persistently(() => repository.writeTokens(reread, write, now))) {
      return {
        accessToken: next.access_token,
        record: {
          ...reread,
          tokens,
          accessTokenExpiresAt: refreshed.expiresAt,
          lastRefreshedAt: write.lastRefreshedAt,
          version: reread.version + 1,
        },
      };
    }
    this.options.log?.('refreshed tokens could not be stored after the lease was lost', { connection_id: record.connectionId });
    return { accessToken: next.access_token, record: reread };
  }
}
