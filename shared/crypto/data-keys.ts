/**
 * Where token data keys come from: KMS when deployed (shared/crypto/kms-data-keys.ts, bundled only by
 * the functions that hold the key), a local master key standing in for it on one machine.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DataKeyError } from './errors';

/** The row a blob belongs to: the same values must be given to decrypt it. */
export interface EncryptionContext {
  connectionId: string;
  owner: string;
}

/**
 * The KMS encryption context for a row. KMS binds the wrapped data key to it (Decrypt fails under any
 * other), CloudTrail records it beside every call, and the key policy refuses calls without exactly
 * these keys.
 */
export const kmsEncryptionContext = (context: EncryptionContext): Record<string, string> => ({
  connection_id: context.connectionId,
  owner: context.owner,
});

/** The encryption context keys the key policy and the grants require, in the order above. */
export const KMS_ENCRYPTION_CONTEXT_KEYS = ['connection_id', 'owner'] as const;

/** A 256-bit data key: `plaintext` encrypts tokens, `encrypted` is stored beside them. */
export interface DataKey {
  plaintext: Uint8Array;
  encrypted: Uint8Array;
}

/** A data key belongs to one row: it is generated for, and only unwraps under, that row's context. */
export interface DataKeyProvider {
  generateDataKey(context: EncryptionContext): Promise<DataKey>;
  decryptDataKey(encrypted: Uint8Array, context: EncryptionContext): Promise<Uint8Array>;
}

export const DATA_KEY_BYTES = 32;

const LOCAL_WRAP_VERSION = 2;
/** Keys wrapped before the context was bound (a persisted local table may hold some): unwrapped, never written. */
const LEGACY_LOCAL_WRAP_VERSION = 1;
const LOCAL_IV_BYTES = 12;
const LOCAL_TAG_BYTES = 16;
const LEGACY_LOCAL_WRAP_AAD = Buffer.from('truelayer-connections/local-data-key/v1', 'utf8');

/** Like KMS's encryption context: the wrapped key opens only for the row it was made for. */
const localWrapAad = (context: EncryptionContext): Buffer =>
  Buffer.from(JSON.stringify(['truelayer-connections/local-data-key/v2', context.connectionId, context.owner]), 'utf8');

/**
 * The local stand-in for KMS: data keys are random and wrapped with AES-256-GCM under a master key
 * (from `LOCAL_TOKEN_KEY`), with the row's context as additional data. Wrapped layout: version byte,
 * 12-byte IV, 32-byte ciphertext, 16-byte tag.
 */
export class LocalDataKeyProvider implements DataKeyProvider {
  readonly #masterKey: Buffer;

  constructor(masterKey: Uint8Array) {
    if (masterKey.length !== DATA_KEY_BYTES) {
      throw new RangeError(`the local master key must be exactly ${DATA_KEY_BYTES} bytes, got ${masterKey.length}`);
    }
    this.#masterKey = Buffer.from(masterKey);
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    const plaintext = randomBytes(DATA_KEY_BYTES);
    const iv = randomBytes(LOCAL_IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#masterKey, iv);
    cipher.setAAD(localWrapAad(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const encrypted = Buffer.concat([Buffer.of(LOCAL_WRAP_VERSION), iv, ciphertext, cipher.getAuthTag()]);
    return { plaintext: new Uint8Array(plaintext), encrypted: new Uint8Array(encrypted) };
  }

  async decryptDataKey(encrypted: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    const wrapped = Buffer.from(encrypted);
    const version = wrapped[0];
    if (
      wrapped.length !== 1 + LOCAL_IV_BYTES + DATA_KEY_BYTES + LOCAL_TAG_BYTES ||
      (version !== LOCAL_WRAP_VERSION && version !== LEGACY_LOCAL_WRAP_VERSION)
    ) {
      throw new DataKeyError('not a data key wrapped by the local key provider', { rejected: true });
    }
    const iv = wrapped.subarray(1, 1 + LOCAL_IV_BYTES);
    const ciphertext = wrapped.subarray(1 + LOCAL_IV_BYTES, 1 + LOCAL_IV_BYTES + DATA_KEY_BYTES);
    const tag = wrapped.subarray(1 + LOCAL_IV_BYTES + DATA_KEY_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#masterKey, iv, { authTagLength: LOCAL_TAG_BYTES });
      decipher.setAAD(version === LOCAL_WRAP_VERSION ? localWrapAad(context) : LEGACY_LOCAL_WRAP_AAD);
      decipher.setAuthTag(tag);
      return new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
    } catch (error) {
      throw new DataKeyError('the data key was not wrapped by this local master key for this row', { cause: error, rejected: true });
    }
  }
}
