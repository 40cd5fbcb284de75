/** The CSRF `state` of an auth link: random, stored only as a hash, single use, short-lived. */
import { createHash, randomBytes } from 'node:crypto';

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
}
