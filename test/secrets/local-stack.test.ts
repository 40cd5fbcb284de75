/**
 * `npm start` with secrets given by id: the handlers read them as deployed, through the local
 * Parameters and Secrets extension stand-in, whose Secrets Manager client is faked at the SDK here.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApi } from '../support/flow';

const clientSecretId = 'tlc/local/client-credentials';
const hashKeyId = 'tlc/local/account-hash';
const secretsClient = new SecretsManagerClient({ region: 'eu-west-2', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const secrets = mockClient(secretsClient);
let api: TestApi;

beforeAll(async () => {
  // The simulator's client; the plain variables are wrong on purpose, so only the secret can work.
  secrets
    .on(GetSecretValueCommand, { SecretId: clientSecretId })
    .resolves({ SecretString: JSON.stringify({ client_id: 'sandbox-local', client_secret: 'local-secret' }) });
  secrets.on(GetSecretValueCommand, { SecretId: hashKeyId }).resolves({ SecretString: 'a-local-account-hash-key' });
  api = await TestApi.start({
    secretsClient,
    env: {
      // As temporary credentials bring one: the stand-in checks it, and the handlers send it.
      AWS_SESSION_TOKEN: 'a-session-token-from-the-shell',
      TRUELAYER_SECRET_ID: clientSecretId,
      TRUELAYER_CLIENT_SECRET: 'not-the-simulators-secret',
      ACCOUNT_HASH_SECRET_ID: hashKeyId,
    },
  });
});

afterAll(async () => {
  await api?.close();
  secrets.restore();
});

const readsOf = (secretId: string) =>
  secrets.commandCalls(GetSecretValueCommand).filter((call) => call.args[0].input.SecretId === secretId).length;

describe('the local stack with secrets given by id', () => {
  it("runs the extension stand-in and points the handlers at it, leaving the shell's session token as it was", () => {
    expect(api.stack.secretsExtensionUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(process.env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT).toBe(new URL(api.stack.secretsExtensionUrl ?? '').port);
    expect(process.env.AWS_SESSION_TOKEN).toBe('a-session-token-from-the-shell');
  });

  it('connects with the credentials from the secret, read through the stand-in and cached', async () => {
    const connectionId = await api.connect('alice');
    expect(connectionId).toMatch(/^[0-9a-f-]{36}$/);
    // The link (authLink) and the code exchange (callback) each read it once: every function has its
    // own composition, as each has its own container when deployed.
    const firstReads = readsOf(clientSecretId);
    expect(firstReads).toBeGreaterThanOrEqual(1);
    expect(firstReads).toBeLessThanOrEqual(2);
    // The readers' caches serve every later connection.
    await api.connect('bob');
    expect(readsOf(clientSecretId)).toBe(firstReads);
  });

  it('reads the account-hash key through the stand-in to complete a connection', () => {
    expect(readsOf(hashKeyId)).toBe(1);
  });

  it('refuses a caller without the session token, as the extension does', async () => {
    const response = await fetch(`${api.stack.secretsExtensionUrl}/secretsmanager/get?secretId=${clientSecretId}`);
    expect(response.status).toBe(403);
    const withIt = await fetch(`${api.stack.secretsExtensionUrl}/secretsmanager/get?secretId=${clientSecretId}`, {
      headers: { 'x-aws-parameters-secrets-token': 'a-session-token-from-the-shell' },
    });
    expect(withIt.status).toBe(200);
  });
});
