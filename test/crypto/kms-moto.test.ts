import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmsDataKeyProvider } from '../../shared/crypto/kms-data-keys';
import { TokenCipher, TokenDecryptionError } from '../../shared/crypto/token-cipher';
import { type MotoServer, noteIfMotoMissing, startMoto } from '../support/moto';
import { frozenClock } from './counting-keys';

const motoHere = noteIfMotoMissing('TokenCipher against moto KMS');
const row = { connectionId: 'conn_moto', owner: 'user-moto' };
const tokens = JSON.stringify({ access_token: 'a.b.c', refresh_token: 'refresh-moto' });

describe.skipIf(!motoHere)('TokenCipher against moto KMS (the real KMS client over HTTP)', () => {
  let moto: MotoServer;
  let client: KMSClient;
  let keyId: string;
  let otherKeyId: string;

  beforeAll(async () => {
    moto = await startMoto();
    client = new KMSClient(moto.clientConfig);
    const created = await client.send(new CreateKeyCommand({ Description: 'truelayer-connections tokens (test)' }));
    const other = await client.send(new CreateKeyCommand({ Description: 'another key' }));
    keyId = created.KeyMetadata?.KeyId ?? '';
    otherKeyId = other.KeyMetadata?.KeyId ?? '';
    expect(keyId).not.toBe('');
  });

  afterAll(async () => {
    client?.destroy();
    await moto?.stop();
  });

  it('round-trips tokens through a KMS data key', async () => {
    const cipher = new TokenCipher({ keys: new KmsDataKeyProvider({ keyId, client }), clock: frozenClock() });
    const blob = await cipher.encrypt(tokens, row);
    expect(await cipher.decrypt(blob, row)).toBe(tokens);
  });

  it("lets a second cipher with a cold cache decrypt the first one's blob through KMS Decrypt", async () => {
    const writer = new TokenCipher({ keys: new KmsDataKeyProvider({ keyId, client }), clock: frozenClock() });
    const blob = await writer.encrypt(tokens, row);
    const coldClient = new KMSClient(moto.clientConfig);
    try {
      const reader = new TokenCipher({ keys: new KmsDataKeyProvider({ keyId, client: coldClient }), clock: frozenClock() });
      expect(await reader.decrypt(blob, row)).toBe(tokens);
    } finally {
      coldClient.destroy();
    }
  });

  it('still refuses a blob moved to another owner', async () => {
    const cipher = new TokenCipher({ keys: new KmsDataKeyProvider({ keyId, client }), clock: frozenClock() });
    const blob = await cipher.encrypt(tokens, row);
    const reader = new TokenCipher({ keys: new KmsDataKeyProvider({ keyId, client }), clock: frozenClock() });
    await expect(reader.decrypt(blob, { ...row, owner: 'user-other' })).rejects.toBeInstanceOf(TokenDecryptionError);
  });

  it('refuses a blob whose data key KMS cannot decrypt', async () => {
    const cipher = new TokenCipher({ keys: new KmsDataKeyProvider({ keyId, client }), clock: frozenClock() });
    const parts = (await cipher.encrypt(tokens, row)).split('.');
    const wrapped = Buffer.from(parts[1] ?? '', 'base64url');
    wrapped[wrapped.length - 1] = (wrapped[wrapped.length - 1] ?? 0) ^ 0xff;
    parts[1] = wrapped.toString('base64url');
    const reader = new TokenCipher({ keys: new KmsDataKeyProvider({ keyId, client }), clock: frozenClock() });

    const error = await reader.decrypt(parts.join('.'), row).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(TokenDecryptionError);
    expect((error as TokenDecryptionError).reason).toBe('data_key_rejected');
  });

  it('refuses to unwrap a data key under another KMS key id', async () => {
    const blob = await new TokenCipher({ keys: new KmsDataKeyProvider({ keyId, client }), clock: frozenClock() }).encrypt(tokens, row);
    const wrongKey = new TokenCipher({ keys: new KmsDataKeyProvider({ keyId: otherKeyId, client }), clock: frozenClock() });
    await expect(wrongKey.decrypt(blob, row)).rejects.toBeInstanceOf(TokenDecryptionError);
  });
});
