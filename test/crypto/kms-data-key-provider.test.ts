import { randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient, KMSServiceException } from '@aws-sdk/client-kms';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KmsDataKeyProvider } from '../../shared/crypto/kms-data-keys';
import { TokenCipher, TokenDecryptionError } from '../../shared/crypto/token-cipher';
import { frozenClock } from './counting-keys';

const keyArn = 'arn:aws:kms:eu-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const row = { connectionId: 'conn_1', owner: 'user-1' };

const kmsError = (name: string, message: string): KMSServiceException =>
  new KMSServiceException({ name, message, $fault: 'client', $metadata: { httpStatusCode: 400 } });

/**
 * Behaves like KMS at the SDK boundary: wrapped keys are opaque bytes only this fake can map back,
 * and Decrypt under another KeyId is refused as KMS refuses it.
 */
const fakeKms = (kms: AwsClientStub<KMSClient>): { failNextDecrypt: Error[] } => {
  const failNextDecrypt: Error[] = [];
  const wrapped = new Map<string, { keyId: string; plaintext: Uint8Array; context: string }>();
  kms.on(GenerateDataKeyCommand).callsFake((input: { KeyId: string; EncryptionContext?: Record<string, string> }) => {
    const plaintext = new Uint8Array(randomBytes(32));
    const ciphertext = new Uint8Array(randomBytes(184));
    wrapped.set(Buffer.from(ciphertext).toString('hex'), {
      keyId: input.KeyId,
      plaintext,
      context: JSON.stringify(input.EncryptionContext ?? {}),
    });
    return { KeyId: input.KeyId, Plaintext: plaintext, CiphertextBlob: ciphertext };
  });
  kms.on(DecryptCommand).callsFake((input: { KeyId?: string; CiphertextBlob: Uint8Array; EncryptionContext?: Record<string, string> }) => {
    const failure = failNextDecrypt.shift();
    if (failure) throw failure;
    const entry = wrapped.get(Buffer.from(input.CiphertextBlob).toString('hex'));
    if (!entry) throw kmsError('InvalidCiphertextException', 'The ciphertext is invalid.');
    if (input.KeyId !== entry.keyId)
      throw kmsError('IncorrectKeyException', 'The key ID in the request does not identify the key that encrypted the ciphertext.');
    // KMS answers a wrong encryption context exactly as it answers a corrupt ciphertext.
    if (JSON.stringify(input.EncryptionContext ?? {}) !== entry.context)
      throw kmsError('InvalidCiphertextException', 'The ciphertext is invalid.');
    return { KeyId: entry.keyId, Plaintext: entry.plaintext };
  });
  return { failNextDecrypt };
};

