import { describe, expect, it } from 'vitest';
import { CredentialsError } from '../../shared/errors';
import { SecretReadError, type SecretReader } from '../../shared/secrets/extension-secrets';
import { createCredentialsSource, SecretCredentials, StaticCredentials } from '../../shared/truelayer/client-credentials';

const secretId = 'truelayer-connections/client-credentials';
const realSecret = JSON.stringify({ client_id: 'acme-4f2a91', client_secret: 's3cr3t-8d7e6f5a' });

/**
 * A SecretReader that answers from a script, one step per read (the last one repeating), and
 * records each read. Its own caching is ExtensionSecretReader's concern, tested against the
 * extension stand-in (extension-secrets.test.ts); here only what SecretCredentials adds.
 */
class ScriptedReader implements SecretReader {
  readonly reads: { secretId: string; forceFetch: boolean }[] = [];
  #gate: Promise<void> = Promise.resolve();

  constructor(private readonly steps: (string | Error)[]) {}

  /** Holds every read until the returned function is called. */
  hold(): () => void {
    let release: () => void = () => {};
    this.#gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    return release;
  }

  async read(id: string, options: { forceFetch?: boolean } = {}): Promise<string> {
    this.reads.push({ secretId: id, forceFetch: options.forceFetch === true });
    const step = this.steps.length > 1 ? this.steps.shift() : this.steps[0];
    await this.#gate;
    if (step instanceof Error) throw step;
    return step ?? '';
  }
}

const source = (reader: SecretReader) => new SecretCredentials({ secretId, reader });
const notFound = () =>
  new SecretReadError(secretId, 'the Parameters and Secrets extension answered 400 ResourceNotFoundException', {
    status: 400,
    errorType: 'ResourceNotFoundException',
  });

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

