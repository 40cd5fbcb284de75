/** The CSRF `state` of an auth link: random, stored only as a hash, single use, short-lived. */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

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
  /** The PKCE code_verifier, sealed under a key only the raw state gives (see `sealVerifier`). */
  codeVerifier?: string | undefined;
}

/** PKCE (RFC 7636): a 43-character verifier (32 random bytes, base64url), kept sealed with the state. */
export const newCodeVerifier = (random: (size: number) => Buffer = randomBytes): string => random(32).toString('base64url');

/** The S256 challenge sent in the auth link: base64url(sha256(verifier)). */
export const codeChallengeS256 = (verifier: string): string => createHash('sha256').update(verifier, 'ascii').digest('base64url');

type Row = { connectionId: string; owner: string };

/**
 * The verifier is sealed under a key derived from the raw `state`, which is stored nowhere (only its
 * hash is): the table alone cannot give the verifier up, and the callback, which receives the state,
 * opens it without any KMS call, so the public callback function holds no kms:Decrypt. AES-256-GCM,
 * bound to the connection id and owner like the tokens.
 */
const verifierKey = (state: string): Buffer =>
  Buffer.from(hkdfSync('sha256', Buffer.from(state, 'utf8'), 'truelayer-connections', 'pkce code_verifier', 32));

const rowBinding = (row: Row): Buffer => Buffer.from(JSON.stringify([row.connectionId, row.owner]), 'utf8');

export const sealVerifier = (state: string, row: Row, verifier: string): string => {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', verifierKey(state), iv).setAAD(rowBinding(row));
  const sealed = Buffer.concat([cipher.update(verifier, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
};

/** Throws when the state, the row or the blob is not the one the verifier was sealed with. */
export const openVerifier = (state: string, row: Row, sealed: string): string => {
  const bytes = Buffer.from(sealed, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', verifierKey(state), bytes.subarray(0, 12)).setAAD(rowBinding(row));
  decipher.setAuthTag(bytes.subarray(12, 28));
  return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
};
