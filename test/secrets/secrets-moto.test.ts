/**
 * The deployed read path end to end against moto's Secrets Manager: ExtensionSecretReader over HTTP
 * to the local extension stand-in, whose real Secrets Manager client calls moto.
 */
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSecretsExtension, startSecretsExtension } from '../../local/secrets-extension';
import { CredentialsError } from '../../shared/errors';
import { ExtensionSecretReader, SecretReadError } from '../../shared/secrets/extension-secrets';
import { SecretCredentials } from '../../shared/truelayer/client-credentials';
import { type MotoServer, noteIfMotoMissing, startMoto } from '../support/moto';

const motoHere = noteIfMotoMissing('the secrets extension stand-in against moto Secrets Manager');

describe.skipIf(!motoHere)('secrets through the extension stand-in, against moto Secrets Manager (the real client over HTTP)', () => {
  const sessionToken = 'moto-session-token';
  let moto: MotoServer;
  let client: SecretsManagerClient;
  let extension: RunningSecretsExtension;
  const reader = () => new ExtensionSecretReader({ port: extension.port, sessionToken: () => sessionToken });
  const create = (name: string, value: { SecretString: string } | { SecretBinary: Uint8Array }) =>
    client.send(new CreateSecretCommand({ Name: name, ...value }));

  beforeAll(async () => {
    moto = await startMoto();
    client = new SecretsManagerClient(moto.clientConfig);
    extension = await startSecretsExtension({ client, sessionToken, port: 0 });
  });

  afterAll(async () => {
    await extension?.close();
    client?.destroy();
    await moto?.stop();
  });

  it('reads a text secret and a binary one', async () => {
    await create('tlc/text', { SecretString: 'whsec_text-value' });
    await create('tlc/binary', { SecretBinary: new TextEncoder().encode('binary-value') });
    const secrets = reader();
    expect(await secrets.read('tlc/text')).toBe('whsec_text-value');
    expect(await secrets.read('tlc/binary')).toBe('binary-value');
  });

  it('answers a secret that does not exist with 400 ResourceNotFoundException, naming it', async () => {
    const error = await reader()
      .read('tlc/absent')
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SecretReadError);
    expect((error as SecretReadError).status).toBe(400);
    expect((error as SecretReadError).errorType).toBe('ResourceNotFoundException');
    expect((error as Error).message).toContain('tlc/absent');
  });

  it('sees a new value on a forced read, and the cached one otherwise', async () => {
    await create('tlc/rotating', { SecretString: 'before' });
    const secrets = reader();
    expect(await secrets.read('tlc/rotating')).toBe('before');
    await client.send(new PutSecretValueCommand({ SecretId: 'tlc/rotating', SecretString: 'after' }));
    expect(await secrets.read('tlc/rotating')).toBe('before');
    expect(await secrets.read('tlc/rotating', { forceFetch: true })).toBe('after');
  });

  it('reads the credentials from a created secret', async () => {
    await create('tlc/credentials-ok', { SecretString: JSON.stringify({ client_id: 'moto-client', client_secret: 'moto-secret-value' }) });
    const credentials = new SecretCredentials({ secretId: 'tlc/credentials-ok', reader: reader() });
    expect(await credentials.get()).toEqual({ clientId: 'moto-client', clientSecret: 'moto-secret-value' });
  });

  it('finds a secret by its ARN', async () => {
    const created = await create('tlc/by-arn', { SecretString: JSON.stringify({ client_id: 'arn-client', client_secret: 'arn-secret' }) });
    expect(created.ARN).toMatch(/^arn:aws:secretsmanager:/);
    const credentials = new SecretCredentials({ secretId: created.ARN ?? '', reader: reader() });
    expect((await credentials.get()).clientId).toBe('arn-client');
  });

  it('refuses the placeholder until the operator sets the real value', async () => {
    await create('tlc/placeholder', { SecretString: JSON.stringify({ client_id: 'REPLACE_ME', client_secret: 'REPLACE_ME' }) });
    const credentials = new SecretCredentials({ secretId: 'tlc/placeholder', reader: reader() });
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
    const credentials = new SecretCredentials({ secretId: 'tlc/absent-credentials', reader: reader() });
    const error = await credentials.get().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CredentialsError);
    expect((error as Error).message).toContain('tlc/absent-credentials');
    expect((error as Error).message).toContain('ResourceNotFoundException');
  });
});
