/** The CSRF `state` of an auth link: random, stored only as a hash, single use, short-lived. */
import { createHash, randomBytes } from 'node:crypto';
import type { TokenCipher } from '../crypto/token-cipher';

export const STATE_TTL_MS = 10 * 60 * 1000;

/** 32 random bytes, base64url: what goes into the auth link and comes back on the callback. */
export const newState = (random: (size: number) => Buffer = randomBytes): string => random(32).toString('base64url');

/** The only form in which a state is stored or logged. */
export const hashState = (state: string): string => createHash('sha256').update(state, 'utf8').digest('hex');

/** A state value as we issue it: exactly 43 base64url characters (32 bytes). */
export const looksLikeState = (value: string): boolean => /^[A-Za-z0-9_-]{43}$/.test(value);

export interface AuthStateRecord {
  stateHash: string;
  owner: string;
  connectionId: string;
  redirectUri: string;
  /** `connect` for a new connection, `extend` for the re-authentication after an extend. */
  purpose: 'connect' | 'extend';
  expiresAt: number;
  /** The PKCE code_verifier, sealed with the token cipher under the connection id + owner. */
  codeVerifier?: string | undefined;
}

/** PKCE (RFC 7636): a 43-character verifier (32 random bytes, base64url), kept sealed with the state. */
export const newCodeVerifier = (random: (size: number) => Buffer = randomBytes): string => random(32).toString('base64url');

/** The S256 challenge sent in the auth link: base64url(sha256(verifier)). */
export const codeChallengeS256 = (verifier: string): string => createHash('sha256').update(verifier, 'ascii').digest('base64url');

type Sealer = Pick<TokenCipher, 'encrypt' | 'decrypt'>;
type Row = { connectionId: string; owner: string };

/** Seals a verifier under the same row binding as the tokens; the wrapper keeps it apart from a token pair. */
export const sealVerifier = (cipher: Sealer, row: Row, verifier: string): Promise<string> =>
  cipher.encrypt(JSON.stringify({ pkce_verifier: verifier }), { connectionId: row.connectionId, owner: row.owner });

export const openVerifier = async (cipher: Sealer, row: Row, sealed: string): Promise<string> => {
  const opened = JSON.parse(await cipher.decrypt(sealed, { connectionId: row.connectionId, owner: row.owner })) as { pkce_verifier?: unknown };
  if (typeof opened.pkce_verifier !== 'string') throw new TypeError('the sealed value is not a PKCE verifier');
  return opened.pkce_verifier;
};
