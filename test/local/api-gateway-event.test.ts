/** The payload 2.0 event the emulator builds, held against AWS's documented example. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FixtureGateway, Invocation } from './helpers';
import { rawRequest, startFixtureGateway } from './helpers';

// Fields of AWS's documented payload format 2.0 example (HTTP API Lambda integrations).
const documentedTopLevel = [
  'version',
  'routeKey',
  'rawPath',
  'rawQueryString',
  'cookies',
  'headers',
  'queryStringParameters',
  'requestContext',
  'body',
  'pathParameters',
  'isBase64Encoded',
  'stageVariables',
];
const documentedRequestContext = [
  'accountId',
  'apiId',
  'authentication',
  'authorizer',
  'domainName',
  'domainPrefix',
  'http',
  'requestId',
  'routeKey',
  'stage',
  'time',
  'timeEpoch',
];

const routes = [
  { method: 'GET', path: '/items/{id}', function: 'item', auth: 'none' },
  { method: 'GET', path: '/items/{id}/{proxy+}', function: 'itemData', auth: 'none' },
  { method: 'POST', path: '/items', function: 'create', auth: 'none' },
] as const;

let fixture: FixtureGateway;

beforeAll(async () => {
  const ok = async () => ({ statusCode: 200, body: 'ok' });
  fixture = await startFixtureGateway({
    routes,
    clock: { now: () => Date.UTC(2020, 2, 12, 19, 3, 58, 390) },
    handlers: { item: ok, itemData: ok, create: ok },
  });
});

afterAll(() => fixture.close());

const lastCall = (name: string): Invocation => {
  const call = fixture.calls[name]?.at(-1);
  if (!call) throw new Error(`${name} was not invoked`);
  return call;
};

describe('GET with query, cookies, repeated headers and path parameters', () => {
  let event: Invocation['event'];

  beforeAll(async () => {
    const response = await rawRequest(`${fixture.url}/items/a%20b/accounts/acc-1/transactions?from=2024-01-01&tag=x&tag=y&q=a+b%26c&flag`, {
      headers: [
        ['X-Multi', 'one'],
        ['X-Multi', 'two'],
        ['Cookie', 'session=abc; theme=dark'],
        ['Cookie', 'extra=1'],
        ['User-Agent', 'agent/1.0'],
      ],
    });
    expect(response.status).toBe(200);
    event = lastCall('itemData').event;
  });

  it('uses only fields of the documented 2.0 example and omits body and stageVariables', () => {
    for (const key of Object.keys(event)) expect(documentedTopLevel).toContain(key);
    for (const key of Object.keys(event.requestContext)) expect(documentedRequestContext).toContain(key);
    expect(event).not.toHaveProperty('body');
    expect(event).not.toHaveProperty('stageVariables');
    expect(event.isBase64Encoded).toBe(false);
    expect(event.version).toBe('2.0');
  });

  it('names the matched route in routeKey at both levels', () => {
    expect(event.routeKey).toBe('GET /items/{id}/{proxy+}');
    expect(event.requestContext.routeKey).toBe('GET /items/{id}/{proxy+}');
  });

  it('gives a decoded path and the raw query string without its "?"', () => {
    expect(event.rawPath).toBe('/items/a b/accounts/acc-1/transactions');
    expect(event.requestContext.http.path).toBe('/items/a b/accounts/acc-1/transactions');
    expect(event.rawQueryString).toBe('from=2024-01-01&tag=x&tag=y&q=a+b%26c&flag');
  });

  it('decodes query parameters and comma-joins repeated keys', () => {
    expect(event.queryStringParameters).toEqual({ from: '2024-01-01', tag: 'x,y', q: 'a b&c', flag: '' });
  });

  it('takes one segment for {id} and the greedy rest for {proxy+}', () => {
    expect(event.pathParameters).toEqual({ id: 'a b', proxy: 'accounts/acc-1/transactions' });
  });

  it('moves every cookie into the cookies array and drops the cookie header', () => {
    expect(event.cookies).toEqual(['session=abc', 'theme=dark', 'extra=1']);
    expect(event.headers).not.toHaveProperty('cookie');
  });

  it('lower-cases header names and comma-joins repeated headers', () => {
    expect(event.headers['x-multi']).toBe('one,two');
    expect(event.headers['user-agent']).toBe('agent/1.0');
    expect(Object.keys(event.headers).every((name) => name === name.toLowerCase())).toBe(true);
    expect(event.headers['x-forwarded-proto']).toBe('http');
    expect(event.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('fills requestContext like API Gateway: stage $default, http block, time format, ids', () => {
    const context = event.requestContext;
    expect(context.stage).toBe('$default');
    expect(context.accountId).toMatch(/^\d{12}$/);
    expect(context.apiId).toMatch(/^[a-z0-9]{10}$/);
    expect(context.requestId).toMatch(/^[A-Za-z0-9]{15}=$/);
    expect(context.http).toEqual({
      method: 'GET',
      path: '/items/a b/accounts/acc-1/transactions',
      protocol: 'HTTP/1.1',
      sourceIp: '127.0.0.1',
      userAgent: 'agent/1.0',
    });
    expect(context.time).toBe('12/Mar/2020:19:03:58 +0000');
    expect(context.timeEpoch).toBe(Date.UTC(2020, 2, 12, 19, 3, 58, 390));
    expect(context.domainName).toBe(new URL(fixture.url).host);
    expect(context.domainPrefix).toBe('127');
  });

  it('has no authorizer block on a public route', () => {
    expect(event.requestContext).not.toHaveProperty('authorizer');
  });
});

describe('events without optional parts', () => {
  it('omits cookies, queryStringParameters and pathParameters when the request has none', async () => {
    await rawRequest(`${fixture.url}/items`, { method: 'POST', headers: [['content-type', 'application/json']], body: '{}' });
    const { event } = lastCall('create');
    expect(event).not.toHaveProperty('cookies');
    expect(event).not.toHaveProperty('queryStringParameters');
    expect(event).not.toHaveProperty('pathParameters');
    expect(event.rawQueryString).toBe('');
  });
});

describe('request bodies', () => {
  it('passes a JSON body as text', async () => {
    const body = JSON.stringify({ return_url: 'http://127.0.0.1:3000/', note: 'café' });
    await rawRequest(`${fixture.url}/items`, { method: 'POST', headers: [['content-type', 'application/json; charset=utf-8']], body });
    const { event } = lastCall('create');
    expect(event.isBase64Encoded).toBe(false);
    expect(event.body).toBe(body);
    expect(event.headers['content-length']).toBe(String(Buffer.byteLength(body)));
  });

  it('passes text/* bodies as text', async () => {
    await rawRequest(`${fixture.url}/items`, { method: 'POST', headers: [['content-type', 'text/plain']], body: 'hello' });
    const { event } = lastCall('create');
    expect(event).toMatchObject({ isBase64Encoded: false, body: 'hello' });
  });

  it('base64-encodes a form body, as HTTP APIs do for application/x-www-form-urlencoded', async () => {
    const form = 'code=abc&state=xyz';
    await rawRequest(`${fixture.url}/items`, {
      method: 'POST',
      headers: [['content-type', 'application/x-www-form-urlencoded']],
      body: form,
    });
    const { event } = lastCall('create');
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body ?? '', 'base64').toString('utf8')).toBe(form);
  });

  it('base64-encodes binary bodies byte for byte', async () => {
    const bytes = Buffer.from([0, 255, 1, 128, 10, 13]);
    await rawRequest(`${fixture.url}/items`, { method: 'POST', headers: [['content-type', 'application/octet-stream']], body: bytes });
    const { event } = lastCall('create');
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body ?? '', 'base64').equals(bytes)).toBe(true);
  });

  it('base64-encodes a body sent without a content type', async () => {
    await rawRequest(`${fixture.url}/items`, { method: 'POST', body: 'plain' });
    const { event } = lastCall('create');
    expect(event).toMatchObject({ isBase64Encoded: true, body: Buffer.from('plain').toString('base64') });
  });
});

describe('the Lambda context', () => {
  it('carries a request id, the function name and the remaining time', async () => {
    await rawRequest(`${fixture.url}/items/1`);
    const { context } = lastCall('item');
    expect(context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(context.functionName).toBe('fixture-item');
    expect(context.invokedFunctionArn).toBe(
      `arn:aws:lambda:eu-west-2:${lastCall('item').event.requestContext.accountId}:function:fixture-item`,
    );
    expect(context.getRemainingTimeInMillis()).toBeGreaterThan(0);
    expect(context.getRemainingTimeInMillis()).toBeLessThanOrEqual(5000);
    expect(context.logGroupName).toBe('/aws/lambda/fixture-item');
  });

  it('gives each invocation its own request id', async () => {
    await rawRequest(`${fixture.url}/items/1`);
    await rawRequest(`${fixture.url}/items/2`);
    const [first, second] = (fixture.calls.item ?? []).slice(-2);
    expect(first?.context.awsRequestId).not.toBe(second?.context.awsRequestId);
    expect(first?.event.requestContext.requestId).not.toBe(second?.event.requestContext.requestId);
  });
});

describe('keys that name Object.prototype members', () => {
  it("arrive as plain own keys in queryStringParameters and headers, as API Gateway's JSON gives them", async () => {
    const { parseQueryString, collectHeaders } = await import('../../local/api-gateway/event-builder');
    const query = parseQueryString('__proto__=a&constructor=b&constructor=c')!;
    expect(Object.keys(query)).toEqual(['__proto__', 'constructor']);
    expect(query.constructor).toBe('b,c');
    expect(Object.getPrototypeOf(query)).toBe(Object.prototype);
    const { headers } = collectHeaders(['__proto__', 'x', 'Constructor', 'y']);
    expect(Object.keys(headers)).toEqual(['__proto__', 'constructor']);
  });
});
