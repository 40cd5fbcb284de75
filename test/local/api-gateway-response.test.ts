/** What the client gets back: API Gateway's mapping of handler results, its routing and its own errors. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LambdaHandler } from '../../local/api-gateway';
import type { FixtureGateway } from './helpers';
import { rawRequest, startFixtureGateway } from './helpers';

const results: Record<string, unknown> = {
  structured: {
    statusCode: 201,
    headers: { 'content-type': 'application/json', 'x-count': 3, 'x-flag': true, location: '/things/1' },
    cookies: ['a=1; Path=/; HttpOnly', 'b=2; Secure'],
    body: '{"created":true}',
  },
  base64: {
    statusCode: 200,
    headers: { 'content-type': 'image/png' },
    isBase64Encoded: true,
    body: Buffer.from([137, 80, 78, 71, 0, 255]).toString('base64'),
  },
  plainObject: { message: 'hello', items: [1, 2] },
  plainString: 'Hello from Lambda!',
  multiValue: { statusCode: 200, multiValueHeaders: { 'x-tag': ['a', 'b'] }, body: '' },
  noBody: { statusCode: 204 },
  badStatus: { statusCode: 'two hundred', body: 'x' },
  objectBody: { statusCode: 200, body: { not: 'a string' } },
};

const routes = [
  { method: 'GET', path: '/result/structured', function: 'structured', auth: 'none' },
  { method: 'GET', path: '/result/base64', function: 'base64', auth: 'none' },
  { method: 'GET', path: '/result/plain-object', function: 'plainObject', auth: 'none' },
  { method: 'GET', path: '/result/plain-string', function: 'plainString', auth: 'none' },
  { method: 'GET', path: '/result/multi-value', function: 'multiValue', auth: 'none' },
  { method: 'GET', path: '/result/no-body', function: 'noBody', auth: 'none' },
  { method: 'GET', path: '/result/bad-status', function: 'badStatus', auth: 'none' },
  { method: 'GET', path: '/result/object-body', function: 'objectBody', auth: 'none' },
  { method: 'GET', path: '/result/throws', function: 'throws', auth: 'none' },
  { method: 'GET', path: '/result/callback', function: 'callbackStyle', auth: 'none' },
  { method: 'GET', path: '/connections', function: 'list', auth: 'none' },
  { method: 'GET', path: '/connections/{id}', function: 'one', auth: 'none' },
  { method: 'GET', path: '/connections/{id}/{proxy+}', function: 'data', auth: 'none' },
  { method: 'POST', path: '/connections/{id}/extend', function: 'extend', auth: 'none' },
  { method: 'GET', path: '/connections/mine', function: 'mine', auth: 'none' },
  { method: 'POST', path: '/upload', function: 'upload', auth: 'none' },
] as const;

const named =
  (name: string): LambdaHandler =>
  async () => ({ statusCode: 200, body: name });

let fixture: FixtureGateway;

beforeAll(async () => {
  const handlers: Record<string, LambdaHandler> = Object.fromEntries(
    Object.entries(results).map(([name, result]) => [name, async () => result]),
  );
  handlers.throws = async () => {
    throw new Error('boom with internals');
  };
  handlers.callbackStyle = (_event, _context, callback) => {
    setImmediate(() => callback(null, { statusCode: 202, body: 'via callback' }));
  };
  for (const name of ['list', 'one', 'data', 'extend', 'mine', 'upload']) handlers[name] = named(name);
  fixture = await startFixtureGateway({ routes, handlers, maxBodyBytes: 1024 });
});

afterAll(() => fixture.close());

describe('response mapping', () => {
  it('sends statusCode, headers (stringified) and each cookie as its own Set-Cookie', async () => {
    const response = await rawRequest(`${fixture.url}/result/structured`);
    expect(response.status).toBe(201);
    expect(response.headers['x-count']).toBe('3');
    expect(response.headers['x-flag']).toBe('true');
    expect(response.headers.location).toBe('/things/1');
    expect(response.headers['set-cookie']).toEqual(['a=1; Path=/; HttpOnly', 'b=2; Secure']);
    expect(response.json()).toEqual({ created: true });
  });

  it('decodes a base64 body to its bytes', async () => {
    const response = await rawRequest(`${fixture.url}/result/base64`);
    expect(response.headers['content-type']).toBe('image/png');
    expect([...response.body]).toEqual([137, 80, 78, 71, 0, 255]);
  });

  it('answers a plain object as 200 JSON of that object', async () => {
    const response = await rawRequest(`${fixture.url}/result/plain-object`);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.json()).toEqual({ message: 'hello', items: [1, 2] });
  });

  it('answers a string as 200 with that string as the body', async () => {
    const response = await rawRequest(`${fixture.url}/result/plain-string`);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.body.toString()).toBe('Hello from Lambda!');
  });

  it('sends multiValueHeaders', async () => {
    const response = await rawRequest(`${fixture.url}/result/multi-value`);
    expect(response.headers['x-tag']).toBe('a,b');
  });

  it('sends an empty body when the result has none', async () => {
    const response = await rawRequest(`${fixture.url}/result/no-body`);
    expect(response.status).toBe(204);
    expect(response.body.length).toBe(0);
  });

  it('accepts callback-style handlers', async () => {
    const response = await rawRequest(`${fixture.url}/result/callback`);
    expect(response.status).toBe(202);
    expect(response.body.toString()).toBe('via callback');
  });

  it('answers 500 Internal Server Error when the handler throws, without its message', async () => {
    const response = await rawRequest(`${fixture.url}/result/throws`);
    expect(response.status).toBe(500);
    expect(response.json()).toEqual({ message: 'Internal Server Error' });
    expect(response.body.toString()).not.toContain('boom');
  });

  it('answers 500 for a result with a non-numeric statusCode', async () => {
    const response = await rawRequest(`${fixture.url}/result/bad-status`);
    expect(response.status).toBe(500);
    expect(response.json()).toEqual({ message: 'Internal Server Error' });
  });

  it('answers 500 for a result whose body is not a string', async () => {
    const response = await rawRequest(`${fixture.url}/result/object-body`);
    expect(response.status).toBe(500);
  });

  it('tags every response with an apigw-requestid header', async () => {
    const found = await rawRequest(`${fixture.url}/connections`);
    const missing = await rawRequest(`${fixture.url}/nowhere`);
    expect(found.headers['apigw-requestid']).toMatch(/^[A-Za-z0-9]{15}=$/);
    expect(missing.headers['apigw-requestid']).toMatch(/^[A-Za-z0-9]{15}=$/);
  });
});

describe('route matching', () => {
  it('prefers a literal route over a path variable', async () => {
    expect((await rawRequest(`${fixture.url}/connections/mine`)).body.toString()).toBe('mine');
    expect((await rawRequest(`${fixture.url}/connections/abc`)).body.toString()).toBe('one');
  });

  it('prefers a route with path variables over a greedy one', async () => {
    expect((await rawRequest(`${fixture.url}/connections/abc/extend`, { method: 'POST' })).body.toString()).toBe('extend');
    expect((await rawRequest(`${fixture.url}/connections/abc/accounts`)).body.toString()).toBe('data');
    expect((await rawRequest(`${fixture.url}/connections/abc/accounts/x/balance`)).body.toString()).toBe('data');
  });

  it('answers 404 Not Found for an unknown path', async () => {
    const response = await rawRequest(`${fixture.url}/nowhere`);
    expect(response.status).toBe(404);
    expect(response.json()).toEqual({ message: 'Not Found' });
  });

  it('answers 404 for a known path with a method it has no route for', async () => {
    const response = await rawRequest(`${fixture.url}/connections`, { method: 'DELETE' });
    expect(response.status).toBe(404);
    expect(response.json()).toEqual({ message: 'Not Found' });
  });

  it('does not let a greedy variable match an empty rest', async () => {
    const response = await rawRequest(`${fixture.url}/connections/abc/`);
    expect(response.status).toBe(404);
  });

  it('answers 413 for a body over the payload limit without invoking the handler', async () => {
    const before = fixture.calls.upload?.length ?? 0;
    const response = await rawRequest(`${fixture.url}/upload`, {
      method: 'POST',
      headers: [['content-type', 'application/json']],
      body: Buffer.alloc(1025, 'a'),
    });
    expect(response.status).toBe(413);
    expect(response.json()).toEqual({ message: 'Request Entity Too Large' });
    expect(fixture.calls.upload?.length ?? 0).toBe(before);
  });

  it('accepts a body exactly at the payload limit', async () => {
    const response = await rawRequest(`${fixture.url}/upload`, {
      method: 'POST',
      headers: [['content-type', 'text/plain']],
      body: Buffer.alloc(1024, 'a'),
    });
    expect(response.status).toBe(200);
  });
});

describe('concurrency', () => {
  it('runs invocations of one function concurrently, like many Lambda containers', async () => {
    const count = 20;
    let inFlight = 0;
    let maxInFlight = 0;
    let release!: () => void;
    const allArrived = new Promise<void>((resolve) => {
      release = resolve;
    });
    const concurrent = await startFixtureGateway({
      routes: [{ method: 'GET', path: '/slow', function: 'slow', auth: 'none' }],
      handlers: {
        slow: async () => {
          inFlight += 1;
          maxInFlight = Math.max(maxInFlight, inFlight);
          if (inFlight === count) release();
          // A sequential gateway never gets everyone here; the cap only keeps such a failure short.
          await Promise.race([allArrived, new Promise((resolve) => setTimeout(resolve, 2000))]);
          inFlight -= 1;
          return { statusCode: 200, body: 'done' };
        },
      },
    });
    try {
      const responses = await Promise.all(Array.from({ length: count }, () => rawRequest(`${concurrent.url}/slow`)));
      expect(responses.every((response) => response.status === 200)).toBe(true);
      expect(maxInFlight).toBe(count);
    } finally {
      await concurrent.close();
    }
  });

  it('loads a function once however many first requests arrive together', async () => {
    let loads = 0;
    const { createApiGateway } = await import('../../local/api-gateway');
    const gateway = createApiGateway({
      routes: [{ method: 'GET', path: '/x', function: 'x', auth: 'none' }],
      resolveHandler: async () => {
        loads += 1;
        await new Promise((resolve) => setImmediate(resolve));
        return { handler: async () => ({ statusCode: 200, body: 'x' }) };
      },
    });
    const url = await gateway.listen({ port: 0 });
    try {
      await Promise.all(Array.from({ length: 10 }, () => rawRequest(`${url}/x`)));
      expect(loads).toBe(1);
    } finally {
      await gateway.close();
    }
  });
});

describe('function timeout', () => {
  it('answers 500 when the handler outlives its configured timeout, and logs the timeout', async () => {
    const { createApiGateway } = await import('../../local/api-gateway');
    const lines: string[] = [];
    const gateway = createApiGateway({
      routes: [{ method: 'GET', path: '/hang', function: 'hang', auth: 'none' }],
      resolveHandler: () => ({ timeoutSeconds: 0.05, handler: () => new Promise(() => undefined) }),
      log: (line) => lines.push(line),
    });
    const url = await gateway.listen({ port: 0 });
    try {
      const response = await rawRequest(`${url}/hang`);
      expect(response.status).toBe(500);
      expect(response.json()).toEqual({ message: 'Internal Server Error' });
      expect(lines.some((line) => line.startsWith('ERROR') && line.includes('timeout'))).toBe(true);
    } finally {
      await gateway.close();
    }
  });
});

describe('CORS, when configured as API Gateway CORS', () => {
  let cors: FixtureGateway;

  beforeAll(async () => {
    cors = await startFixtureGateway({
      routes: [{ method: 'GET', path: '/things', function: 'things', auth: 'none' }],
      handlers: { things: async () => ({ statusCode: 200, headers: { 'access-control-allow-origin': '*' }, body: '[]' }) },
      cors: {
        allowOrigins: ['http://app.example.test'],
        allowHeaders: ['authorization', 'content-type'],
        allowMethods: ['GET', 'POST'],
        exposeHeaders: ['location'],
        maxAgeSeconds: 600,
      },
    });
  });

  afterAll(() => cors.close());

  const preflight = (origin: string) =>
    rawRequest(`${cors.url}/anything`, {
      method: 'OPTIONS',
      headers: [
        ['origin', origin],
        ['access-control-request-method', 'POST'],
      ],
    });

  it('answers a preflight from an allowed origin itself, for any path', async () => {
    const response = await preflight('http://app.example.test');
    expect(response.status).toBe(204);
    expect(response.headers['access-control-allow-origin']).toBe('http://app.example.test');
    expect(response.headers['access-control-allow-methods']).toBe('GET,POST');
    expect(response.headers['access-control-allow-headers']).toBe('authorization,content-type');
    expect(response.headers['access-control-max-age']).toBe('600');
  });

  it('answers a preflight from another origin without CORS headers', async () => {
    const response = await preflight('http://evil.example.test');
    expect(response.status).toBe(204);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('adds the CORS headers to integration responses for an allowed origin', async () => {
    const response = await rawRequest(`${cors.url}/things`, { headers: [['origin', 'http://app.example.test']] });
    expect(response.headers['access-control-allow-origin']).toBe('http://app.example.test');
    expect(response.headers['access-control-expose-headers']).toBe('location');
  });

  it("ignores the integration's own CORS headers, as API Gateway does once CORS is configured", async () => {
    const response = await rawRequest(`${cors.url}/things`, { headers: [['origin', 'http://evil.example.test']] });
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });
});
