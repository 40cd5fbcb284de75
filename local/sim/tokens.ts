/** RS256 JWT access tokens shaped like TrueLayer's (with `exp`, which clients check), signed with a key pair made at start. */

import type { CryptoKey, JWK } from 'jose';
import { calculateJwkThumbprint, errors, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { randomHex, randomUrlSafe } from './random';
import type { Scope } from './scopes';

export const accessTokenLifetimeSeconds = 3600;

export interface AccessTokenSubject {
  credentialsId: string;
  clientId: string;
  consentId: string;
  scopes: Scope[];
  authTimeMs: number;
  sessionId: string;
  credentialsKey: string;
}

export interface AccessTokenClaims {
  sub: string;
  jti: string;
  exp: number;
}

export type VerifiedToken =
  | { ok: true; claims: AccessTokenClaims }
  | { ok: false; reason: 'expired'; expiredAtMs: number }
  | { ok: false; reason: 'invalid' };

export class TokenSigner {
  private constructor(
    private readonly privateKey: CryptoKey,
    private readonly publicKey: CryptoKey,
    readonly publicJwk: JWK,
    private issuer: string,
  ) {}

  static async create(): Promise<TokenSigner> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
    const jwk = await exportJWK(publicKey);
    const kid = (await calculateJwkThumbprint(jwk)).toUpperCase();
    return new TokenSigner(privateKey, publicKey, { ...jwk, kid, use: 'sig', alg: 'RS256' }, 'http://127.0.0.1');
  }

  /** The issuer is the simulator's URL, known only once the server listens. */
  setIssuer(issuer: string): void {
    this.issuer = issuer;
  }

  get kid(): string {
    return this.publicJwk.kid ?? '';
  }

  async sign(subject: AccessTokenSubject, nowMs: number): Promise<{ token: string; jti: string; expiresAtMs: number }> {
    const iat = Math.floor(nowMs / 1000);
    const exp = iat + accessTokenLifetimeSeconds;
    const jti = randomHex(16);
    const token = await new SignJWT({
      client_id: subject.clientId,
      auth_time: Math.floor(subject.authTimeMs / 1000),
      idp: 'local',
      sid: subject.sessionId,
      connector_id: 'mock',
      credentials_key: subject.credentialsKey,
      privacy_policy: 'Feb2019',
      consent_id: subject.consentId,
      scope: subject.scopes,
      amr: ['pwd'],
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: this.kid })
      .setIssuer(this.issuer)
      .setAudience('data_api')
      .setSubject(subject.credentialsId)
      .setJti(jti)
      .setNotBefore(iat)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.privateKey);
    return { token, jti, expiresAtMs: exp * 1000 };
  }

  async verify(token: string, nowMs: number): Promise<VerifiedToken> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, {
        algorithms: ['RS256'],
        issuer: this.issuer,
        audience: 'data_api',
        typ: 'at+jwt',
        currentDate: new Date(nowMs),
        requiredClaims: ['sub', 'jti', 'exp'],
      });
      if (typeof payload.sub !== 'string' || typeof payload.jti !== 'string' || typeof payload.exp !== 'number')
        return { ok: false, reason: 'invalid' };
      return { ok: true, claims: { sub: payload.sub, jti: payload.jti, exp: payload.exp } };
    } catch (error) {
      if (error instanceof errors.JWTExpired && typeof error.payload.exp === 'number')
        return { ok: false, reason: 'expired', expiredAtMs: error.payload.exp * 1000 };
      return { ok: false, reason: 'invalid' };
    }
  }
}

export const newSessionId = (): string => `auth-${randomUrlSafe(24)}`;
