/** The one-time code that lets a connection's creator complete it after the callback. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long the owner has to complete a connection after the callback stored its tokens. */
export const COMPLETION_TTL_MS = 10 * 60 * 1000;
/** The fifth wrong code revokes the connection. */
export const MAX_COMPLETION_TRIES = 5;

/** 32 random bytes, base64url: what goes to the return_url; only its hash is stored. */
export const newCompletionCode = (random: (size: number) => Buffer = randomBytes): string => random(32).toString('base64url');

export const hashCompletionCode = (code: string): string => createHash('sha256').update(code, 'utf8').digest('hex');

/** A completion code as we issue it: exactly 43 base64url characters. */
export const looksLikeCompletionCode = (value: string): boolean => /^[A-Za-z0-9_-]{43}$/.test(value);

/** Constant-time comparison of a presented code with the stored hash. */
export const completionCodeMatches = (code: string, storedHash: string | undefined): boolean => {
  if (!storedHash) return false;
  const presented = Buffer.from(hashCompletionCode(code), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
};
