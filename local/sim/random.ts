/** Randomness of two kinds: seeded (mock bank data must be the same every run) and unguessable (tokens, codes). */
import { createHash, randomBytes, randomUUID } from 'node:crypto';

/** FNV-1a: a cheap, stable 32-bit seed from any text. */
export const hashSeed = (text: string): number => {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
};

/** mulberry32: small, fast and good enough for fake bank statements. */
export class SeededRandom {
  private state: number;

  constructor(seed: number | string) {
    this.state = typeof seed === 'string' ? hashSeed(seed) : seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let value = this.state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new RangeError('pick from an empty list');
    return item;
  }

  /** Whole pence in [minPence, maxPence]. */
  pence(minPence: number, maxPence: number): number {
    return this.int(Math.round(minPence), Math.round(maxPence));
  }
}

/** Deterministic hex of the given length derived from text (stable ids for accounts and transactions). */
export const stableHex = (text: string, length: number): string => {
  let hex = '';
  let round = 0;
  while (hex.length < length) {
    hex += createHash('sha256').update(`${round}:${text}`).digest('hex');
    round += 1;
  }
  return hex.slice(0, length);
};

/** Deterministic uuid-shaped id. */
export const stableUuid = (text: string): string => {
  const hex = stableHex(text, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
};

/** Upper-case hex of n random bytes, the shape of TrueLayer's refresh tokens and codes. */
export const randomHex = (bytes: number): string => randomBytes(bytes).toString('hex').toUpperCase();

/** A credentials id as TrueLayer writes it: base64 of 32 random bytes. */
export const randomCredentialsId = (): string => randomBytes(32).toString('base64');

export const randomUrlSafe = (bytes: number): string => randomBytes(bytes).toString('base64url');

export const uuid = (): string => randomUUID();
