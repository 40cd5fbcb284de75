/** POST /connections: a new connection (authorization_required), its single-use state and the auth link. */

import { isoAt } from '../clock';
import { ServiceError, ValidationError } from '../errors';
import { metricNames } from '../metrics';
import { dataScopes, validateScopes } from '../truelayer/scopes';
import * as z from '../zod';
import { codeChallengeS256, hashState, STATE_TTL_MS, sealVerifier } from './auth-state';
import { releaseSlot } from './complete-connection';
import type { ConnectionRecord } from './connection';
import { checkReturnUrl } from './return-url';
import type { Caller, ConnectionServices } from './services';
import { describeZodError } from './validation';

/** Connections one user may have waiting for bank consent or completion at once. */
export const MAX_PENDING_CONNECTIONS = 10;

const providerToken = /^[a-z0-9][a-z0-9-]{0,63}$/;

export const createConnectionBody = z.strictObject({
  return_url: z.optional(z.string().check(z.minLength(1), z.maxLength(2048))),
  scopes: z.optional(z.array(z.string().check(z.maxLength(64))).check(z.minLength(1), z.maxLength(16))),
  providers: z.optional(
    z.string().check(
      z.maxLength(512),
      z.refine(
        (value) => value.split(' ').every((p) => providerToken.test(p)),
        'must be provider selectors separated by single spaces, e.g. "uk-ob-all uk-oauth-all"',
      ),
    ),
  ),
  provider_id: z.optional(z.string().check(z.regex(providerToken, 'must be a provider id such as "ob-monzo"'))),
  response_mode: z.optional(z.enum(['query', 'form_post'])),
});

export interface CreatedConnection {
  connection_id: string;
  status: 'authorization_required';
  auth_link: string;
  auth_link_expires_at: string;
}

export const createConnection = async (
  services: ConnectionServices,
  caller: Caller,
  input: { body: unknown; callbackUrl: string },
): Promise<CreatedConnection> => {
  // No body means all defaults; a JSON `null` is a body, and not an object.
  const parsed = createConnectionBody.safeParse(input.body === undefined ? {} : input.body);
  if (!parsed.success) throw new ValidationError(describeZodError(parsed.error));
  const body = parsed.data;

  const scopes = [...new Set(body.scopes ?? dataScopes)];
  const scopeProblems = validateScopes(scopes);
  if (scopeProblems.length) throw new ValidationError(scopeProblems.join(' '));

  // There is always an app to land on: the callback hands the completion code to it.
  const allowed = services.config.allowedReturnUrls;
  if (allowed.length === 0) {
    throw new ServiceError({
      code: 'return_url_required',
      detail:
        'This deployment has no allowed return URLs, so a connection would have nowhere to send its completion code: set ALLOWED_RETURN_URLS (comma-separated; the first is the default return_url).',
    });
  }
  const returnUrl = body.return_url ?? (allowed[0] as string);
  const check = checkReturnUrl(returnUrl, allowed);
  if (!check.ok) throw new ValidationError(check.reason ?? 'return_url is not allowed');
  const providers = body.providers ?? services.config.providers;
  if (body.provider_id && !providers.split(' ').some((p) => p === body.provider_id || p.endsWith('-all') || p === 'uk-cs-mock')) {
    throw new ValidationError(
      `provider_id "${body.provider_id}" is not covered by providers "${providers}": add it (or a group such as uk-ob-all) to providers.`,
    );
  }

  const now = services.clock.now();
  const connectionId = services.newId();
  const state = services.newState();
  const expiresAt = now + STATE_TTL_MS;
  const record: ConnectionRecord = {
    connectionId,
    owner: caller.owner,
    status: 'authorization_required',
    scopes,
    providers,
    providerId: body.provider_id,
    responseMode: body.response_mode ?? 'query',
    returnUrl,
    redirectUri: input.callbackUrl,
    createdAt: isoAt(now),
    updatedAt: isoAt(now),
    authLinkExpiresAt: isoAt(expiresAt),
    refreshCount: 0,
    version: 0,
  };
  // At most MAX_PENDING_CONNECTIONS waiting for consent or completion per user; the slot lasts as long as the link.
  if (!(await services.repository.reservePendingSlot(caller.owner, connectionId, expiresAt, now, MAX_PENDING_CONNECTIONS))) {
    throw new ServiceError({
      code: 'too_many_pending_connections',
      detail: `You have ${MAX_PENDING_CONNECTIONS} connections waiting for bank consent or completion: finish or delete one (links lapse after 10 minutes, completions 10 minutes after the bank), then try again.`,
    });
  }
  let authLink: string;
  try {
    const verifier = services.newSecret();
    authLink = await services.auth.authLink({
      redirectUri: input.callbackUrl,
      scopes,
      state,
      providers,
      codeChallenge: codeChallengeS256(verifier),
      ...(body.provider_id ? { providerId: body.provider_id } : {}),
      ...(body.response_mode ? { responseMode: body.response_mode } : {}),
    });
    // The state first: if the connection write then fails, an orphan state lapses unseen (its
    // callback finds no connection), whereas an orphan connection would show in the user's list.
    await services.repository.putState({
      stateHash: hashState(state),
      owner: caller.owner,
      connectionId,
      redirectUri: input.callbackUrl,
      purpose: 'connect',
      expiresAt,
      codeVerifier: sealVerifier(state, { connectionId, owner: caller.owner }, verifier),
    });
    await services.repository.create(record);
  } catch (error) {
    // Nothing usable was made: give the slot back rather than let it lapse.
    await releaseSlot(services, record);
    throw error;
  }
  services.log.info('connection created', { connection_id: connectionId });
  services.metrics.count(metricNames.connectionsCreated);
  return { connection_id: connectionId, status: 'authorization_required', auth_link: authLink, auth_link_expires_at: isoAt(expiresAt) };
};
