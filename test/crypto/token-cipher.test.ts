import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LocalDataKeyProvider } from '../../shared/crypto/data-keys';
import { type EncryptionContext, TokenCipher, TokenDecryptionError, TokenEncryptionError } from '../../shared/crypto/token-cipher';
import { CountingKeys, frozenClock } from './counting-keys';

const row: EncryptionContext = { connectionId: 'conn_01HZX', owner: 'user-alice' };
const tokens = JSON.stringify({ access_token: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', refresh_token: 'r3fr3sh-t0k3n' });

const setup = (options: { ttlMs?: number; maxMessages?: number; maxCached?: number } = {}) => {
  const keys = new CountingKeys();
  const clock = frozenClock();
  const cipher = new TokenCipher({
    keys,
    clock,
    ...(options.ttlMs !== undefined ? { dataKeyTtlMs: options.ttlMs } : {}),
    ...(options.maxMessages !== undefined ? { maxMessagesPerDataKey: options.maxMessages } : {}),
    ...(options.maxCached !== undefined ? { maxCachedDataKeys: options.maxCached } : {}),
  });
  /** A second container: same KMS key, empty caches. */
  const coldCipher = (extra: { maxCached?: number } = {}) =>
    new TokenCipher({ keys, clock, ...(extra.maxCached !== undefined ? { maxCachedDataKeys: extra.maxCached } : {}) });
  return { keys, clock, cipher, coldCipher };
};

/** Flips one bit of the decoded bytes of blob part `index`, keeping the encoding canonical. */
const tamper = (blob: string, index: number, byte = 0): string => {
  const parts = blob.split('.');
  const bytes = Buffer.from(parts[index] ?? '', 'base64url');
  const at = byte < 0 ? bytes.length + byte : byte;
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
};

const decryptError = async (promise: Promise<unknown>): Promise<TokenDecryptionError> => {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(TokenDecryptionError);
  return error as TokenDecryptionError;
};

describe('TokenCipher round trip', () => {
  it('decrypts what it encrypted for the same row', async () => {
    const { cipher } = setup();
    const blob = await cipher.encrypt(tokens, row);
    expect(await cipher.decrypt(blob, row)).toBe(tokens);
  });

  it('writes a versioned blob of four base64url parts that does not contain the plaintext', async () => {
    const { cipher } = setup();
    const blob = await cipher.encrypt(tokens, row);
    expect(blob).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(blob).not.toContain('r3fr3sh');
    expect(Buffer.from(blob.split('.')[2] ?? '', 'base64url')).toHaveLength(12);
  });

  it('uses a fresh IV for every message, so equal plaintexts give different blobs', async () => {
    const { cipher } = setup();
    const first = await cipher.encrypt(tokens, row);
    const second = await cipher.encrypt(tokens, row);
    expect(first).not.toBe(second);
    expect(first.split('.')[2]).not.toBe(second.split('.')[2]);
  });

  it('round-trips any string for any row', async () => {
    const { cipher, coldCipher } = setup();
    const cold = coldCipher();
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1 }),
        fc.string({ minLength: 1 }),
        fc.string({ unit: 'grapheme' }),
        async (connectionId, owner, plaintext) => {
          const blob = await cipher.encrypt(plaintext, { connectionId, owner });
          expect(await cold.decrypt(blob, { connectionId, owner })).toBe(plaintext);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('TokenCipher binds a blob to its row', () => {
  it('refuses a blob moved to another connection id', async () => {
    const { cipher } = setup();
    const blob = await cipher.encrypt(tokens, row);
    const error = await decryptError(cipher.decrypt(blob, { ...row, connectionId: 'conn_other' }));
    // The data key itself is bound to the row, so it is refused before the ciphertext is tried.
    expect(error.reason).toBe('data_key_rejected');
  });

  it('refuses a blob moved to another owner', async () => {
    const { cipher } = setup();
    const blob = await cipher.encrypt(tokens, row);
    const error = await decryptError(cipher.decrypt(blob, { ...row, owner: 'user-mallory' }));
    // The data key itself is bound to the row, so it is refused before the ciphertext is tried.
    expect(error.reason).toBe('data_key_rejected');
  });

  it('does not confuse ("a","bc") with ("ab","c")', async () => {
    const { cipher } = setup();
    const blob = await cipher.encrypt(tokens, { connectionId: 'a', owner: 'bc' });
    await decryptError(cipher.decrypt(blob, { connectionId: 'ab', owner: 'c' }));
  });

  it('refuses to encrypt for an empty connection id or owner', async () => {
    const { cipher } = setup();
    await expect(cipher.encrypt(tokens, { connectionId: '', owner: 'x' })).rejects.toThrow(TypeError);
    await expect(cipher.encrypt(tokens, { connectionId: 'x', owner: '' })).rejects.toThrow(TypeError);
  });
});

describe('TokenCipher refuses altered blobs', () => {
  it.each([
    ['the first ciphertext byte', 3, 0],
    ['the authentication tag', 3, -1],
    ['the IV', 2, 0],
  ])('fails authentication when %s changes', async (_what, part, byte) => {
    const { cipher } = setup();
    const blob = await cipher.encrypt(tokens, row);
    const error = await decryptError(cipher.decrypt(tamper(blob, part, byte), row));
    expect(error.reason).toBe('authentication_failed');
  });

  it('fails when the wrapped data key changes', async () => {
    const { cipher } = setup();
    const blob = await cipher.encrypt(tokens, row);
    const error = await decryptError(cipher.decrypt(tamper(blob, 1, 20), row));
    expect(error.reason).toBe('data_key_rejected');
  });

  it('fails when the wrapped data key is swapped for another valid one', async () => {
    const { cipher } = setup({ maxMessages: 1 });
    const first = (await cipher.encrypt(tokens, row)).split('.');
    const second = (await cipher.encrypt(tokens, row)).split('.');
    const spliced = [first[0], second[1], first[2], first[3]].join('.');
    const error = await decryptError(cipher.decrypt(spliced, row));
    expect(error.reason).toBe('authentication_failed');
  });

  it('reports an unknown version as unsupported', async () => {
    const { cipher } = setup();
    const blob = await cipher.encrypt(tokens, row);
    const error = await decryptError(cipher.decrypt(blob.replace(/^v1\./, 'v2.'), row));
    expect(error.reason).toBe('unsupported_version');
  });

  it.each([
    ['an empty string', ''],
    ['plain text', 'not a blob'],
    ['a missing part', 'v1.AAAA.AAAA'],
    ['an extra part', 'v1.AAAA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AAAA'],
    ['a short IV', 'v1.AAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA'],
    ['a ciphertext shorter than a tag', 'v1.AAAA.AAAAAAAAAAAAAAAA.AAAA'],
    ['non-base64url characters', 'v1.AA+A.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA'],
  ])('reports %s as a malformed blob', async (_what, blob) => {
    const { cipher } = setup();
    const error = await decryptError(cipher.decrypt(blob, row));
    expect(error.reason).toBe('malformed_blob');
  });

  it('fails when a part is re-encoded with different unused trailing bits', async () => {
    const { cipher } = setup();
    // 1 + 16 bytes of ciphertext and tag encode to 23 characters whose last one carries 2 unused bits.
    const blob = await cipher.encrypt('x', row);
    const parts = blob.split('.');
    const sealed = parts[3] ?? '';
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const lenient = [...alphabet]
      .map((char) => sealed.slice(0, -1) + char)
      .find((candidate) => candidate !== sealed && Buffer.from(candidate, 'base64url').equals(Buffer.from(sealed, 'base64url')));
    expect(lenient).toBeDefined();
    const error = await decryptError(cipher.decrypt([parts[0], parts[1], parts[2], lenient].join('.'), row));
    expect(error.reason).toBe('malformed_blob');
  });

  it('keeps the blob and its parts out of error messages', async () => {
    const { cipher } = setup();
    const blob = await cipher.encrypt(tokens, row);
    const attempts = [
      cipher.decrypt(blob, { ...row, owner: 'someone-else' }),
      cipher.decrypt(tamper(blob, 1, 5), row),
      cipher.decrypt(blob.replace(/^v1\./, 'v9.'), row),
      cipher.decrypt(blob.slice(0, -3), row),
    ];
    for (const attempt of attempts) {
      const error = await decryptError(attempt);
      const shown = `${String(error)} ${error.stack ?? ''}`;
      for (const part of blob.split('.').slice(1)) expect(shown).not.toContain(part.slice(0, 12));
      expect(error.name).toBe('TokenDecryptionError');
    }
  });
});

describe('TokenCipher data key caching', () => {
  it('reuses one generated data key for encryption within the TTL', async () => {
    const { cipher, keys, clock } = setup({ ttlMs: 5 * 60_000 });
    const first = await cipher.encrypt(tokens, row);
    clock.advance(4 * 60);
    const second = await cipher.encrypt(tokens, row);
    expect(keys.generateCalls).toBe(1);
    expect(second.split('.')[1]).toBe(first.split('.')[1]);
  });

  it('generates a new data key once the TTL has passed', async () => {
    const { cipher, keys, clock } = setup({ ttlMs: 5 * 60_000 });
    const first = await cipher.encrypt(tokens, row);
    clock.advance(5 * 60);
    const second = await cipher.encrypt(tokens, row);
    expect(keys.generateCalls).toBe(2);
    expect(second.split('.')[1]).not.toBe(first.split('.')[1]);
  });

  it('generates a new data key after the message bound', async () => {
    const { cipher, keys } = setup({ maxMessages: 2 });
    for (let i = 0; i < 5; i += 1) await cipher.encrypt(tokens, row);
    expect(keys.generateCalls).toBe(3);
  });

  it("generates one data key per row, each for that row's context, and reuses it for that row", async () => {
    const { cipher, keys } = setup();
    const other: EncryptionContext = { connectionId: 'conn_other', owner: 'user-bob' };
    const first = await cipher.encrypt(tokens, row);
    const forOther = await cipher.encrypt(tokens, other);
    const again = await cipher.encrypt(tokens, row);
    expect(keys.generateCalls).toBe(2);
    expect(keys.contexts).toEqual([row, other]);
    expect(forOther.split('.')[1]).not.toBe(first.split('.')[1]);
    expect(again.split('.')[1]).toBe(first.split('.')[1]);
  });

  it('decrypts its own blobs without unwrapping the data key', async () => {
    const { cipher, keys } = setup();
    const blob = await cipher.encrypt(tokens, row);
    await cipher.decrypt(blob, row);
    await cipher.decrypt(blob, row);
    expect(keys.decryptCalls).toBe(0);
  });

  it('unwraps a data key once and serves later decrypts from memory (a warm container)', async () => {
    const { cipher, keys, coldCipher } = setup();
    const blobs = await Promise.all(['a', 'b', 'c'].map((t) => cipher.encrypt(t, row)));
    const reader = coldCipher();
    for (const blob of [...blobs, ...blobs]) await reader.decrypt(blob, row);
    expect(keys.decryptCalls).toBe(1);
  });

  it('unwraps again after the TTL', async () => {
    const { cipher, keys, clock, coldCipher } = setup();
    const blob = await cipher.encrypt(tokens, row);
    const reader = coldCipher();
    await reader.decrypt(blob, row);
    clock.advance(5 * 60);
    await reader.decrypt(blob, row);
    expect(keys.decryptCalls).toBe(2);
  });

  it('keeps a bounded number of unwrapped keys, dropping the least recently used', async () => {
    const { cipher, keys, coldCipher } = setup({ maxMessages: 1 });
    const [one, two, three] = [await cipher.encrypt('1', row), await cipher.encrypt('2', row), await cipher.encrypt('3', row)];
    const reader = coldCipher({ maxCached: 2 });
    for (const blob of [one, two, three]) await reader.decrypt(blob, row);
    expect(keys.decryptCalls).toBe(3);
    await reader.decrypt(three, row);
    expect(keys.decryptCalls).toBe(3);
    await reader.decrypt(one, row);
    expect(keys.decryptCalls).toBe(4);
  });

  it('shares one in-flight GenerateDataKey between concurrent encrypts', async () => {
    const { cipher, keys } = setup();
    keys.hold();
    const pending = Array.from({ length: 20 }, (_, i) => cipher.encrypt(`token-${i}`, row));
    keys.release();
    const blobs = await Promise.all(pending);
    expect(keys.generateCalls).toBe(1);
    expect(new Set(blobs.map((blob) => blob.split('.')[1])).size).toBe(1);
  });

  it('shares one in-flight GenerateDataKey even past the message bound, then generates more', async () => {
    const { cipher, keys } = setup({ maxMessages: 4 });
    keys.hold();
    const pending = Array.from({ length: 10 }, (_, i) => cipher.encrypt(`token-${i}`, row));
    keys.release();
    const blobs = await Promise.all(pending);
    expect(keys.generateCalls).toBe(3);
    for (const [i, blob] of blobs.entries()) expect(await cipher.decrypt(blob, row)).toBe(`token-${i}`);
  });

  it('shares one in-flight Decrypt between concurrent decrypts of a cold cipher', async () => {
    const { cipher, keys, coldCipher } = setup();
    const blob = await cipher.encrypt(tokens, row);
    const reader = coldCipher();
    keys.hold();
    const pending = Array.from({ length: 20 }, () => reader.decrypt(blob, row));
    keys.release();
    expect(new Set(await Promise.all(pending))).toEqual(new Set([tokens]));
    expect(keys.decryptCalls).toBe(1);
  });

  it('does not remember a failed GenerateDataKey', async () => {
    const { cipher, keys } = setup();
    keys.failNextGenerate.push(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const error = await cipher.encrypt(tokens, row).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TokenEncryptionError);
    expect((error as Error).cause).toMatchObject({ name: 'ThrottlingException' });
    const blob = await cipher.encrypt(tokens, row);
    expect(await cipher.decrypt(blob, row)).toBe(tokens);
    expect(keys.generateCalls).toBe(2);
  });

  it('does not remember a failed Decrypt, and reports it as retryable', async () => {
    const { cipher, keys, coldCipher } = setup();
    const blob = await cipher.encrypt(tokens, row);
    const reader = coldCipher();
    keys.failNextDecrypt.push(Object.assign(new Error('connect ETIMEDOUT'), { name: 'TimeoutError' }));
    const error = await decryptError(reader.decrypt(blob, row));
    expect(error.reason).toBe('data_key_unavailable');
    expect(await reader.decrypt(blob, row)).toBe(tokens);
    expect(keys.decryptCalls).toBe(2);
  });
});

describe('LocalDataKeyProvider', () => {
  it('needs a 32-byte master key', () => {
    expect(() => new LocalDataKeyProvider(randomBytes(16))).toThrow(RangeError);
  });

  it('gives 32-byte data keys that it alone can unwrap', async () => {
    const provider = new LocalDataKeyProvider(randomBytes(32));
    const key = await provider.generateDataKey(row);
    expect(key.plaintext).toHaveLength(32);
    expect(Buffer.from(await provider.decryptDataKey(key.encrypted, row))).toEqual(Buffer.from(key.plaintext));
    await expect(new LocalDataKeyProvider(randomBytes(32)).decryptDataKey(key.encrypted, row)).rejects.toMatchObject({
      name: 'DataKeyError',
      rejected: true,
    });
  });

  it('binds a data key to its row, as KMS binds it to the encryption context', async () => {
    const provider = new LocalDataKeyProvider(randomBytes(32));
    const key = await provider.generateDataKey(row);
    await expect(provider.decryptDataKey(key.encrypted, { ...row, owner: 'user-mallory' })).rejects.toMatchObject({
      name: 'DataKeyError',
      rejected: true,
    });
    await expect(provider.decryptDataKey(key.encrypted, { ...row, connectionId: 'conn_other' })).rejects.toMatchObject({
      name: 'DataKeyError',
      rejected: true,
    });
  });

  it('lets a cipher under another master key refuse the blob', async () => {
    const blob = await new TokenCipher({ keys: new LocalDataKeyProvider(randomBytes(32)), clock: frozenClock() }).encrypt(tokens, row);
    const other = new TokenCipher({ keys: new LocalDataKeyProvider(randomBytes(32)), clock: frozenClock() });
    const error = await decryptError(other.decrypt(blob, row));
    expect(error.reason).toBe('data_key_rejected');
  });
});
