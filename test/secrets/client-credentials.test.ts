import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CredentialsError,
  createCredentialsSource,
  SecretsManagerCredentials,
  StaticCredentials,
} from '../../shared/truelayer/client-credentials';

const secretId = 'truelayer-connections/client-credentials';
const realSecret = JSON.stringify({ client_id: 'acme-4f2a91', client_secret: 's3cr3t-8d7e6f5a' });

const secrets = mockClient(SecretsManagerClient);
const client = () => new SecretsManagerClient({ region: 'eu-west-2' });
const source = (maxAgeSeconds?: number) =>
  new SecretsManagerCredentials({ secretId, client: client(), ...(maxAgeSeconds !== undefined ? { maxAgeSeconds } : {}) });
const fetches = () => secrets.commandCalls(GetSecretValueCommand).length;

/** Everything an error would show in a log: messages and stacks down its cause chain. */
const shown = (error: unknown): string => {
  const parts: string[] = [];
  for (let current = error; current instanceof Error; current = current.cause) parts.push(String(current), current.stack ?? '');
  return parts.join('\n');
};

const failure = async (promise: Promise<unknown>): Promise<CredentialsError> => {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(CredentialsError);
  return error as CredentialsError;
};

beforeEach(() => secrets.reset());
afterEach(() => {
  secrets.reset();
  vi.useRealTimers();
});

describe('SecretsManagerCredentials', () => {
  it('reads client_id and client_secret from the secret', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: secretId }).resolves({ SecretString: realSecret });
    expect(await source().get()).toEqual({ clientId: 'acme-4f2a91', clientSecret: 's3cr3t-8d7e6f5a' });
  });

  it('reads a secret stored as binary', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretBinary: new TextEncoder().encode(realSecret) });
    expect(await source().get()).toEqual({ clientId: 'acme-4f2a91', clientSecret: 's3cr3t-8d7e6f5a' });
  });

  it('fetches once and serves later gets from the cache', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: realSecret });
    const credentials = source();
    await credentials.get();
    await credentials.get();
    expect(fetches()).toBe(1);
  });

  it('shares one fetch between concurrent first calls', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    secrets.on(GetSecretValueCommand).callsFake(async () => {
      await gate;
      return { SecretString: realSecret };
    });
    const credentials = source();
    const pending = Array.from({ length: 10 }, () => credentials.get());
    release();
    const results = await Promise.all(pending);
    expect(fetches()).toBe(1);
    expect(new Set(results.map((result) => result.clientId))).toEqual(new Set(['acme-4f2a91']));
  });

  it('fetches again once maxAge has passed', async () => {
    // Powertools' cache reads the wall clock (Date), so only Date is faked: the SDK's timers stay real.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2026, 0, 1));
    secrets.on(GetSecretValueCommand).resolves({ SecretString: realSecret });
    const credentials = source(300);
    await credentials.get();
    vi.setSystemTime(Date.UTC(2026, 0, 1, 0, 4, 59));
    await credentials.get();
    expect(fetches()).toBe(1);
    vi.setSystemTime(Date.UTC(2026, 0, 1, 0, 5, 1));
    await credentials.get();
    expect(fetches()).toBe(2);
  });

  it('fetches on every call with maxAge 0', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: realSecret });
    const credentials = source(0);
    await credentials.get();
    await credentials.get();
    expect(fetches()).toBe(2);
  });

  it('skips the cache when asked to force a fetch (a rotated secret)', async () => {
    secrets
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: realSecret })
      .resolves({ SecretString: JSON.stringify({ client_id: 'acme-4f2a91', client_secret: 'rotated-secret' }) });
    const credentials = source();
    await credentials.get();
    expect((await credentials.get({ forceFetch: true })).clientSecret).toBe('rotated-secret');
    expect((await credentials.get()).clientSecret).toBe('rotated-secret');
    expect(fetches()).toBe(2);
  });

  it('does not cache a failed fetch', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .resolves({ SecretString: realSecret });
    const credentials = source();
    await failure(credentials.get());
    expect((await credentials.get()).clientId).toBe('acme-4f2a91');
    expect(fetches()).toBe(2);
  });

  it('names a missing secret, and the SDK error behind it', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejects(new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} }));
    const error = await failure(source().get());
    expect(error.message).toContain(secretId);
    expect(error.message).toContain('ResourceNotFoundException');
    expect(error.secretId).toBe(secretId);
  });

  it('says a non-JSON secret is not JSON without quoting it', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'client_secret=hunter2-plain-text' });
    const error = await failure(source().get());
    expect(error.message).toMatch(/not JSON/);
    expect(error.message).toContain(secretId);
    expect(shown(error)).not.toContain('hunter2');
  });

  it('names the missing field without quoting the other', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ client_secret: 'hunter2-only-secret' }) });
    const error = await failure(source().get());
    expect(error.message).toContain('client_id');
    expect(shown(error)).not.toContain('hunter2');
  });

  it('refuses a secret that is not an object', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '"hunter2-a-json-string"' });
    const error = await failure(source().get());
    expect(shown(error)).not.toContain('hunter2');
  });

  it('refuses an empty secret', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '' });
    await failure(source().get());
  });

  it.each([
    ['client_secret', { client_id: 'acme-real-id-77', client_secret: 'REPLACE_ME' }, 'acme-real-id-77'],
    ['client_id', { client_id: 'REPLACE_ME', client_secret: 'hunter2-real-secret' }, 'hunter2'],
  ])("refuses the stack's placeholder in %s, saying so without quoting the other field", async (_field, value, hidden) => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(value) });
    const error = await failure(source().get());
    expect(error.message).toMatch(/placeholder/);
    expect(error.message).toContain(secretId);
    expect(shown(error)).not.toContain(hidden);
  });

  it('fetches an invalid secret afresh next time, so fixing it needs no wait', async () => {
    secrets
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify({ client_id: 'REPLACE_ME', client_secret: 'REPLACE_ME' }) })
      .resolves({ SecretString: realSecret });
    const credentials = source();
    await failure(credentials.get());
    expect((await credentials.get()).clientId).toBe('acme-4f2a91');
    expect(fetches()).toBe(2);
  });

  it('builds its own Secrets Manager client when none is given', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: secretId }).resolves({ SecretString: realSecret });
    const credentials = new SecretsManagerCredentials({ secretId });
    expect((await credentials.get()).clientId).toBe('acme-4f2a91');
    expect(fetches()).toBe(1);
  });
});

describe('StaticCredentials and createCredentialsSource', () => {
  it('returns the credentials it was given', async () => {
    expect(await new StaticCredentials({ clientId: 'sandbox-local', clientSecret: 'local-secret' }).get()).toEqual({
      clientId: 'sandbox-local',
      clientSecret: 'local-secret',
    });
  });

  it('uses Secrets Manager when the configuration names a secret', () => {
    expect(createCredentialsSource({ secretId })).toBeInstanceOf(SecretsManagerCredentials);
  });

  it('uses the configured values otherwise', async () => {
    const credentials = createCredentialsSource({ clientId: 'sandbox-local', clientSecret: 'local-secret' });
    expect(credentials).toBeInstanceOf(StaticCredentials);
    expect((await credentials.get()).clientSecret).toBe('local-secret');
  });
});
