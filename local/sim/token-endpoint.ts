/**
 * `POST /connect/token` (TrueLayer's token endpoint): the authorization_code and refresh_token grants, with
 * TrueLayer's lifetimes, single-use codes, refresh-token rotation and only-the-newest access token.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { SimContext } from './context';
import type { SimError } from './errors';
import { tlError } from './errors';
import type { SimRequest } from './http';
import { headerValue, parseBody, sendJson } from './http';
import type { Credential } from './store';
import { accessTokenLifetimeSeconds } from './tokens';

const codeGrantSchema = z.object({
  grant_type: z.literal('authorization_code'),
  code: z.string().min(1, 'code is required'),
  redirect_uri: z.string().min(1, 'redirect_uri is required'),
  code_verifier: z.string().optional(),
});

const refreshGrantSchema = z.object({
  grant_type: z.literal('refresh_token'),
  refresh_token: z.string().min(1, 'refresh_token is required'),
});

const clientFieldsSchema = z.object({
  client_id: z.string().min(1).optional(),
  client_secret: z.string().min(1).optional(),
});

export interface TokenPair {
  access_token: string;
  expires_in: number;
  token_type: 'Bearer';
  refresh_token?: string;
  scope: string;
}

/**
 * Issues a new access token (which becomes the only valid one of the connection) and, with
 * offline_access, a refresh token: a new one, or `keepRefreshToken` when it stays stable.
 */
export const issueTokens = async (ctx: SimContext, credential: Credential, keepRefreshToken?: string): Promise<TokenPair> => {
  const signed = await ctx.signer.sign(
    {
      credentialsId: credential.credentialsId,
      clientId: credential.clientId,
      consentId: credential.consentId,
      scopes: credential.scopes,
      authTimeMs: credential.authTime,
      sessionId: credential.sessionId,
      credentialsKey: credential.credentialsKey,
    },
    ctx.store.now(),
  );
  credential.accessJti = signed.jti;
  const pair: TokenPair = {
    access_token: signed.token,
    expires_in: accessTokenLifetimeSeconds,
    token_type: 'Bearer',
    scope: credential.scopes.join(' '),
  };
  if (credential.scopes.includes('offline_access')) pair.refresh_token = keepRefreshToken ?? ctx.store.issueRefreshToken(credential);
  return pair;
};

const noStore = { 'cache-control': 'no-store', pragma: 'no-cache' };

const basicCredentials = (request: SimRequest): { clientId: string; clientSecret: string } | 'malformed' | undefined => {
  const header = headerValue(request.headers, 'authorization');
  if (header === undefined) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (match?.[1] === undefined) return 'malformed';
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return 'malformed';
  // RFC 6749 §2.3.1: both parts are form-urlencoded inside the Basic header.
  try {
    return {
      clientId: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
      clientSecret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
    };
  } catch {
    return 'malformed';
  }
};

const invalidRequest = (reason: string): SimError => tlError(400, 'invalid_request', 'Invalid request', { reason });

const unauthorizedClient = (): SimError =>
  tlError(401, 'unauthorized_client', 'The client credentials you have entered are incorrect. Please check and try again.');

const invalidGrant = (reason: string): SimError => tlError(400, 'invalid_grant', 'The grant is invalid, expired or revoked.', { reason });

/** Reads grant_type early, so stats can count a request even when a fault answers it. */
export const grantTypeOf = (request: SimRequest): string | undefined => {
  const body = parseBody(request);
  return body.ok && typeof body.value.grant_type === 'string' ? body.value.grant_type : undefined;
};