describe('SecretCredentials', () => {
  it('reads client_id and client_secret from the secret it names', async () => {
    const reader = new ScriptedReader([realSecret]);
    expect(await source(reader).get()).toEqual({ clientId: 'acme-4f2a91', clientSecret: 's3cr3t-8d7e6f5a' });
    expect(reader.reads).toEqual([{ secretId, forceFetch: false }]);
  });

  it('asks the reader on every get, leaving caching to it', async () => {
    const reader = new ScriptedReader([realSecret]);
    const credentials = source(reader);
    await credentials.get();
    await credentials.get();
    expect(reader.reads).toHaveLength(2);
  });

  it('shares one read between concurrent first calls', async () => {
    const reader = new ScriptedReader([realSecret]);
    const release = reader.hold();
    const credentials = source(reader);
    const pending = Array.from({ length: 10 }, () => credentials.get());
    release();
    const results = await Promise.all(pending);
    expect(reader.reads).toHaveLength(1);
    expect(new Set(results.map((result) => result.clientId))).toEqual(new Set(['acme-4f2a91']));
  });

  it("skips the reader's cache when asked to force a fetch (a rotated secret)", async () => {
    const rotated = JSON.stringify({ client_id: 'acme-4f2a91', client_secret: 'rotated-secret' });
    const reader = new ScriptedReader([realSecret, rotated]);
    const credentials = source(reader);
    await credentials.get();
    expect((await credentials.get({ forceFetch: true })).clientSecret).toBe('rotated-secret');
    expect(reader.reads.map((read) => read.forceFetch)).toEqual([false, true]);
  });

  it('does not remember a failed read', async () => {
    const reader = new ScriptedReader([
      new SecretReadError(secretId, 'the Parameters and Secrets extension answered 400 ThrottlingException'),
      realSecret,
    ]);
    const credentials = source(reader);
    await failure(credentials.get());
    expect((await credentials.get()).clientId).toBe('acme-4f2a91');
    expect(reader.reads).toHaveLength(2);
  });

  it("names a missing secret, and the reader's reason", async () => {
    const error = await failure(source(new ScriptedReader([notFound()])).get());
    expect(error.message).toContain(secretId);
    expect(error.message).toContain('400 ResourceNotFoundException');
    expect(error.secretId).toBe(secretId);
    expect(error.cause).toBeInstanceOf(SecretReadError);
  });

  it('says a non-JSON secret is not JSON without quoting it', async () => {
    const error = await failure(source(new ScriptedReader(['client_secret=hunter2-plain-text'])).get());
    expect(error.message).toMatch(/not JSON/);
    expect(error.message).toContain(secretId);
    expect(shown(error)).not.toContain('hunter2');
  });

  it('names the missing field without quoting the other', async () => {
    const error = await failure(source(new ScriptedReader([JSON.stringify({ client_secret: 'hunter2-only-secret' })])).get());
    expect(error.message).toContain('client_id');
    expect(shown(error)).not.toContain('hunter2');
  });

  it('refuses a secret that is not an object', async () => {
    const error = await failure(source(new ScriptedReader(['"hunter2-a-json-string"'])).get());
    expect(shown(error)).not.toContain('hunter2');
  });

  it('refuses an empty secret', async () => {
    const error = await failure(source(new ScriptedReader(['  '])).get());
    expect(error.message).toMatch(/has no value/);
  });

  it.each([
    ['client_secret', { client_id: 'acme-real-id-77', client_secret: 'REPLACE_ME' }, 'acme-real-id-77'],
    ['client_id', { client_id: 'REPLACE_ME', client_secret: 'hunter2-real-secret' }, 'hunter2'],
  ])("refuses the stack's placeholder in %s, saying so without quoting the other field", async (_field, value, hidden) => {
    const error = await failure(source(new ScriptedReader([JSON.stringify(value)])).get());
    expect(error.message).toMatch(/placeholder/);
    expect(error.message).toContain(secretId);
    expect(shown(error)).not.toContain(hidden);
  });

  it("reads an invalid secret afresh next time, past the reader's cache, so fixing it needs no wait", async () => {
    const reader = new ScriptedReader([JSON.stringify({ client_id: 'REPLACE_ME', client_secret: 'REPLACE_ME' }), realSecret, realSecret]);
    const credentials = source(reader);
    await failure(credentials.get());
    expect((await credentials.get()).clientId).toBe('acme-4f2a91');
    await credentials.get();
    // Forced once, right after the invalid value; back to the cache once it is valid.
    expect(reader.reads.map((read) => read.forceFetch)).toEqual([false, true, false]);
  });

  it('needs a secret id', () => {
    expect(() => new SecretCredentials({ secretId: '', reader: new ScriptedReader([realSecret]) })).toThrow(RangeError);
  });
});

describe('StaticCredentials and createCredentialsSource', () => {
  it('returns the credentials it was given', async () => {
    expect(await new StaticCredentials({ clientId: 'sandbox-local', clientSecret: 'local-secret' }).get()).toEqual({
      clientId: 'sandbox-local',
      clientSecret: 'local-secret',
    });
  });

  it('reads the secret through the reader when the configuration names one', async () => {
    const reader = new ScriptedReader([realSecret]);
    const credentials = createCredentialsSource({ secretId }, { reader });
    expect(credentials).toBeInstanceOf(SecretCredentials);
    expect((await credentials.get()).clientId).toBe('acme-4f2a91');
    expect(reader.reads[0]?.secretId).toBe(secretId);
  });

  it('refuses a secret id without a reader to read it with', () => {
    expect(() => createCredentialsSource({ secretId }, { reader: undefined })).toThrow(CredentialsError);
  });

  it('uses the configured values otherwise, reading nothing', async () => {
    const reader = new ScriptedReader([realSecret]);
    const credentials = createCredentialsSource({ clientId: 'sandbox-local', clientSecret: 'local-secret' }, { reader });
    expect(credentials).toBeInstanceOf(StaticCredentials);
    expect((await credentials.get()).clientSecret).toBe('local-secret');
    expect(reader.reads).toHaveLength(0);
  });
});
