/**
 * ExtensionSecretReader against the local stand-in for the Parameters and Secrets extension, whose
 * Secrets Manager client is faked at the SDK (aws-sdk-client-mock): real HTTP on localhost, the
 * real token check, GetSecretValue counted where the extension would call it.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, listen } from '../../local/http';
import { type RunningSecretsExtension, startSecretsExtension } from '../../local/secrets-extension';
import type { Clock } from '../../shared/clock';
import { CredentialsError } from '../../shared/errors';
import type { TracePort } from '../../shared/metrics';
import { ExtensionSecretReader, SecretReadError } from '../../shared/secrets/extension-secrets';
import { SecretCredentials } from '../../shared/truelayer/client-credentials';

const sessionToken = 'session-token-of-this-function';
const secretId = 'truelayer-connections/webhook';
const arn = 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:truelayer-connections/client-AbCdEf';

const client = new SecretsManagerClient({ region: 'eu-west-2', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const secrets = mockClient(client);
let extension: RunningSecretsExtension;

const fetches = (id?: string) =>
  secrets.commandCalls(GetSecretValueCommand).filter((call) => id === undefined || call.args[0].input.SecretId === id).length;

const manualClock = () => {
  let now = Date.UTC(2026, 0, 1);
  const clock: Clock & { advance(seconds: number): void } = { now: () => now, advance: (seconds) => (now += seconds * 1000) };
  return clock;
};

const reader = (options: ConstructorParameters<typeof ExtensionSecretReader>[0] = {}) =>
  new ExtensionSecretReader({ port: extension.port, sessionToken: () => sessionToken, ...options });

/** A promise and its resolver: holds a faked GetSecretValue until the test lets it answer. */
const gate = () => {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
};

const failure = async (promise: Promise<unknown>): Promise<SecretReadError> => {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SecretReadError);
  return error as SecretReadError;
};

/** Everything an error would show in a log: messages and stacks down its cause chain. */
const shown = (error: unknown): string => {
  const parts: string[] = [];
  for (let current = error; current instanceof Error; current = current.cause) parts.push(String(current), current.stack ?? '');
  return parts.join('\n');
};

beforeAll(async () => {
  extension = await startSecretsExtension({ client, sessionToken, port: 0 });
});
afterAll(() => extension.close());
afterEach(() => secrets.reset());

