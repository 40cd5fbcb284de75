import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialsError, SecretsManagerCredentials } from '../../shared/truelayer/client-credentials';
import { type MotoServer, noteIfMotoMissing, startMoto } from '../support/moto';

const motoHere = noteIfMotoMissing('SecretsManagerCredentials against moto Secrets Manager');

describe.skipIf(!motoHere)('SecretsManagerCredentials against moto Secrets Manager (the real client over HTTP)', () => {
  let moto: MotoServer;
  let client: SecretsManagerClient;

  beforeAll(async () => {
    moto = await startMoto();
    client = new SecretsManagerClient(moto.clientConfig);
  });

  afterAll(async () => {
    client?.destroy();
    await moto?.stop();
  });

  it('reads the credentials from a created secret', async () => {
    await client.send(
      new CreateSecretCommand({
        Name: 'tlc/credentials-ok',
        SecretString: JSON.stringify({ client_id: 'moto-client', client_secret: 'moto-secret-value' }),
      }),
    );
    const credentials = new SecretsManagerCredentials({ secretId: 'tlc/credentials-ok', client });
    expect(await credentials.get()).toEqual({ clientId: 'moto-client', clientSecret: 'moto-secret-value' });
  });

  it('finds a secret by its ARN', async () => {
    const created = await client.send(
      new CreateSecretCommand({
        Name: 'tlc/by-arn',
        SecretString: JSON.stringify({ client_id: 'arn-client', client_secret: 'arn-secret' }),
      }),
    );
    const credentials = new SecretsManagerCredentials({ secretId: created.ARN ?? '', client });
    expect((await credentials.get()).clientId).toBe('arn-client');
  });

  it('refuses the placeholder until the operator sets the real value', async () => {
    await client.send(
      new CreateSecretCommand({
        Name: 'tlc/placeholder',
        SecretString: JSON.stringify({ client_id: 'REPLACE_ME', client_secret: 'REPLACE_ME' }),
      }),
    );
    const credentials = new SecretsManagerCredentials({ secretId: 'tlc/placeholder', client });
    await expect(credentials.get()).rejects.toBeInstanceOf(CredentialsError);

    await client.send(
      new PutSecretValueCommand({
        SecretId: 'tlc/placeholder',
        SecretString: JSON.stringify({ client_id: 'set-later', client_secret: 'now-real' }),
      }),
    );
    expect((await credentials.get()).clientId).toBe('set-later');
  });

  it('names a secret that does not exist', async () => {
    const credentials = new SecretsManagerCredentials({ secretId: 'tlc/absent', client });
    const error = await credentials.get().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CredentialsError);
    expect((error as Error).message).toContain('tlc/absent');
    expect((error as Error).message).toContain('ResourceNotFoundException');
  });
});
