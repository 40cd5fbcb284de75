/** The HTTP API JWT authorizer: what it accepts, what it refuses, and how claims reach the event. */

import type { JSONWebKeySet, JWTPayload, JWTVerifyGetKey } from 'jose';
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify } from 'jose';
import type { Clock } from '../../shared/clock';

export interface JwtAuthorizerConfig {
  /** Must equal the token's `iss` exactly. A function is read on every request (an issuer that learns its port late). */
  issuer: string | (() => string);
  /** The token's `aud` (or, without `aud`, its `client_id`) must name one of these. */
  audience: string | readonly string[];
  /** The issuer's keys: a key set, a jose key resolver, or the URL of a JWKS document. */
  jwks: JSONWebKeySet | JWTVerifyGetKey | URL;
}

export interface JwtAuthorization {
  claims: Record<string, string>;
  scopes: string[] | null;
}

export type AuthorizerResult = { ok: true; authorization: JwtAuthorization } | { ok: false; challenge: string };

/** Raised by our own checks so they share one path with jose's errors. */
class TokenRejected extends Error {
  constructor(readonly description: string) {
    super(description);
  }
}

const challenge = (description: string): string => `Bearer scope="" error="invalid_token" error_description="${description}"`;

/** AWS keeps a leading `Bearer ` optional on the identity source and strips it when present. */
const extractToken = (authorization: string | undefined): string | undefined => {
  if (authorization === undefined) return undefined;
  const value = authorization.trim();
  const bearer = /^bearer\s+(.*)$/i.exec(value);
  const token = (bearer ? (bearer[1] ?? '') : value).trim();
  return token.length > 0 ? token : undefined;
};

/** API Gateway hands claims over as strings, arrays and maps in Go's `%v` notation. */
export const claimToString = (value: unknown): string => {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null || value === undefined) return '<nil>';
  if (Array.isArray(value)) return `[${value.map(claimToString).join(' ')}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `map[${entries.map(([key, item]) => `${key}:${claimToString(item)}`).join(' ')}]`;
};

const scopesOf = (payload: JWTPayload): string[] | null => {
  const raw = payload.scope ?? payload.scp;
  if (typeof raw === 'string') {
    const scopes = raw.split(' ').filter((scope) => scope.length > 0);
    return scopes.length > 0 ? scopes : null;
  }
  if (Array.isArray(raw)) {
    const scopes = raw.filter((scope): scope is string => typeof scope === 'string');
    return scopes.length > 0 ? scopes : null;
  }
  return null;
};

const describe = (error: unknown): string => {
  if (error instanceof TokenRejected) return error.description;
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'the token is not valid yet';
    if (error.claim === 'iss') return 'the token does not have a valid issuer';
    if (error.claim === 'exp') return 'the token has no expiry';
    return `the token has an invalid ${error.claim} claim`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token is not signed with RS256';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'signature is invalid';
  if (error instanceof errors.JWKSNoMatchingKey) return "no key in the issuer's key set matches the token";
  return 'the token is malformed';
};

/**
 * Builds the authorizer for one issuer. Time comes from the injected clock so the local stack's
 * `POST /__local/clock` expires tokens the way real time would.
 */
export const createJwtAuthorizer = (config: JwtAuthorizerConfig, clock: Clock) => {
  const audiences = new Set(typeof config.audience === 'string' ? [config.audience] : config.audience);
  const resolveKey: JWTVerifyGetKey =
    config.jwks instanceof URL
      ? createRemoteJWKSet(config.jwks)
      : typeof config.jwks === 'function'
        ? config.jwks
        : createLocalJWKSet(config.jwks);

  // The authorizer picks the key by `kid`, so a token without one has no key to check against.
  const keyByKid: JWTVerifyGetKey = (header, token) => {
    if (typeof header.kid !== 'string' || header.kid.length === 0) throw new TokenRejected('the token has no kid header');
    return resolveKey(header, token);
  };

  return async (authorizationHeader: string | undefined): Promise<AuthorizerResult> => {
    const token = extractToken(authorizationHeader);
    if (token === undefined) return { ok: false, challenge: 'Bearer' };
    const nowMs = clock.now();
    try {
      const { payload } = await jwtVerify(token, keyByKid, {
        algorithms: ['RS256'],
        issuer: typeof config.issuer === 'function' ? config.issuer() : config.issuer,
        currentDate: new Date(nowMs),
        requiredClaims: ['exp'],
      });
      if (typeof payload.iat === 'number' && payload.iat * 1000 > nowMs) throw new TokenRejected('the token was issued in the future');
      const aud = payload.aud === undefined ? undefined : typeof payload.aud === 'string' ? [payload.aud] : payload.aud;
      const clientId = payload.client_id;
      const audienceOk =
        aud !== undefined ? aud.some((entry) => audiences.has(entry)) : typeof clientId === 'string' && audiences.has(clientId);
      if (!audienceOk) throw new TokenRejected('the token does not have a valid audience');
      const claims = Object.fromEntries(Object.entries(payload).map(([name, value]) => [name, claimToString(value)]));
      return { ok: true, authorization: { claims, scopes: scopesOf(payload) } };
    } catch (error) {
      return { ok: false, challenge: challenge(describe(error)) };
    }
  };
};
