/**
 * The local stack in-process: DynamoDB, simulator and API on free ports, the handlers' environment,
 * the shared clock, and a clean close. One stack per process (process.env is process-wide).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack';
import { startLocalStack } from '../../local/stack';
import { rawRequest } from './helpers';

let stack: LocalStack;
let closed = false;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, simPort: 0, dynamoPort: 0, quiet: true, env: { TRUELAYER_PROVIDERS: 'uk-cs-mock' } });
});

afterAll(async () => {
  if (!closed) await stack.close();
});

const apiPort = () => new URL(stack.apiUrl).port;

describe('the running stack', () => {
  it('reports three distinct local endpoints', () => {
    expect(stack.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.simUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.dynamoEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(new Set([stack.apiUrl, stack.simUrl, stack.dynamoEndpoint]).size).toBe(3);
  });

  it("sets the handlers' environment to the local parts", () => {
    expect(process.env.TRUELAYER_ENV).toBe('local');
    expect(process.env.TRUELAYER_AUTH_URL).toBe(stack.simUrl);
    expect(process.env.TRUELAYER_API_URL).toBe(stack.simUrl);
    expect(process.env.DYNAMODB_ENDPOINT).toBe(stack.dynamoEndpoint);
    expect(process.env.TABLE_NAME).toBe(stack.tableName);
    expect(process.env.TRUELAYER_CLIENT_ID).toBe('sandbox-local');
    expect(process.env.TRUELAYER_CLIENT_SECRET).toBe('local-secret');
    expect(process.env.ALLOWED_RETURN_URLS).toBe(`http://127.0.0.1:${apiPort()}/,http://localhost:${apiPort()}/`);
    expect(Buffer.from(process.env.LOCAL_TOKEN_KEY ?? '', 'base64')).toHaveLength(32);
  });

  it('starts no Parameters and Secrets extension stand-in when no secret is given by id', () => {
    expect(stack.secretsExtensionUrl).toBeUndefined();
    expect(process.env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT).toBeUndefined();
  });

  it('applies options.env over what it sets', () => {
    expect(process.env.TRUELAYER_PROVIDERS).toBe('uk-cs-mock');
  });

  it('owns one clock and shares it with the simulator', async () => {
    const before = await (await fetch(`${stack.simUrl}/__sim/stats`)).json();
    expect(before).toBeDefined();
    const start = stack.clock.now();
    const moved = await fetch(`${stack.apiUrl}/__local/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ advance_seconds: 60 }),
    });
    expect(moved.status).toBe(200);
    expect(stack.clock.now() - start).toBeGreaterThanOrEqual(60_000);
  });

  it('issues tokens the API accepts and calls the deployed handler modules', async () => {
    const token = await stack.issueToken('alice');
    const response = await fetch(`${stack.apiUrl}/connections`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ connections: [] });
  });

  it('refuses the API without a token', async () => {
    const response = await fetch(`${stack.apiUrl}/connections`);
    expect(response.status).toBe(401);
  });

  it('serves /__local/token over HTTP', async () => {
    const response = await fetch(`${stack.apiUrl}/__local/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'bob' }),
    });
    expect(response.status).toBe(200);
    expect((await response.json()) as object).toHaveProperty('access_token');
  });

  it('moves the shared clock through POST /__local/clock', async () => {
    const before = stack.clock.offsetSeconds;
    const response = await fetch(`${stack.apiUrl}/__local/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ advance_seconds: 5 }),
    });
    expect(response.status).toBe(200);
    expect(stack.clock.offsetSeconds).toBe(before + 5);
  });

  it('serves the simulator', async () => {
    const response = await fetch(`${stack.simUrl}/__sim/stats`);
    expect(response.status).toBe(200);
  });

  it("registers the API's callback URIs with the simulator", async () => {
    const authorize = (redirectUri: string) =>
      rawRequest(
        `${stack.simUrl}/?response_type=code&client_id=sandbox-local&scope=info%20accounts&providers=uk-cs-mock&state=s1&redirect_uri=${encodeURIComponent(redirectUri)}`,
      );
    expect((await authorize(`http://127.0.0.1:${apiPort()}/callback`)).status).toBe(200);
    expect((await authorize(`http://localhost:${apiPort()}/callback`)).status).toBe(200);
    expect((await authorize('http://127.0.0.1:1/elsewhere')).status).toBe(400);
  });
});

describe('close', () => {
  it('stops the API, the simulator and DynamoDB and restores the environment', async () => {
    await stack.close();
    closed = true;
    for (const url of [`${stack.apiUrl}/__local/clock`, `${stack.simUrl}/__sim/stats`, stack.dynamoEndpoint]) {
      await expect(fetch(url)).rejects.toThrow();
    }
    expect(process.env.DYNAMODB_ENDPOINT).toBeUndefined();
    expect(process.env.TRUELAYER_AUTH_URL).toBeUndefined();
  });
});
