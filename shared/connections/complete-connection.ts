/**
 * POST /connections/{id}/complete: the owner confirms the connection the callback stored. Whoever
 * finished TrueLayer's dialog attached *their* bank, so only the creator, holding the one-time code
 * the callback sent to the return_url, may make it `active`; anyone else presenting that code proves
 * the bank behind it is not the creator's, and the connection is revoked.
 */

import { isoAt } from '../clock';
import { ConnectionInactiveError, ConnectionNotReadyError, NotFoundError, ServiceError, ValidationError } from '../errors';
import { supersedeDuplicates } from '../lifecycle/duplicates';
import { metricNames } from '../metrics';
import { TrueLayerError } from '../truelayer/errors';
import * as z from '../zod';
import { completionCodeMatches, MAX_COMPLETION_TRIES } from './completion-code';
import { type ConnectionRecord, type ConnectionView, effectiveStatus, isUnconfirmed, type StatusReason, toView } from './connection';
import { isConnectionId } from './load-owned';
import type { ConsentDetails } from './repository';
import type { Caller, ConnectionServices, RequestBudget } from './services';
import { describeZodError } from './validation';

export const completeBody = z.strictObject({
  completion_code: z.string().check(z.minLength(1), z.maxLength(256)),
});

/** Reads /me for a connection's consent details within the deadline (real time, epoch ms). */
export const readConsentDetails = async (
  services: Pick<ConnectionServices, 'data'>,
  accessToken: string,
  deadline: number | undefined,
): Promise<ConsentDetails> => {
  const me = await services.data.me(accessToken, deadline ? { deadline } : {});
  return {
    ...(me.provider
      ? { provider: { providerId: me.provider.providerId, ...(me.provider.displayName ? { displayName: me.provider.displayName } : {}) } }
      : {}),
    credentialsId: me.credentialsId,
    ...(me.consentCreatedAt ? { consentCreatedAt: me.consentCreatedAt } : {}),
    ...(me.consentExpiresAt ? { consentExpiresAt: me.consentExpiresAt } : {}),
  };
};

/**
 * Ends a connection waiting for completion for a reason the service decided (owner_mismatch,
 * completion_failed, not_confirmed): revokes it at TrueLayer, erases its tokens and marks it
 * inactive, as the state machine's transition of that name says (with `connection.revoked`). The
 * status write comes before the TrueLayer call, so once this starts nobody can read through the
 * connection even if TrueLayer is down; a failed TrueLayer revoke is logged, and the consent there
 * lapses. The write is conditional on the item read, and the transition applies only to an
 * `authorized` connection, so it loses to a concurrent change (e.g. the owner completing just now).
 * True when this call ended it.
 */
export const revokeForReason = async (
  services: ConnectionServices,
  record: ConnectionRecord,
  reason: Extract<StatusReason, 'owner_mismatch' | 'completion_failed' | 'not_confirmed'>,
  options: { now?: number } = {},
): Promise<boolean> => {
  const { repository, clock, log } = services;
  // A list row (owner index) carries no tokens: read the item itself.
  const full = record.tokens ? record : await repository.get(record.connectionId);
  if (full?.status !== 'authorized') return false;
  let accessToken: string | undefined;
  if (full.tokens) {
    try {
      accessToken = (await services.vault.freshAccessToken(full)).accessToken;
    } catch (error) {
      log.warn('no access token to revoke with; the tokens are erased all the same', {
        connection_id: full.connectionId,
        error: String(error),
      });
    }
  }
  const ended = await repository.transition(full, reason, { now: options.now ?? clock.now(), newEventId: services.newId });
  if (!ended) return false;
  if (accessToken) {
    try {
      await services.auth.revoke(accessToken);
    } catch (error) {
      // A 4xx means TrueLayer no longer has it; anything else leaves a consent there that lapses on its own.
      if (!(error instanceof TrueLayerError && error.status >= 400 && error.status < 500)) {
        log.warn('revocation at TrueLayer failed; the tokens are erased', {
          connection_id: full.connectionId,
          status_reason: reason,
          error: String(error),
        });
      }
    }
  }
  await releaseSlot(services, full);
  log.info('connection revoked', { connection_id: full.connectionId, status_reason: reason });
  await services.outbox.flushQuietly(ended.record);
  return true;
};

/**
 * Revokes an `authorized` connection whose owner did not complete it in time (`not_confirmed`). Safe
 * to call with any record and from anywhere (a read, a list, the lifecycle worker): it does nothing
 * unless the completion deadline has passed, and loses to a completion that lands first.
 */
export const expireUnconfirmed = async (
  services: ConnectionServices,
  record: ConnectionRecord,
  now = services.clock.now(),
): Promise<boolean> => {
  if (!isUnconfirmed(record, now)) return false;
  return revokeForReason(services, record, 'not_confirmed', { now });
};