describe('KmsDataKeyProvider (KMS client mocked at the SDK)', () => {
  const kms = mockClient(KMSClient);

  beforeEach(() => kms.reset());
  afterEach(() => kms.reset());

  it('asks GenerateDataKey for an AES_256 key under the configured key id, bound to the row as encryption context', async () => {
    const plaintext = new Uint8Array(randomBytes(32));
    const ciphertext = new Uint8Array(randomBytes(184));
    kms.on(GenerateDataKeyCommand).resolves({ KeyId: keyArn, Plaintext: plaintext, CiphertextBlob: ciphertext });
    const provider = new KmsDataKeyProvider({ keyId: keyArn, client: new KMSClient({ region: 'eu-west-2' }) });

    const key = await provider.generateDataKey(row);

    expect(kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(1);
    expect(kms.commandCalls(GenerateDataKeyCommand)[0]?.args[0].input).toEqual({
      KeyId: keyArn,
      KeySpec: 'AES_256',
      EncryptionContext: { connection_id: 'conn_1', owner: 'user-1' },
    });
    expect(Buffer.from(key.plaintext)).toEqual(Buffer.from(plaintext));
    expect(Buffer.from(key.encrypted)).toEqual(Buffer.from(ciphertext));
  });

  it("passes the key id, the wrapped key and the row's encryption context to Decrypt", async () => {
    const plaintext = new Uint8Array(randomBytes(32));
    const ciphertext = new Uint8Array(randomBytes(184));
    kms.on(DecryptCommand).resolves({ KeyId: keyArn, Plaintext: plaintext });
    const provider = new KmsDataKeyProvider({ keyId: keyArn, client: new KMSClient({ region: 'eu-west-2' }) });

    const unwrapped = await provider.decryptDataKey(ciphertext, row);

    const input = kms.commandCalls(DecryptCommand)[0]?.args[0].input;
    expect(input?.KeyId).toBe(keyArn);
    expect(input?.EncryptionContext).toEqual({ connection_id: 'conn_1', owner: 'user-1' });
    expect(Buffer.from(input?.CiphertextBlob ?? [])).toEqual(Buffer.from(ciphertext));
    expect(Buffer.from(unwrapped)).toEqual(Buffer.from(plaintext));
  });

  it('builds a default KMS client on first use when none is given', async () => {
    kms.on(GenerateDataKeyCommand).resolves({ Plaintext: new Uint8Array(32), CiphertextBlob: new Uint8Array(16) });
    const provider = new KmsDataKeyProvider({ keyId: 'alias/tokens' });
    await provider.generateDataKey(row);
    expect(provider.client).toBeInstanceOf(KMSClient);
    expect(kms.commandCalls(GenerateDataKeyCommand, { KeyId: 'alias/tokens' })).toHaveLength(1);
  });

  it('refuses a response without a 32-byte plaintext key', async () => {
    kms.on(GenerateDataKeyCommand).resolves({ Plaintext: new Uint8Array(16), CiphertextBlob: new Uint8Array(16) });
    const provider = new KmsDataKeyProvider({ keyId: keyArn, client: new KMSClient({ region: 'eu-west-2' }) });
    await expect(provider.generateDataKey(row)).rejects.toMatchObject({ name: 'DataKeyError' });
  });

  it('round-trips tokens through TokenCipher with one GenerateDataKey and, cold, one Decrypt', async () => {
    fakeKms(kms);
    const keys = new KmsDataKeyProvider({ keyId: keyArn, client: new KMSClient({ region: 'eu-west-2' }) });
    const writer = new TokenCipher({ keys, clock: frozenClock() });
    const blobs = await Promise.all(['one', 'two', 'three'].map((token) => writer.encrypt(token, row)));
    const reader = new TokenCipher({ keys, clock: frozenClock() });

    expect(await Promise.all(blobs.map((blob) => reader.decrypt(blob, row)))).toEqual(['one', 'two', 'three']);
    expect(kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(1);
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(1);
  });

  it('gives each row its own data key, and a warm reader of many rows makes no further KMS call', async () => {
    fakeKms(kms);
    const keys = new KmsDataKeyProvider({ keyId: keyArn, client: new KMSClient({ region: 'eu-west-2' }) });
    const writer = new TokenCipher({ keys, clock: frozenClock() });
    const rows = [row, { connectionId: 'conn_2', owner: 'user-1' }, { connectionId: 'conn_3', owner: 'user-2' }];
    const blobs = await Promise.all(rows.map((each) => writer.encrypt('t', each)));
    expect(kms.commandCalls(GenerateDataKeyCommand).map((call) => call.args[0].input.EncryptionContext)).toEqual(
      rows.map((each) => ({ connection_id: each.connectionId, owner: each.owner })),
    );
    const reader = new TokenCipher({ keys, clock: frozenClock() });
    for (let round = 0; round < 3; round += 1) {
      expect(await Promise.all(blobs.map((blob, index) => reader.decrypt(blob, rows[index]!)))).toEqual(['t', 't', 't']);
    }
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(3);
  });

  it("cannot unwrap a row's data key under another row's context, even with the key cached for the first row", async () => {
    fakeKms(kms);
    const keys = new KmsDataKeyProvider({ keyId: keyArn, client: new KMSClient({ region: 'eu-west-2' }) });
    const cipher = new TokenCipher({ keys, clock: frozenClock() });
    const blob = await cipher.encrypt('t', row);
    const error = await cipher.decrypt(blob, { connectionId: 'conn_other', owner: 'user-1' }).catch((caught: unknown) => caught);
    expect((error as TokenDecryptionError).reason).toBe('data_key_rejected');
    expect(kms.commandCalls(DecryptCommand)[0]?.args[0].input.EncryptionContext).toEqual({ connection_id: 'conn_other', owner: 'user-1' });
  });

  it('reports a data key KMS refuses (another key id) as rejected, not retryable', async () => {
    fakeKms(kms);
    const client = new KMSClient({ region: 'eu-west-2' });
    const blob = await new TokenCipher({ keys: new KmsDataKeyProvider({ keyId: keyArn, client }), clock: frozenClock() }).encrypt('t', row);
    const otherKey = new TokenCipher({ keys: new KmsDataKeyProvider({ keyId: 'alias/other', client }), clock: frozenClock() });

    const error = await otherKey.decrypt(blob, row).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(TokenDecryptionError);
    expect((error as TokenDecryptionError).reason).toBe('data_key_rejected');
  });

  it('reports throttling as retryable and calls KMS again next time', async () => {
    const fake = fakeKms(kms);
    const client = new KMSClient({ region: 'eu-west-2' });
    const keys = new KmsDataKeyProvider({ keyId: keyArn, client });
    const blob = await new TokenCipher({ keys, clock: frozenClock() }).encrypt('t', row);
    const reader = new TokenCipher({ keys, clock: frozenClock() });
    fake.failNextDecrypt.push(kmsError('ThrottlingException', 'Rate exceeded'));

    const error = await reader.decrypt(blob, row).catch((caught: unknown) => caught);
    expect((error as TokenDecryptionError).reason).toBe('data_key_unavailable');

    expect(await reader.decrypt(blob, row)).toBe('t');
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(2);
  });
});
