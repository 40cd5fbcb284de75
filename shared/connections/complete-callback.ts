/**
 * GET|POST /callback: TrueLayer sends the user's browser here. Consumes the state once, then either
 * records the user's refusal or exchanges the code (with the PKCE verifier) and stores the tokens
 * encrypted before anything else is awaited. A first authorization becomes `authorized`, never
 * `active`: whoever finished the bank's dialog may not be the creator, so the creator completes it
 * with the one-time code sent to the return_url.
 */

import { isoAt } from '../clock';
import { ConnectionInactiveError, InvalidStateError, NotFoundError, ServiceError, ValidationError } from '../errors';
import { buildEvents } from '../lifecycle/events';
import type { TokenSet } from '../truelayer/auth-client';
import { TrueLayerError } from '../truelayer/errors';
import * as z from '../zod';
import { hashState, looksLikeState, openVerifier } from './auth-state';
import { readConsentDetails, releaseSlot } from './complete-connection';
import { COMPLETION_TTL_MS, hashCompletionCode } from './completion-code';
import type { ConnectionRecord } from './connection';
import type { TokenWrite } from './repository';
import type { ConnectionServices, RequestBudget } from './services';
import { transition } from './state-machine';
import { mapUpstreamError } from './upstream-errors';

/** The callback's parameters as TrueLayer sends them (the OpenAPI document shows this very schema). */
export const callbackParams = z.object({
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
  /** The one-time code for POST /connections/{id}/complete (first authorizations only). */
  completionCode?: string;
  error?: string;
  errorDescription?: string;
}

/** Time kept back from the deadline for storing the tokens after the exchange. */
const STORE_RESERVE_MS = 3_000;
/** Below this much time left, /me is not attempted: the completion reads it instead. */
const MIN_ME_MS = 1_000;

export interface StoreOptions {
  /** Epoch ms (real time) by which the request must have answered: later upstream calls (/me) stop there. */
  deadline?: number | undefined;
}

const errorCode = (value: string): string => (/^[a-z0-9_.-]{1,64}$/i.test(value) ? value : 'authorization_failed');

export const completeCallback = async (
  services: ConnectionServices,
  params: Record<string, unknown>,
  budget: RequestBudget = {},
): Promise<CallbackOutcome> => {
  const parsed = callbackParams.safeParse(params);
  if (!parsed.success)
    throw new ValidationError('The callback parameters are malformed: expected code and state (or error and state) from TrueLayer.');
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
      await repository.transition(record, code === 'access_denied' ? 'user_denied' : 'authorization_failed', {
        now: clock.now(),
        detail: code,
        newEventId: services.newId,
      });
      await releaseSlot(services, record);
    }
    services.log.info('callback carried an error', { connection_id: record.connectionId, error: code });
    return { ...base, error: code };
  }

  const codeVerifier = authState.codeVerifier ? openVerifier(state, authState, authState.codeVerifier) : undefined;
  let tokens: TokenSet;
  try {
    // The exchange runs on the invocation's time, past API Gateway's (a browser told to retry loses
    // nothing, while an exchange abandoned early could spend the code for tokens never stored), and
    // leaves time to store what it returns.
    tokens = await services.auth.exchangeCode({
      code: code as string,
      redirectUri: authState.redirectUri,
      codeVerifier,
      ...(budget.workUntil !== undefined ? { deadline: budget.workUntil - STORE_RESERVE_MS } : {}),
    });
  } catch (cause) {
    if (cause instanceof TrueLayerError && cause.status >= 400 && cause.status < 500) {
      services.log.warn('code exchange refused', { connection_id: record.connectionId, upstream_code: cause.code });
      if (authState.purpose === 'connect') await releaseSlot(services, record);
      return {
        ...base,
        error: 'code_exchange_failed',
        errorDescription: 'TrueLayer refused the authorization code (expired or already used): connect again.',
      };
    }
    throw mapUpstreamError(cause);
  }
  try {
    const stored = await storeExchangedTokens(services, record, tokens, authState.purpose, { deadline: budget.answerBy });
    return { ...base, status: stored.record.status, ...(stored.completionCode ? { completionCode: stored.completionCode } : {}) };
  } catch (error) {
    // Deleted (or refused) while the user was at the bank: tell the app, store nothing.
    if (error instanceof ConnectionInactiveError) return { ...base, error: 'connection_inactive' };
    throw error;
  }
};

/**
 * Stores a freshly exchanged (or extended) token pair at once, then asks /me about the consent with
 * whatever time is left. A first authorization is stored `authorized` with a new completion code
 * (returned, stored only as its hash); a re-authentication (extend) makes the connection `active`
 * again. If /me fails or runs out of time, the tokens are stored all the same.
 */
export const storeExchangedTokens = async (
  services: ConnectionServices,
  record: ConnectionRecord,
  tokens: TokenSet,
  purpose: 'connect' | 'extend',
  options: StoreOptions = {},
): Promise<{ record: ConnectionRecord; completionCode?: string }> => {
  const { repository, clock, vault } = services;
  const sealed = await vault.seal(record, { access_token: tokens.accessToken, refresh_token: tokens.refreshToken });
  const now = clock.now();
  const completionCode = purpose === 'connect' ? services.newSecret() : undefined;
  const completion = completionCode
    ? { codeHash: hashCompletionCode(completionCode), expiresAt: isoAt(now + COMPLETION_TTL_MS) }
    : undefined;
  // The status change comes from the state machine, decided on the item as it is when written: a
  // first exchange makes it `authorized` (the owner completes it), a re-authentication (extend)
  // makes it `active` again. The vault retries on the newest version if the item moved meanwhile.
  const build = (current: ConnectionRecord): TokenWrite => {
    // A revoke (for either purpose), or a refused first authorization, is final: never write over it.
    if (current.status === 'inactive' && (current.statusReason === 'revoked' || purpose === 'connect')) {
      throw new ConnectionInactiveError(current.statusReason);
    }
    const step = transition(current, purpose === 'connect' ? 'code_exchanged' : 'extended', { now });
    if (!step) throw new ServiceError({ code: 'conflict', detail: 'The connection is not waiting for this authorization; start again.' });
    return {
      tokens: sealed,
      accessTokenExpiresAt: tokens.expiresAt,
      status: step.status,
      statusReason: null,
      lastRefreshedAt: isoAt(now),
      ...(completion ? { completion } : {}),
      events: buildEvents(current, step.events, now, services.newId),
    };
  };
  let stored = await vault.storeIssued(record, build);
  if (completion) {
    // The owner's pending slot now runs until the completion deadline.
    await repository.extendPendingSlot(stored.owner, stored.connectionId, Date.parse(completion.expiresAt)).catch(() => false);
  }

  // Only now, with the tokens safe, any further upstream call, and only on the time left.
  const left = options.deadline === undefined ? Number.POSITIVE_INFINITY : options.deadline - Date.now();
  if (left < MIN_ME_MS) {
    services.log.warn('no time left for /me; the consent details are read at completion', { connection_id: stored.connectionId });
    return { record: stored, ...(completionCode ? { completionCode } : {}) };
  }
  try {
    const details = await readConsentDetails(services, tokens.accessToken, options.deadline);
    stored = (await repository.writeConsentDetails(stored, details, clock.now())) ?? { ...stored, ...details };
  } catch (cause) {
    services.log.warn('tokens stored but /me failed; the consent details are read at completion', {
      connection_id: stored.connectionId,
      error: String(cause),
    });
  }
  return { record: stored, ...(completionCode ? { completionCode } : {}) };
};
