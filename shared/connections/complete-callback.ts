/**
 * GET|POST /callback: TrueLayer sends the user's browser here. Consumes the state once, then either
 * records the user's refusal or exchanges the code, reads /me and stores the tokens encrypted.
 */
import * as z from '../zod';
import { isoAt } from '../clock';
import { ConnectionInactiveError, InvalidStateError, NotFoundError, ServiceError, ValidationError } from '../errors';
import { TrueLayerError } from '../truelayer/errors';
import type { TokenSet } from '../truelayer/auth-client';
import { hashState, looksLikeState } from './auth-state';
import type { ConnectionRecord } from './connection';
import type { ConnectionServices, RequestBudget } from './services';
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

export const completeCallback = async (services: ConnectionServices, params: Record<string, unknown>, budget: RequestBudget = {}): Promise<CallbackOutcome> => {
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
      await repository.setStatus(
        record.connectionId,
        { status: 'inactive', reason: code === 'access_denied' ? 'user_denied' : 'authorization_failed', detail: code, onlyIfStatus: 'authorization_required' },
        isoAt(clock.now()),
      );
    }
    services.log.info('callback carried an error', { connection_id: record.connectionId, error: code });
    return { ...base, error: code };
  }

  let tokens: TokenSet;
  try {
    // The exchange runs on the invocation's time, past API Gateway's: a browser told to retry loses
    // nothing, while an exchange abandoned early could spend the code for tokens never stored.
    tokens = await services.auth.exchangeCode({ code: code as string, redirectUri: authState.redirectUri, deadline: budget.workUntil });
  } catch (cause) {
    if (cause instanceof TrueLayerError && cause.status >= 400 && cause.status < 500) {
      services.log.warn('code exchange refused', { connection_id: record.connectionId, upstream_code: cause.code });
      return { ...base, error: 'code_exchange_failed', errorDescription: 'TrueLayer refused the authorization code (expired or already used): connect again.' };
    }
    throw mapUpstreamError(cause);
  }
  try {
    const stored = await storeExchangedTokens(services, record, tokens, authState.purpose);
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
  const { repository, clock, vault } = services;
  const sealed = await vault.seal(record, { access_token: tokens.accessToken, refresh_token: tokens.refreshToken });
  let me;
  let meError: unknown;
  try {
    me = await services.data.me(tokens.accessToken);
  } catch (cause) {
    meError = cause;
  }
  const now = clock.now();
  const write = {
    tokens: sealed,
    accessTokenExpiresAt: tokens.expiresAt,
    status: me ? ('active' as const) : ('authorized' as const),
    statusReason: null,
    ...(me?.provider ? { provider: { providerId: me.provider.providerId, ...(me.provider.displayName ? { displayName: me.provider.displayName } : {}) } } : {}),
    ...(me ? { credentialsId: me.credentialsId } : {}),
    ...(me?.consentCreatedAt ? { consentCreatedAt: me.consentCreatedAt } : {}),
    ...(me?.consentExpiresAt ? { consentExpiresAt: me.consentExpiresAt } : {}),
    lastRefreshedAt: isoAt(now),
  };
  // The item may have moved since it was read (a refresh, a status change): retry on the newest
  // version, since these tokens are the newest TrueLayer issued.
  let current = record;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    // A revoke (for either purpose), or a refused first authorization, is final: never write over it.
    if (current.status === 'inactive' && (current.statusReason === 'revoked' || purpose === 'connect')) {
      throw new ConnectionInactiveError(current.statusReason);
    }
    if (await repository.writeTokens(current.connectionId, current.version, write, isoAt(now))) {
      if (meError) services.log.warn('tokens stored but /me failed; the connection stays authorized', { connection_id: current.connectionId, error: String(meError) });
      return { ...current, ...write, version: current.version + 1, statusReason: undefined, statusDetail: undefined };
    }
    const reread = await repository.get(current.connectionId);
    if (!reread) throw new NotFoundError();
    current = reread;
  }
  throw new ServiceError({ code: 'conflict', detail: 'The connection changed while the callback was processed; start again.' });
};
