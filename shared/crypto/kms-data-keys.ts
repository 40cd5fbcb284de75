/**
 * Token data keys from KMS: GenerateDataKey and Decrypt under the row's encryption context. Only the
 * functions that hold the token key import this module, so only their bundles carry the KMS client.
 */
import { DecryptCommand, type DecryptCommandOutput, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { traced } from '../tracing';
import { DATA_KEY_BYTES, type DataKey, type DataKeyProvider, type EncryptionContext, kmsEncryptionContext } from './data-keys';
import { DataKeyError } from './errors';

/** KMS errors that say the wrapped key itself is bad, as opposed to KMS being unreachable or throttled. */
const KMS_REJECTIONS = new Set(['InvalidCiphertextException', 'IncorrectKeyException']);

export interface KmsDataKeyProviderOptions {
  /** Key id, ARN, alias name or alias ARN of the symmetric KMS key. */
  keyId: string;
  /** Built on first use when absent, so importing this module costs a cold start nothing. */
  client?: KMSClient;
}

export class KmsDataKeyProvider implements DataKeyProvider {
  readonly keyId: string;
  #client: KMSClient | undefined;

  constructor(options: KmsDataKeyProviderOptions) {
    if (!options.keyId) throw new RangeError('KmsDataKeyProvider needs a keyId');
    this.keyId = options.keyId;
    this.#client = options.client;
  }

  get client(): KMSClient {
    this.#client ??= new KMSClient({});
    return this.#client;
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    const output = await this.client.send(
      new GenerateDataKeyCommand({ KeyId: this.keyId, KeySpec: 'AES_256', EncryptionContext: kmsEncryptionContext(context) }),
    );
    if (!output.Plaintext || output.Plaintext.length !== DATA_KEY_BYTES || !output.CiphertextBlob?.length) {
      throw new DataKeyError('KMS GenerateDataKey returned no usable AES-256 data key');
    }
    return { plaintext: output.Plaintext, encrypted: output.CiphertextBlob };
  }

  async decryptDataKey(encrypted: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    let output: DecryptCommandOutput;
    try {
      // Naming the key makes KMS refuse a data key wrapped by any other key, rather than trusting the blob;
      // the context makes it refuse one generated for another row.
      output = await this.client.send(
        new DecryptCommand({ KeyId: this.keyId, CiphertextBlob: encrypted, EncryptionContext: kmsEncryptionContext(context) }),
      );
    } catch (error) {
      if (error instanceof Error && KMS_REJECTIONS.has(error.name)) {
        throw new DataKeyError(`KMS refused the wrapped data key (${error.name})`, { cause: error, rejected: true });
      }
      throw error;
    }
    if (!output.Plaintext || output.Plaintext.length !== DATA_KEY_BYTES) {
      throw new DataKeyError('KMS Decrypt returned no usable AES-256 data key');
    }
    return output.Plaintext;
  }
}

/** The composition's KMS adapter: a provider for `keyId` whose client is traced (a subsegment per call). */
export const kmsDataKeys = (options: { keyId: string; region: string }): DataKeyProvider =>
  new KmsDataKeyProvider({ keyId: options.keyId, client: traced(new KMSClient({ region: options.region })) });
