/** GET /connections, GET /connections/{id}, POST /connections/{id}/extend, DELETE /connections/{id}. */

import { isoAt } from '../clock';
import { ConnectionInactiveError, ConnectionNotConfirmedError, ConnectionNotReadyError, ServiceError, ValidationError } from '../errors';
import { metricNames } from '../metrics';
import type { ExtendResult } from '../truelayer/data-client';
import { TrueLayerError } from '../truelayer/errors';
import * as z from '../zod';
import { codeChallengeS256, hashState, STATE_TTL_MS, sealVerifier } from './auth-state';
import { storeExchangedTokens } from './complete-callback';
import { expireUnconfirmed, releaseSlot } from './complete-connection';
import { type ConnectionView, effectiveStatus, toView } from './connection';
import { openCursor, sealCursor } from './list-cursor';
import { loadOwned } from './load-owned';
import type { Caller, ConnectionServices, RequestBudget } from './services';
import { mapUpstreamError } from './upstream-errors';
import { describeZodError } from './validation';

export const LIST_DEFAULT_LIMIT = 50;
export const LIST_MAX_LIMIT = 100;

export interface ListQuery {
  limit?: string | undefined;
  cursor?: string | undefined;
}

export const listConnections = async (
  services: ConnectionServices,
  caller: Caller,
  query: ListQuery = {},
): Promise<{ connections: ConnectionView[]; next_cursor?: string }> => {
  let limit = LIST_DEFAULT_LIMIT;
  if (query.limit !== undefined) {
    if (!/^\d{1,3}$/.test(query.limit) || Number(query.limit) < 1 || Number(query.limit) > LIST_MAX_LIMIT) {
      throw new ValidationError(`limit must be a whole number from 1 to ${LIST_MAX_LIMIT} (default ${LIST_DEFAULT_LIMIT}).`);
    }
    limit = Number(query.limit);
  }
  const start = query.cursor === undefined ? undefined : await openCursor(services, caller.owner, query.cursor);
  const page = await services.repository.listByOwner(caller.owner, { limit, start });
  // Lapsed completions are revoked as they are seen; the view already reads them inactive.
  await Promise.all(page.records.map((record) => expireUnconfirmed(services, record)));
  const now = services.clock.now();
  return {
    connections: page.records.map((record) => toView(record, now)),
    ...(page.next ? { next_cursor: await sealCursor(services, caller.owner, page.next) } : {}),
  };
};

export const getConnection = async (services: ConnectionServices, caller: Caller, connectionId: string): Promise<ConnectionView> => {
  const record = await loadOwned(services, caller, connectionId);
  await expireUnconfirmed(services, record);
  return toView(record, services.clock.now());
};

export const extendBody = z.strictObject({
  user_has_reconfirmed_consent: z.literal(true, { error: 'must be true: show the user your reconfirmation screen first' }),
  user: z
    .strictObject({
      id: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
      name: z.string().check(z.trim(), z.minLength(1), z.maxLength(200)),
      email: z.optional(z.email().check(z.maxLength(320))),
      phone: z.optional(z.string().check(z.regex(/^\+?[0-9 ()-]{6,20}$/, 'must be a phone number such as +447700900123'))),
    })
    .check(z.refine((user) => user.email !== undefined || user.phone !== undefined, 'needs an email or a phone')),
});

export type ExtendOutcome =
  | { status: 'active'; consent_expires_at?: string }
  | { action_needed: 'authentication_needed'; user_input_link: string };

const cannotExtend = (detail: string, error?: TrueLayerError) =>
  new ServiceError({
    code: 'cannot_extend',
    detail,
    cause: error,
    extra: error ? { upstream_status: error.status, upstream_code: error.code } : {},
  });