const handle = async (ctx: SimContext, request: SimRequest): Promise<{ status: number; body: unknown }> => {
  const parsed = parseBody(request);
  if (!parsed.ok) return invalidRequest(parsed.reason);
  const body = parsed.value;

  const fields = clientFieldsSchema.safeParse(body);
  if (!fields.success) return invalidRequest('client_id and client_secret must be strings');
  const basic = basicCredentials(request);
  if (basic === 'malformed') return invalidRequest('malformed Authorization header');
  if (basic !== undefined && fields.data.client_id !== undefined && fields.data.client_id !== basic.clientId) {
    return invalidRequest('client_id in the body and in the Authorization header differ');
  }
  const clientId = basic?.clientId ?? fields.data.client_id;
  const clientSecret = basic?.clientSecret ?? fields.data.client_secret;
  if (clientId === undefined) return invalidRequest('client_id is required');
  if (clientSecret === undefined) return invalidRequest('client_secret is required');

  const grantType = body.grant_type;
  if (grantType !== 'authorization_code' && grantType !== 'refresh_token') {
    return typeof grantType === 'string'
      ? tlError(400, 'unsupported_grant_type', `grant_type ${grantType} is not supported here; use authorization_code or refresh_token.`)
      : invalidRequest('grant_type is required');
  }
  const client = ctx.store.authenticateClient(clientId, clientSecret);
  if (client === undefined) return unauthorizedClient();

  if (grantType === 'authorization_code') {
    const grant = codeGrantSchema.safeParse(body);
    if (!grant.success) return invalidRequest(grant.error.issues[0]?.message ?? 'invalid authorization_code request');
    const code = ctx.store.code(grant.data.code);
    const codeError = (reason: string): SimError =>
      tlError(400, ctx.codeErrorCode, 'The authorization code is invalid, expired or already used.', { reason });
    if (code === undefined) return codeError('unknown code');
    if (code.used) return codeError('code already used');
    if (ctx.store.isCodeExpired(code)) return codeError('code expired');
    // Binding failures leave the code usable by its rightful client, as it was never redeemed.
    if (code.clientId !== client.client_id) return invalidGrant('code was issued to another client');
    if (code.redirectUri !== grant.data.redirect_uri) return invalidGrant('redirect_uri does not match the one of the auth link');
    // PKCE: a code whose link carried a challenge redeems only with the matching verifier, so a code
    // seen on its way back (a log, a referrer, a redirect) is useless on its own.
    if (code.codeChallenge !== undefined) {
      const verifier = grant.data.code_verifier;
      if (verifier === undefined) return invalidGrant('code_verifier is required: the auth link carried a code_challenge');
      if (
        !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) ||
        createHash('sha256').update(verifier, 'ascii').digest('base64url') !== code.codeChallenge
      ) {
        return invalidGrant('code_verifier does not match the code_challenge');
      }
    }
    code.used = true;

    if (code.renewalOf !== undefined) {
      const credential = ctx.store.credentials.get(code.renewalOf);
      if (credential === undefined || credential.revokedAt !== undefined) return invalidGrant('the connection was revoked');
      ctx.store.renewConsent(credential);
      credential.eternal = code.user.eternal;
      ctx.store.retireRefreshTokensOf(credential.credentialsId);
      return { status: 200, body: await issueTokens(ctx, credential) };
    }
    const credential = ctx.store.createCredential(code);
    return { status: 200, body: await issueTokens(ctx, credential) };
  }

  const grant = refreshGrantSchema.safeParse(body);
  if (!grant.success) return invalidRequest(grant.error.issues[0]?.message ?? 'invalid refresh_token request');
  const record = ctx.store.refreshRecord(grant.data.refresh_token);
  if (record === undefined) return invalidGrant('unknown or already rotated refresh token');
  if (record.clientId !== client.client_id) return invalidGrant('refresh token was issued to another client');
  const credential = ctx.store.credentials.get(record.credentialsId);
  if (credential === undefined || credential.revokedAt !== undefined) return invalidGrant('the connection was revoked');
  if (ctx.store.isConsentOver(credential)) return invalidGrant('consent expired');
  if (ctx.store.isRefreshIdle(record)) return invalidGrant('refresh token unused for over 30 days');

  if (ctx.rotateRefreshTokens) {
    ctx.store.retireRefreshToken(grant.data.refresh_token);
    return { status: 200, body: await issueTokens(ctx, credential) };
  }
  record.lastUsedAt = ctx.store.now();
  return { status: 200, body: await issueTokens(ctx, credential, grant.data.refresh_token) };
};

export const handleToken = async (ctx: SimContext, request: SimRequest, res: ServerResponse): Promise<void> => {
  const result = await handle(ctx, request);
  const headers: Record<string, string> = { ...noStore };
  if (result.status === 401) headers['www-authenticate'] = 'Basic realm="TrueLayer simulator"';
  sendJson(request.raw, res, result.status, result.body, { headers });
};