describe('ExtensionSecretReader', () => {
  it("reads a secret's text through the extension, sending the session token", async () => {
    secrets.on(GetSecretValueCommand, { SecretId: secretId }).resolves({ SecretString: 'whsec_abc' });
    expect(await reader().read(secretId)).toBe('whsec_abc');
    expect(fetches(secretId)).toBe(1);
  });

  it('decodes a binary secret as UTF-8', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretBinary: new TextEncoder().encode('{"client_id":"bin-ü"}') });
    expect(await reader().read(secretId)).toBe('{"client_id":"bin-ü"}');
  });

  it('reads a secret by ARN, the id URL-encoded on the way', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: arn }).resolves({ SecretString: 'by-arn' });
    expect(await reader().read(arn)).toBe('by-arn');
  });

  it('serves a second read from its cache', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'cached' });
    const secretsReader = reader();
    await secretsReader.read(secretId);
    expect(await secretsReader.read(secretId)).toBe('cached');
    expect(fetches()).toBe(1);
  });

  it('caches each secret id on its own', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: 'a' }).resolves({ SecretString: 'value-a' });
    secrets.on(GetSecretValueCommand, { SecretId: 'b' }).resolves({ SecretString: 'value-b' });
    const secretsReader = reader();
    expect([await secretsReader.read('a'), await secretsReader.read('b'), await secretsReader.read('a')]).toEqual([
      'value-a',
      'value-b',
      'value-a',
    ]);
    expect([fetches('a'), fetches('b')]).toEqual([1, 1]);
  });

  it('shares one request between concurrent reads of one id', async () => {
    const held = gate();
    secrets.on(GetSecretValueCommand).callsFake(async () => {
      await held.opened;
      return { SecretString: 'shared' };
    });
    const secretsReader = reader();
    const pending = Array.from({ length: 10 }, () => secretsReader.read(secretId));
    await new Promise((resolve) => setTimeout(resolve, 50));
    held.open();
    expect(new Set(await Promise.all(pending))).toEqual(new Set(['shared']));
    expect(fetches()).toBe(1);
  });

  it('asks again once maxAge has passed on its clock', async () => {
    secrets.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'first' }).resolves({ SecretString: 'second' });
    const clock = manualClock();
    const secretsReader = reader({ clock, maxAgeSeconds: 60 });
    expect(await secretsReader.read(secretId)).toBe('first');
    clock.advance(59);
    expect(await secretsReader.read(secretId)).toBe('first');
    clock.advance(2);
    expect(await secretsReader.read(secretId)).toBe('second');
    expect(fetches()).toBe(2);
  });

  it('keeps a value 60 seconds by default', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'default-age' });
    const clock = manualClock();
    const secretsReader = reader({ clock });
    await secretsReader.read(secretId);
    clock.advance(59.9);
    await secretsReader.read(secretId);
    expect(fetches()).toBe(1);
    clock.advance(0.2);
    await secretsReader.read(secretId);
    expect(fetches()).toBe(2);
  });

  it('asks every time with maxAge 0', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'uncached' });
    const secretsReader = reader({ maxAgeSeconds: 0 });
    await secretsReader.read(secretId);
    await secretsReader.read(secretId);
    expect(fetches()).toBe(2);
  });

  it('skips its cache when asked to force a fetch, and keeps what that fetched', async () => {
    secrets.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'before-rotation' }).resolves({ SecretString: 'rotated' });
    const secretsReader = reader();
    await secretsReader.read(secretId);
    expect(await secretsReader.read(secretId, { forceFetch: true })).toBe('rotated');
    expect(await secretsReader.read(secretId)).toBe('rotated');
    expect(fetches()).toBe(2);
  });

  it('never lets an older request that answers late replace what a forced one fetched', async () => {
    const held = gate();
    secrets
      .on(GetSecretValueCommand)
      .callsFakeOnce(async () => {
        await held.opened;
        return { SecretString: 'stale' };
      })
      .resolves({ SecretString: 'fresh' });
    const secretsReader = reader();
    const slow = secretsReader.read(secretId);
    expect(await secretsReader.read(secretId, { forceFetch: true })).toBe('fresh');
    held.open();
    expect(await slow).toBe('stale');
    expect(await secretsReader.read(secretId)).toBe('fresh');
  });

  it('does not cache a failed read', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }))
      .resolves({ SecretString: 'after-throttle' });
    const secretsReader = reader();
    const error = await failure(secretsReader.read(secretId));
    expect(error.errorType).toBe('ThrottlingException');
    expect(await secretsReader.read(secretId)).toBe('after-throttle');
    expect(fetches()).toBe(2);
  });

  it("names a missing secret, the extension's status and error type", async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejects(
        new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: { httpStatusCode: 400 } }),
      );
    const error = await failure(reader().read('tlc/absent'));
    expect(error.secretId).toBe('tlc/absent');
    expect(error.status).toBe(400);
    expect(error.errorType).toBe('ResourceNotFoundException');
    expect(error.message).toContain('tlc/absent');
    expect(error.message).toContain('400 ResourceNotFoundException');
  });

  it('is refused without the session token, saying there was none, and never shows the value', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'hunter2-the-value' });
    const error = await failure(reader({ sessionToken: () => undefined }).read(secretId));
    expect(error.status).toBe(403);
    expect(error.message).toMatch(/AWS_SESSION_TOKEN/);
    expect(error.message).toContain(secretId);
    expect(fetches()).toBe(0);
    expect(shown(error)).not.toContain('hunter2');
  });

  it('is refused with a wrong session token', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'hunter2-the-value' });
    const error = await failure(reader({ sessionToken: () => 'another-functions-token' }).read(secretId));
    expect(error.status).toBe(403);
    expect(fetches()).toBe(0);
  });

  it('reads AWS_SESSION_TOKEN at each call by default', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'from-env-token' });
    const before = process.env.AWS_SESSION_TOKEN;
    const secretsReader = new ExtensionSecretReader({ port: extension.port, maxAgeSeconds: 0 });
    try {
      process.env.AWS_SESSION_TOKEN = 'not-yet-the-right-one';
      expect((await failure(secretsReader.read(secretId))).status).toBe(403);
      process.env.AWS_SESSION_TOKEN = sessionToken;
      expect(await secretsReader.read(secretId)).toBe('from-env-token');
    } finally {
      if (before === undefined) delete process.env.AWS_SESSION_TOKEN;
      else process.env.AWS_SESSION_TOKEN = before;
    }
  });

  it('traces each request to the extension, not cache hits, with its status and without the secret id', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'traced' });
    const spans: { name: string; annotations: Record<string, unknown> }[] = [];
    const trace: TracePort = {
      subsegment: async (name, work) => {
        const span = { name, annotations: {} as Record<string, unknown> };
        spans.push(span);
        return work((key, value) => {
          span.annotations[key] = value;
        });
      },
    };
    const secretsReader = reader({ trace });
    await secretsReader.read(secretId);
    await secretsReader.read(secretId);
    await failure(reader({ trace, sessionToken: () => 'wrong' }).read(secretId));
    expect(spans).toEqual([
      { name: 'Secrets Manager (extension)', annotations: { status: 200 } },
      { name: 'Secrets Manager (extension)', annotations: { status: 403 } },
    ]);
    expect(JSON.stringify(spans)).not.toContain(secretId);
  });

  it('says when nothing listens on the port (no layer)', async () => {
    const closed = createServer();
    const { port } = await listen(closed, 0, '127.0.0.1');
    await closeServer(closed);
    const error = await failure(new ExtensionSecretReader({ port, sessionToken: () => sessionToken }).read(secretId));
    expect(error.message).toMatch(new RegExp(`nothing listens on localhost:${port}`));
    expect(error.status).toBeUndefined();
  });

  describe('against an extension that misbehaves', () => {
    let server: Server;
    let port: number;
    let answer: (res: ServerResponse) => void = () => {};
    beforeAll(async () => {
      server = createServer((_req, res) => answer(res));
      port = (await listen(server, 0, '127.0.0.1')).port;
    });
    afterAll(() => closeServer(server));

    it('gives up after timeoutMs when the extension does not answer', async () => {
      answer = () => {};
      const started = Date.now();
      const error = await failure(new ExtensionSecretReader({ port, timeoutMs: 150 }).read(secretId));
      expect(error.message).toMatch(/no answer within 150 ms/);
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it('refuses a 200 that is not GetSecretValue output, without quoting the body', async () => {
      answer = (res) => res.end('hunter2-not-json');
      const error = await failure(new ExtensionSecretReader({ port }).read(secretId));
      expect(error.message).toMatch(/without a SecretString or SecretBinary/);
      expect(shown(error)).not.toContain('hunter2');
    });

    it('takes the error type from a text refusal, and nothing else it says', async () => {
      answer = (res) => {
        res.statusCode = 400;
        res.end('ResourceNotFoundException: secret hunter2-ish detail');
      };
      const error = await failure(new ExtensionSecretReader({ port }).read(secretId));
      expect(error.errorType).toBe('ResourceNotFoundException');
      expect(shown(error)).not.toContain('hunter2');
    });
  });
});