export const extendConnection = async (
  services: ConnectionServices,
  caller: Caller,
  connectionId: string,
  body: unknown,
  budget: RequestBudget = {},
): Promise<ExtendOutcome> => {
  const parsed = extendBody.safeParse(body === undefined ? {} : body);
  if (!parsed.success) throw new ValidationError(describeZodError(parsed.error));
  const record = await loadOwned(services, caller, connectionId);
  if (record.status === 'authorization_required') throw new ConnectionNotReadyError(record.status);
  if (record.status === 'authorized') throw new ConnectionNotConfirmedError();
  if (!record.tokens) throw new ConnectionInactiveError(record.statusReason ?? 'revoked');
  const pair = await services.vault.open(record);
  if (!pair.refresh_token)
    throw cannotExtend('This connection has no refresh token (no offline_access scope), so it cannot be extended: create a new one.');

  const { repository, clock } = services;
  // The extend spends the refresh token like a refresh does, so it takes the same lease, which the
  // vault releases whatever happens (storing the new pair drops it too), and its call gets the
  // token-call deadline: abandoned early, TrueLayer may still rotate the pair.
  const leased = await services.vault.withLease(record, async () => {
    const state = services.newState();
    // The re-authentication link carries PKCE like every auth link.
    const verifier = services.newSecret();
    let result: ExtendResult;
    try {
      await repository.putState({
        stateHash: hashState(state),
        owner: record.owner,
        connectionId: record.connectionId,
        redirectUri: record.redirectUri,
        purpose: 'extend',
        expiresAt: clock.now() + STATE_TTL_MS,
        codeVerifier: sealVerifier(state, record, verifier),
      });
      result = await services.data.extend({
        refreshToken: pair.refresh_token as string,
        redirectUri: record.redirectUri,
        user: parsed.data.user,
        state,
        responseMode: record.responseMode,
        deadline: Math.min(Date.now() + services.vault.tokenTimeoutMs, budget.workUntil ?? Number.POSITIVE_INFINITY),
        codeChallenge: codeChallengeS256(verifier),
      });
    } catch (error) {
      if (error instanceof TrueLayerError && error.outcomeUnknown) {
        // Sent, never answered: the next refresh settles whether TrueLayer spent the stored token.
        await repository.markRefreshOutcomeUnknown(record.connectionId, record.version, isoAt(clock.now())).catch(() => false);
        services.log.warn('extend sent but not answered; the stored refresh token will be tried again', {
          connection_id: record.connectionId,
          kind: error.kind,
        });
      }
      if (error instanceof TrueLayerError && (error.status === 401 || error.status === 422)) {
        throw cannotExtend(
          error.status === 401
            ? "TrueLayer no longer knows this connection's refresh token: create a new connection."
            : 'TrueLayer says this connection cannot be extended: create a new connection.',
          error,
        );
      }
      throw mapUpstreamError(error);
    }
    if (result.action === 'authentication_needed') {
      services.log.info('extend needs the user to authenticate', { connection_id: record.connectionId });
      return { action_needed: 'authentication_needed', user_input_link: result.userInputLink } as const;
    }
    const { record: stored } = await storeExchangedTokens(services, record, result.tokens, 'extend');
    services.log.info('connection extended', { connection_id: record.connectionId });
    return { status: 'active', ...(stored.consentExpiresAt ? { consent_expires_at: stored.consentExpiresAt } : {}) } as const;
  });
  if (!leased)
    throw new ServiceError({
      code: 'refresh_in_progress',
      detail: 'The connection is being refreshed; try the extend again in a moment.',
      headers: { 'retry-after': '1' },
    });
  return leased.value;
};

/** Revokes at TrueLayer with a fresh token, then erases the token blob. Safe to repeat. */
export const revokeConnection = async (
  services: ConnectionServices,
  caller: Caller,
  connectionId: string,
  budget: RequestBudget = {},
): Promise<void> => {
  const record = await loadOwned(services, caller, connectionId);
  const { repository, clock } = services;
  if (record.tokens && effectiveStatus(record, clock.now()).status !== 'inactive') {
    let accessToken: string | undefined;
    try {
      accessToken = (await services.vault.freshAccessToken(record, budget)).accessToken;
    } catch (error) {
      // A connection TrueLayer already refuses needs no revocation there; anything else is a real failure.
      if (!(error instanceof ConnectionInactiveError)) throw error;
    }
    if (accessToken) {
      try {
        await services.auth.revoke(accessToken);
      } catch (error) {
        const alreadyGone = error instanceof TrueLayerError && error.status >= 400 && error.status < 500;
        if (!alreadyGone) throw mapUpstreamError(error);
      }
    }
  }
  if (record.status === 'inactive' && record.statusReason === 'revoked' && !record.tokens) return;
  const current = (await repository.get(record.connectionId)) ?? record;
  const applied = await repository.transition(current, 'revoked', { now: clock.now(), newEventId: services.newId });
  await releaseSlot(services, record);
  services.log.info('connection revoked', { connection_id: record.connectionId, status_reason: 'revoked' });
  services.metrics.count(metricNames.connectionsRevoked);
  if (applied) await services.outbox.flushQuietly(applied.record);
};