/** Frees the owner's pending slot; a failure only means the slot lapses on its own. */
export const releaseSlot = async (
  services: Pick<ConnectionServices, 'repository' | 'log'>,
  record: Pick<ConnectionRecord, 'owner' | 'connectionId'>,
): Promise<void> => {
  try {
    await services.repository.releasePendingSlot(record.owner, record.connectionId);
  } catch (error) {
    services.log.warn('pending slot not released; it lapses on its own', { connection_id: record.connectionId, error: String(error) });
  }
};

const invalidCode = (detail: string, extra?: Record<string, unknown>) =>
  new ServiceError({ code: 'invalid_completion_code', detail, ...(extra ? { extra } : {}) });

export const completeConnection = async (
  services: ConnectionServices,
  caller: Caller,
  connectionId: string,
  body: unknown,
  budget: RequestBudget = {},
): Promise<ConnectionView> => {
  const parsed = completeBody.safeParse(body === undefined ? {} : body);
  if (!parsed.success)
    throw new ValidationError(`${describeZodError(parsed.error)} Send {"completion_code": "<the completion_code from the return_url>"}.`);
  const code = parsed.data.completion_code;
  if (!isConnectionId(connectionId)) throw new NotFoundError();
  const { repository, clock, log } = services;
  const record = await repository.get(connectionId);
  if (!record) throw new NotFoundError();
  const now = clock.now();

  if (record.owner !== caller.owner) {
    // The right code in someone else's hands: they finished the bank's dialog, so the bank account
    // behind this connection is theirs, not the creator's. Nobody may read it.
    if (record.status === 'authorized' && completionCodeMatches(code, record.completionCodeHash)) {
      await revokeForReason(services, record, 'owner_mismatch');
    }
    throw new NotFoundError();
  }

  if (await expireUnconfirmed(services, record)) throw new ConnectionInactiveError('not_confirmed');
  const effective = effectiveStatus(record, now);
  if (effective.status === 'inactive') throw new ConnectionInactiveError(effective.reason);
  if (record.status === 'authorization_required') throw new ConnectionNotReadyError(record.status);
  if (record.status === 'active') {
    throw invalidCode('This connection is already complete, and a completion code works once: GET /connections/{id} shows it.');
  }
  if (!completionCodeMatches(code, record.completionCodeHash)) {
    const tries = await repository.countCompletionFailure(record.connectionId, isoAt(now));
    if (tries !== undefined && tries >= MAX_COMPLETION_TRIES) {
      await revokeForReason(services, record, 'completion_failed');
      throw invalidCode(
        `That was the ${MAX_COMPLETION_TRIES}th wrong completion code: the connection is revoked (completion_failed). Create a new connection.`,
        {
          status_reason: 'completion_failed',
        },
      );
    }
    const left = tries === undefined ? undefined : MAX_COMPLETION_TRIES - tries;
    throw invalidCode(
      `This is not the completion code issued for this connection: send the completion_code the return_url received${left === undefined ? '' : ` (${left} ${left === 1 ? 'try' : 'tries'} left)`}.`,
      left === undefined ? undefined : { tries_left: left },
    );
  }

  // The provider and consent dates, if the callback ran out of time before /me answered.
  let details: ConsentDetails = {};
  if (!record.consentExpiresAt || !record.provider) {
    try {
      const fresh = await services.vault.freshAccessToken(record, budget);
      details = await readConsentDetails(services, fresh.accessToken, budget.answerBy);
    } catch (error) {
      log.warn('/me failed at completion; the connection is completed without consent details', {
        connection_id: record.connectionId,
        error: String(error),
      });
    }
  }
  // `completed` (connection.activated) only while this code's hash is still stored and unexpired:
  // a code works once even when two requests race.
  const applied = await repository.transition(record, 'completed', {
    now: clock.now(),
    newEventId: services.newId,
    completionCodeHash: record.completionCodeHash as string,
    details,
  });
  if (!applied) {
    const current = await repository.get(record.connectionId);
    if (current?.status === 'active') throw invalidCode('This connection was just completed, and a completion code works once.');
    const after = current ? effectiveStatus(current, clock.now()) : undefined;
    throw new ConnectionInactiveError(after?.reason ?? 'not_confirmed');
  }
  await releaseSlot(services, record);
  log.info('connection completed', { connection_id: record.connectionId });
  services.metrics.count(metricNames.connectionsCompleted);
  await services.outbox.flushQuietly(applied.record);
  // One connection per owner and set of accounts: an older one to the same accounts ends superseded.
  await supersedeDuplicates(services, applied.record);
  const completed = (await repository.get(record.connectionId)) ?? applied.record;
  return toView(completed, clock.now());
};
