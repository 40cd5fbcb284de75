/**
 * Field-level envelope encryption for stored tokens: AES-256-GCM under a KMS data key, bound to the
 * row (connection id + owner) through the additional authenticated data.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Clock } from '../clock';
import type { DataKey, DataKeyProvider, EncryptionContext } from './data-keys';
import { DataKeyError, TokenDecryptionError, TokenEncryptionError } from './errors';

export type { EncryptionContext } from './data-keys';
export { TokenDecryptionError, TokenEncryptionError } from './errors';

export interface TokenCipherOptions {
  keys: DataKeyProvider;
  clock: Clock;
  /** How long one data key encrypts, and how long an unwrapped data key is remembered. */
  dataKeyTtlMs?: number;
  /** Messages encrypted under one data key before a fresh one is generated. */
  maxMessagesPerDataKey?: number;
  /** Unwrapped data keys remembered for decryption, and rows with a live encryption key. */
  maxCachedDataKeys?: number;
}

export const DEFAULT_DATA_KEY_TTL_MS = 5 * 60 * 1000;
// Far below the 2^32 random-IV limit for GCM; in practice the TTL retires a key long before this.
export const DEFAULT_MAX_MESSAGES_PER_DATA_KEY = 10_000;
export const DEFAULT_MAX_CACHED_DATA_KEYS = 100;

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

interface EncryptionKey {
  key: DataKey;
  createdAt: number;
  uses: number;
}

interface CachedDataKey {
  plaintext: Uint8Array;
  cachedAt: number;
}

const toBase64Url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/**
 * JSON of an array of strings is unambiguous: ("a","bc") and ("ab","c") give different bytes. The
 * version is inside so a future format cannot be fed a v1 blob's bytes.
 */
const additionalData = (context: EncryptionContext): Buffer =>
  Buffer.from(JSON.stringify([VERSION, context.connectionId, context.owner]), 'utf8');

/** Cache key of a row: unambiguous for the same reason as the additional data. */
const rowKey = (context: EncryptionContext): string => JSON.stringify([context.connectionId, context.owner]);

const assertContext = (context: EncryptionContext): void => {
  if (typeof context?.connectionId !== 'string' || context.connectionId.length === 0) {
    throw new TypeError('encryption context needs a non-empty connectionId');
  }
  if (typeof context.owner !== 'string' || context.owner.length === 0) {
    throw new TypeError('encryption context needs a non-empty owner');
  }
};

const positiveInteger = (value: number | undefined, fallback: number, name: string): number => {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result < 1) throw new RangeError(`${name} must be a positive integer`);
  return result;
};

/** Sets `key` as the most recently used entry of `map` (a Map keeps insertion order), evicting the least recently used past `max`. */
const setRecent = <K, V>(map: Map<K, V>, key: K, value: V, max: number): void => {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
};

/**
 * Blob format: `v1.<b64url wrapped data key>.<b64url 12-byte IV>.<b64url ciphertext || 16-byte tag>`.
 *
 * Every data key belongs to one row (connection id + owner), which KMS binds as the encryption
 * context, so a wrapped key copied to another row cannot even be unwrapped there. Data keys are cached
 * in memory so a warm container makes no KMS call per token: a row's generated key encrypts for
 * `dataKeyTtlMs` (on the injected clock) or `maxMessagesPerDataKey` messages, and unwrapped keys are
 * remembered by row and wrapped bytes for the same time. Concurrent callers share one in-flight KMS
 * call; a failed call is not remembered.
 */
export class TokenCipher {
  readonly #keys: DataKeyProvider;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #maxMessages: number;
  readonly #maxCached: number;

  readonly #current = new Map<string, EncryptionKey>();
  readonly #generating = new Map<string, Promise<EncryptionKey>>();
  readonly #unwrapped = new Map<string, CachedDataKey>();
  readonly #unwrapping = new Map<string, Promise<Uint8Array>>();

  constructor(options: TokenCipherOptions) {
    this.#keys = options.keys;
    this.#clock = options.clock;
    this.#ttlMs = positiveInteger(options.dataKeyTtlMs, DEFAULT_DATA_KEY_TTL_MS, 'dataKeyTtlMs');
    this.#maxMessages = positiveInteger(options.maxMessagesPerDataKey, DEFAULT_MAX_MESSAGES_PER_DATA_KEY, 'maxMessagesPerDataKey');
    this.#maxCached = positiveInteger(options.maxCachedDataKeys, DEFAULT_MAX_CACHED_DATA_KEYS, 'maxCachedDataKeys');
  }

  async encrypt(plaintext: string, context: EncryptionContext): Promise<string> {
    assertContext(context);
    if (typeof plaintext !== 'string') throw new TypeError('only strings are encrypted');
    const key = await this.#keyForEncryption(context);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.plaintext, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(context));
    const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return [VERSION, toBase64Url(key.encrypted), toBase64Url(iv), toBase64Url(sealed)].join('.');
  }

