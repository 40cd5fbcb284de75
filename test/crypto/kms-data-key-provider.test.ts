import { randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient, KMSServiceException } from '@aws-sdk/client-kms';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDataKeyProvider, KmsDataKeyProvider, LocalDataKeyProvider } from '../../shared/crypto/data-keys';
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
  const wrapped = new Map<string, { keyId: string; plaintext: Uint8Array }>();
  kms.on(GenerateDataKeyCommand).callsFake((input: { KeyId: string }) => {
    const plaintext = new Uint8Array(randomBytes(32));
    const ciphertext = new Uint8Array(randomBytes(184));
    wrapped.set(Buffer.from(ciphertext).toString('hex'), { keyId: input.KeyId, plaintext });
    return { KeyId: input.KeyId, Plaintext: plaintext, CiphertextBlob: ciphertext };
  });
  kms.on(DecryptCommand).callsFake((input: { KeyId?: string; CiphertextBlob: Uint8Array }) => {
    const failure = failNextDecrypt.shift();
    if (failure) throw failure;
    const entry = wrapped.get(Buffer.from(input.CiphertextBlob).toString('hex'));
    if (!entry) throw kmsError('InvalidCiphertextException', 'The ciphertext is invalid.');
    if (input.KeyId !== entry.keyId) throw kmsError('IncorrectKeyException', 'The key ID in the request does not identify the key that encrypted the ciphertext.');
    return { KeyId: entry.keyId, Plaintext: entry.plaintext };
  });
  return { failNextDecrypt };
};

describe('KmsDataKeyProvider (KMS client mocked at the SDK)', () => {
  const kms = mockClient(KMSClient);

  beforeEach(() => kms.reset());
  afterEach(() => kms.reset());

  it('asks GenerateDataKey for an AES_256 key under the configured key id', async () => {
    const plaintext = new Uint8Array(randomBytes(32));
    const ciphertext = new Uint8Array(randomBytes(184));
    kms.on(GenerateDataKeyCommand).resolves({ KeyId: keyArn, Plaintext: plaintext, CiphertextBlob: ciphertext });
    const provider = new KmsDataKeyProvider({ keyId: keyArn, client: new KMSClient({ region: 'eu-west-2' }) });

    const key = await provider.generateDataKey();

    expect(kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(1);
    expect(kms.commandCalls(GenerateDataKeyCommand)[0]?.args[0].input).toEqual({ KeyId: keyArn, KeySpec: 'AES_256' });
    expect(Buffer.from(key.plaintext)).toEqual(Buffer.from(plaintext));
    expect(Buffer.from(key.encrypted)).toEqual(Buffer.from(ciphertext));
  });

  it('passes the key id and the wrapped key to Decrypt', async () => {
    const plaintext = new Uint8Array(randomBytes(32));
    const ciphertext = new Uint8Array(randomBytes(184));
    kms.on(DecryptCommand).resolves({ KeyId: keyArn, Plaintext: plaintext });
    const provider = new KmsDataKeyProvider({ keyId: keyArn, client: new KMSClient({ region: 'eu-west-2' }) });

    const unwrapped = await provider.decryptDataKey(ciphertext);

    const input = kms.commandCalls(DecryptCommand)[0]?.args[0].input;
    expect(input?.KeyId).toBe(keyArn);
    expect(Buffer.from(input?.CiphertextBlob ?? [])).toEqual(Buffer.from(ciphertext));
    expect(Buffer.from(unwrapped)).toEqual(Buffer.from(plaintext));
  });

  it('builds a default KMS client on first use when none is given', async () => {
    kms.on(GenerateDataKeyCommand).resolves({ Plaintext: new Uint8Array(32), CiphertextBlob: new Uint8Array(16) });
    const provider = new KmsDataKeyProvider({ keyId: 'alias/tokens' });
    await provider.generateDataKey();
    expect(provider.client).toBeInstanceOf(KMSClient);
    expect(kms.commandCalls(GenerateDataKeyCommand, { KeyId: 'alias/tokens' })).toHaveLength(1);
  });

  it('refuses a response without a 32-byte plaintext key', async () => {
    kms.on(GenerateDataKeyCommand).resolves({ Plaintext: new Uint8Array(16), CiphertextBlob: new Uint8Array(16) });
    const provider = new KmsDataKeyProvider({ keyId: keyArn, client: new KMSClient({ region: 'eu-west-2' }) });
    await expect(provider.generateDataKey()).rejects.toMatchObject({ name: 'DataKeyError' });
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

describe('createDataKeyProvider', () => {
  it('picks KMS when a key id is configured', () => {
    const provider = createDataKeyProvider({ kmsKeyId: 'alias/tokens' });
    expect(provider).toBeInstanceOf(KmsDataKeyProvider);
    expect((provider as KmsDataKeyProvider).keyId).toBe('alias/tokens');
  });

  it('picks the local master key otherwise', () => {
    expect(createDataKeyProvider({ localKey: new Uint8Array(32) })).toBeInstanceOf(LocalDataKeyProvider);
  });
});