describe('the local stand-in', () => {
  const get = (path: string, token: string | null = sessionToken) =>
    fetch(`${extension.url}${path}`, { headers: token ? { 'x-aws-parameters-secrets-token': token } : {} });

  it("answers GetSecretValue's output as JSON: binary in base64, the date in epoch seconds", async () => {
    secrets.on(GetSecretValueCommand).resolves({
      ARN: arn,
      Name: 'truelayer-connections/client',
      SecretBinary: new Uint8Array([1, 2, 3]),
      CreatedDate: new Date(Date.UTC(2026, 0, 1)),
      VersionStages: ['AWSCURRENT'],
    });
    const response = await get(`/secretsmanager/get?secretId=${encodeURIComponent(arn)}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      ARN: arn,
      Name: 'truelayer-connections/client',
      SecretBinary: 'AQID',
      CreatedDate: Date.UTC(2026, 0, 1) / 1000,
      VersionStages: ['AWSCURRENT'],
    });
    expect(secrets.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: arn });
  });

  it('passes versionStage and versionId on', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'previous' });
    await (await get(`/secretsmanager/get?secretId=${secretId}&versionStage=AWSPREVIOUS&versionId=v-1`)).arrayBuffer();
    expect(secrets.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({
      SecretId: secretId,
      VersionStage: 'AWSPREVIOUS',
      VersionId: 'v-1',
    });
  });

  it('answers 403 without the token and 400 without a secretId, asking Secrets Manager nothing', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'hunter2' });
    const refused = await get(`/secretsmanager/get?secretId=${secretId}`, null);
    expect(refused.status).toBe(403);
    expect(await refused.text()).not.toContain('hunter2');
    const missing = await get('/secretsmanager/get');
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { __type: string }).__type).toBe('BadRequest');
    expect(fetches()).toBe(0);
  });

  it('checks no token when it was given none (a shell with long-term keys), and the reader then sends none', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'open-locally' });
    const open = await startSecretsExtension({ client, port: 0 });
    try {
      const reader = new ExtensionSecretReader({ port: open.port, sessionToken: () => undefined, maxAgeSeconds: 0 });
      expect(await reader.read(secretId)).toBe('open-locally');
      expect((await fetch(`${open.url}/secretsmanager/get?secretId=${secretId}`)).status).toBe(200);
    } finally {
      await open.close();
    }
  });

  it('answers a refusal by Secrets Manager with 400, its name as __type and its message', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejects(
        new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: { httpStatusCode: 400 } }),
      );
    const response = await get('/secretsmanager/get?secretId=tlc%2Fabsent');
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      __type: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
    });
  });

  it('answers 400 for any 4xx Secrets Manager used, and 502 for no answer or a 5xx', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('not found'), { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } }))
      .rejects(Object.assign(new Error('internal'), { name: 'InternalServiceError', $metadata: { httpStatusCode: 500 } }));
    expect((await get(`/secretsmanager/get?secretId=${secretId}`)).status).toBe(400);
    expect((await get(`/secretsmanager/get?secretId=${secretId}`)).status).toBe(502);
  });

  it('answers 502 for an SDK failure without an HTTP status (no network)', async () => {
    secrets.on(GetSecretValueCommand).rejects(Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' }));
    const response = await get(`/secretsmanager/get?secretId=${secretId}`);
    expect(response.status).toBe(502);
    expect(((await response.json()) as { __type: string }).__type).toBe('TimeoutError');
  });
});

describe('SecretCredentials through the extension', () => {
  const credentialsSecret = 'truelayer-connections/client-credentials';

  it('reads client_id and client_secret', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: credentialsSecret }).resolves({
      SecretString: JSON.stringify({ client_id: 'acme-4f2a91', client_secret: 's3cr3t-8d7e6f5a' }),
    });
    const credentials = new SecretCredentials({ secretId: credentialsSecret, reader: reader() });
    expect(await credentials.get()).toEqual({ clientId: 'acme-4f2a91', clientSecret: 's3cr3t-8d7e6f5a' });
  });

  it("reads an invalid secret afresh next time, past the reader's cache, so fixing it needs no wait", async () => {
    secrets
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify({ client_id: 'REPLACE_ME', client_secret: 'REPLACE_ME' }) })
      .resolves({ SecretString: JSON.stringify({ client_id: 'fixed', client_secret: 'now-real' }) });
    const credentials = new SecretCredentials({ secretId: credentialsSecret, reader: reader() });
    await expect(credentials.get()).rejects.toBeInstanceOf(CredentialsError);
    expect((await credentials.get()).clientId).toBe('fixed');
    expect(fetches()).toBe(2);
  });

  it("names the secret and the extension's error type when it cannot be read", async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejects(
        new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: { httpStatusCode: 400 } }),
      );
    const error = await new SecretCredentials({ secretId: credentialsSecret, reader: reader() }).get().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CredentialsError);
    expect((error as Error).message).toContain(credentialsSecret);
    expect((error as Error).message).toContain('ResourceNotFoundException');
  });
});