  async decrypt(blob: string, context: EncryptionContext): Promise<string> {
    assertContext(context);
    const parsed = parseBlob(blob);
    let dataKey: Uint8Array;
    try {
      dataKey = await this.#unwrap(parsed.wrappedKey, context);
    } catch (error) {
      const rejected = error instanceof DataKeyError && error.rejected;
      throw new TokenDecryptionError(
        rejected ? 'data_key_rejected' : 'data_key_unavailable',
        rejected ? "the token blob's data key was refused by the key provider" : "the token blob's data key could not be unwrapped",
        { cause: error },
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', dataKey, parsed.iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(additionalData(context));
      decipher.setAuthTag(parsed.tag);
      return Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]).toString('utf8');
    } catch (error) {
      throw new TokenDecryptionError(
        'authentication_failed',
        'the token blob failed authentication: tampered, or stored under another connection or owner',
        { cause: error },
      );
    }
  }

  async #keyForEncryption(context: EncryptionContext): Promise<DataKey> {
    const row = rowKey(context);
    for (;;) {
      const current = this.#current.get(row);
      if (current && this.#isFresh(current.createdAt) && current.uses < this.#maxMessages) {
        current.uses += 1;
        return current.key;
      }
      let generating = this.#generating.get(row);
      if (!generating) {
        generating = this.#generate(row, context).finally(() => {
          this.#generating.delete(row);
        });
        this.#generating.set(row, generating);
      }
      const generated = await generating;
      // A key just generated is used even if the clock says it is already old, so callers always progress.
      if (generated.uses < this.#maxMessages) {
        generated.uses += 1;
        return generated.key;
      }
    }
  }

  async #generate(row: string, context: EncryptionContext): Promise<EncryptionKey> {
    let key: DataKey;
    try {
      key = await this.#keys.generateDataKey(context);
    } catch (error) {
      throw new TokenEncryptionError('could not get a data key to encrypt tokens', { cause: error });
    }
    const now = this.#clock.now();
    const generated: EncryptionKey = { key, createdAt: now, uses: 0 };
    setRecent(this.#current, row, generated, this.#maxCached);
    // Reading back what this container just wrote then needs no Decrypt call.
    this.#remember(`${row}|${toBase64Url(key.encrypted)}`, { plaintext: key.plaintext, cachedAt: now });
    return generated;
  }

  async #unwrap(wrappedKey: string, context: EncryptionContext): Promise<Uint8Array> {
    // Keyed by row too: a wrapped key seen under one row must still go to KMS (and fail) under another.
    const cacheKey = `${rowKey(context)}|${wrappedKey}`;
    const cached = this.#unwrapped.get(cacheKey);
    if (cached) {
      if (this.#isFresh(cached.cachedAt)) {
        this.#remember(cacheKey, cached);
        return cached.plaintext;
      }
      this.#unwrapped.delete(cacheKey);
    }
    let pending = this.#unwrapping.get(cacheKey);
    if (!pending) {
      pending = this.#keys
        .decryptDataKey(Buffer.from(wrappedKey, 'base64url'), context)
        .then((plaintext) => {
          this.#remember(cacheKey, { plaintext, cachedAt: this.#clock.now() });
          return plaintext;
        })
        .finally(() => {
          this.#unwrapping.delete(cacheKey);
        });
      this.#unwrapping.set(cacheKey, pending);
    }
    return pending;
  }

  /** Insert or refresh an entry as most recently used, evicting the least recently used past the bound. */
  #remember(cacheKey: string, entry: CachedDataKey): void {
    setRecent(this.#unwrapped, cacheKey, entry, this.#maxCached);
  }

  #isFresh(since: number): boolean {
    const age = this.#clock.now() - since;
    // A clock that went backwards gives a negative age: treat the key as stale rather than immortal.
    return age >= 0 && age < this.#ttlMs;
  }
}

interface ParsedBlob {
  wrappedKey: string;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

const parseBlob = (blob: string): ParsedBlob => {
  if (typeof blob !== 'string') throw new TokenDecryptionError('malformed_blob', 'the token blob is not a string');
  const parts = blob.split('.');
  const version = parts[0] ?? '';
  if (version !== VERSION) {
    if (parts.length > 1 && /^v\d+$/.test(version)) {
      throw new TokenDecryptionError('unsupported_version', `the token blob has unsupported format version ${version}`);
    }
    throw new TokenDecryptionError('malformed_blob', 'the token blob is not in a known format');
  }
  const [, wrappedKey, ivText, sealedText] = parts;
  if (
    parts.length !== 4 ||
    !wrappedKey ||
    !ivText ||
    !sealedText ||
    ![wrappedKey, ivText, sealedText].every((part) => BASE64URL.test(part))
  ) {
    throw new TokenDecryptionError('malformed_blob', 'the token blob does not have four base64url parts');
  }
  const iv = Buffer.from(ivText, 'base64url');
  const sealed = Buffer.from(sealedText, 'base64url');
  // Decoders ignore stray trailing bits; insisting on the canonical text makes every edit to a blob fail.
  if (
    toBase64Url(Buffer.from(wrappedKey, 'base64url')) !== wrappedKey ||
    toBase64Url(iv) !== ivText ||
    toBase64Url(sealed) !== sealedText
  ) {
    throw new TokenDecryptionError('malformed_blob', 'the token blob is not canonical base64url');
  }
  if (iv.length !== IV_BYTES || sealed.length < TAG_BYTES) {
    throw new TokenDecryptionError('malformed_blob', "the token blob's IV or ciphertext has the wrong length");
  }
  return {
    wrappedKey,
    iv,
    ciphertext: sealed.subarray(0, sealed.length - TAG_BYTES),
    tag: sealed.subarray(sealed.length - TAG_BYTES),
  };
};
