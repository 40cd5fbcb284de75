/**
 * GET|POST /callback: TrueLayer sends the user's browser here. Consumes the state once, then either
 * records the user's refusal or exchanges the code, reads /me and stores the tokens encrypted.
 */
import * as z from '../zod';
import { isoAt } from '../clock';
import { ConnectionInactiveError, InvalidStateError, NotFoundError, ServiceError, ValidationError } from '../errors';
import { buildEvents } from '../lifecycle/events';
import { supersedeDuplicates } from '../lifecycle/duplicates';
import { TrueLayerError } from '../truelayer/errors';
import type { TokenSet } from '../truelayer/auth-client';
import type { Me } from '../truelayer/data-client';
import { hashState, looksLikeState } from './auth-state';
import type { ConnectionRecord } from './connection';
import type { TokenWrite } from './repository';
import type { ConnectionServices } from './services';
import { transition, type EmittedEvent, type TransitionResult } from './state-machine';
import { mapUpstreamError } from './upstream-errors';

const callbackParams = z.object({
  state: z.optional(z.string().check(z.maxLength(512))),
  code: z.optional(z.string().check(z.minLength(1), z.maxLength(4096))),
  error: z.optional(z.string().check(z.maxLength(128))),
  error_description: z.optional(z.string().check(z.maxLength(1024))),
  scope: z.optional(z.string().check(z.maxLength(1024))),
});

/** Where the browser goes next: the app's return_url, or our own small page. */
export interface CallbackOutcome {
  connectionId: string;
  returnUrl?: string | undefined;
  status?: string;
  error?: string;
  errorDescription?: string;
}

const errorCode = (value: string): string => (/^[a-z0-9_.-]{1,64}$/i.test(value) ? value : 'authorization_failed');

export const completeCallback = async (services: ConnectionServices, params: Record<string, unknown>): Promise<CallbackOutcome> => {
  const parsed = callbackParams.safeParse(params);
  if (!parsed.success) throw new ValidationError('The callback parameters are malformed: expected code and state (or error and state) from TrueLayer.');
  const { state, code, error } = parsed.data;
  if (!state) throw new InvalidStateError('The callback has no state: start again from a new auth link.');
  if (!looksLikeState(state)) throw new InvalidStateError('The state is not one this service issued: start again from a new auth link.');
  if (!code && !error) throw new ValidationError('The callback carries neither a code nor an error.');

  const { repository, clock } = services;
  const consumed = await repository.consumeState(hashState(state), clock.now());
  if ('failure' in consumed) {
    throw new InvalidStateError(
      consumed.failure === 'expired'
        ? 'This auth link expired (they last 10 minutes): create a new connection and try again.'
        : 'This state is unknown or was already used: each auth link works once; create a new connection.',
    );
  }
  const authState = consumed.state;
  const record = await repository.get(authState.connectionId);
  if (!record || record.owner !== authState.owner) throw new NotFoundError('The connection for this callback no longer exists.');
  const base = { connectionId: record.connectionId, returnUrl: record.returnUrl };

  if (error) {
    const code = errorCode(error);
    // A refused re-authentication (extend) leaves the connection as it was; a refused first
    // authorization ends it.
    if (authState.purpose === 'connect') {
      await repository.transition(record, code === 'access_denied' ? 'user_denied' : 'authorization_failed', { now: clock.now(), detail: code, newEventId: services.newId });
    }
    services.log.info('callback carried an error', { connection_id: record.connectionId, error: code });
    return { ...base, error: code };
  }

  let tokens: TokenSet;
  try {
    tokens = await services.auth.exchangeCode({ code: code as string, redirectUri: authState.redirectUri });
  } catch (cause) {
    if (cause instanceof TrueLayerError && cause.status >= 400 && cause.status < 500) {
      services.log.warn('code exchange refused', { connection_id: record.connectionId, upstream_code: cause.code });
      return { ...base, error: 'code_exchange_failed', errorDescription: 'TrueLayer refused the authorization code (expired or already used): connect again.' };
    }
    throw mapUpstreamError(cause);
  }
  try {
    const stored = await storeExchangedTokens(services, record, tokens, authState.purpose);
    if (authState.purpose === 'connect' && stored.status === 'active') await supersedeDuplicates(services, stored);
    return { ...base, status: stored.status };
  } catch (error) {
    // Deleted (or refused) while the user was at the bank: tell the app, store nothing.
    if (error instanceof ConnectionInactiveError) return { ...base, error: 'connection_inactive' };
    throw error;
  }
};

/**
 * Stores a freshly exchanged (or extended) token pair with what /me says about the consent. If /me
 * fails, the tokens are still stored (status `authorized`) so nothing TrueLayer issued is lost.
 */
export const storeExchangedTokens = async (
  services: ConnectionServices,
  record: ConnectionRecord,
  tokens: TokenSet,
  purpose: 'connect' | 'extend',
): Promise<ConnectionRecord> => {
  const { clock, vault } = services;
  const sealed = await vault.seal(record, { access_token: tokens.accessToken, refresh_token: tokens.refreshToken });
  let me: Me | undefined;
  let meError: unknown;
  try {
    me = await services.data.me(tokens.accessToken);
  } catch (cause) {
    meError = cause;
  }
  const now = clock.now();
  const fields = {
    tokens: sealed,
    accessTokenExpiresAt: tokens.expiresAt,
    ...(me?.provider ? { provider: { providerId: me.provider.providerId, ...(me.provider.displayName ? { displayName: me.provider.displayName } : {}) } } : {}),
    ...(me ? { credentialsId: me.credentialsId } : {}),
    ...(me?.consentCreatedAt ? { consentCreatedAt: me.consentCreatedAt } : {}),
    ...(me?.consentExpiresAt ? { consentExpiresAt: me.consentExpiresAt } : {}),
    lastRefreshedAt: isoAt(now),
  };
  // The status change comes from the state machine, decided on the item as it is when written:
  // a first exchange makes it authorized, and (until owners complete connections themselves) an
  // answer from /me completes it at once; a re-authentication (extend) keeps it active.
  const build = (current: ConnectionRecord): TokenWrite => {
    // A revoke (for either purpose), or a refused first authorization, is final: never write over it.
    if (current.status === 'inactive' && (current.statusReason === 'revoked' || purpose === 'connect')) {
      throw new ConnectionInactiveError(current.statusReason);
    }
    const steps: TransitionResult[] = [];
    const after = { ...current, consentExpiresAt: fields.consentExpiresAt ?? current.consentExpiresAt };
    const first = transition(after, purpose === 'connect' ? 'code_exchanged' : 'extended', { now });
    if (!first) throw new ServiceError({ code: 'conflict', detail: 'The connection is not waiting for this authorization; start again.' });
    steps.push(first);
    if (purpose === 'connect' && me) {
      const completed = transition({ ...after, status: first.status, statusReason: first.reason }, 'completed', { now });
      if (completed) steps.push(completed);
    }
    const last = steps[steps.length - 1] as TransitionResult;
    const emitted: EmittedEvent[] = steps.flatMap((step) => step.events);
    return { ...fields, status: last.status, statusReason: null, events: buildEvents(current, emitted, now, services.newId) };
  };
  const stored = await vault.storeIssued(record, build);
  if (meError) services.log.warn('tokens stored but /me failed; the connection stays authorized', { connection_id: record.connectionId, error: String(meError) });
  return stored;
};
