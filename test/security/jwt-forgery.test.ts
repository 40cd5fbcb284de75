/**
 * Forged and unusable bearer tokens on every protected route, against the whole local stack: each
 * is a 401 from the authorizer and the handler never runs. The requests are ones that would change
 * something if they got through (create, extend, delete, data reads as the connection's owner), so
 * "nothing changed" shows the handler was not reached.
 *
 * To forge a token that fails on one check only (issuer, audience, expiry), the test needs the
 * local issuer's real signing key; jose's key generation is wrapped to keep a copy of each key pair.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CryptoKey, JWTPayload } from 'jose';
import { base64url, exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { psu, scanTable, tableClient } from '../reliability/helpers';
import type { ApiResponse } from '../support/flow';
import { TestApi } from '../support/flow';

const generated = vi.hoisted(() => [] as { privateKey: unknown; publicKey: unknown }[]);
vi.mock('jose', async (importOriginal) => {
  const jose = await importOriginal<typeof import('jose')>();
  return {
    ...jose,
    generateKeyPair: async (...args: Parameters<typeof jose.generateKeyPair>) => {
      const pair = await jose.generateKeyPair(...args);
      generated.push(pair);
      return pair;
    },
  };
});

let api: TestApi;
let doc: DynamoDBDocumentClient;
let issuerKey: CryptoKey;
let issuerPublicPem: string;
let otherKey: CryptoKey;
let kid: string;
let issuer: string;
const audience = 'truelayer-connections-local';
let connectionId: string;
let accountId: string;

beforeAll(async () => {
  api = await TestApi.start();
  connectionId = await api.connect('alice');
  accountId = (await api.call('GET', `/connections/${connectionId}/accounts`, { sub: 'alice', headers: psu })).body.results[0].account_id;
  doc = tableClient(api.stack);
  const jwks = (await (await fetch(`${api.stack.apiUrl}/__local/jwks.json`)).json()) as { keys: { kid: string; n: string }[] };
  const published = jwks.keys[0]!;
  kid = published.kid;
  issuer = `${api.stack.apiUrl}/__local`;
  for (const pair of generated) {
    const jwk = await exportJWK(pair.publicKey as CryptoKey);
    if (jwk.n === published.n) {
      issuerKey = pair.privateKey as CryptoKey;
      issuerPublicPem = await exportSPKI(pair.publicKey as CryptoKey);
    }
  }
  if (!issuerKey) throw new Error("the local issuer's key pair was not seen being generated");
  otherKey = (await generateKeyPair('RS256')).privateKey;
});
afterAll(async () => api.close());

const nowSeconds = () => Math.floor(api.stack.clock.now() / 1000);

const sign = (claims: JWTPayload = {}, options: { key?: CryptoKey; header?: Record<string, unknown> } = {}) =>
  new SignJWT({ iss: issuer, aud: audience, sub: 'alice', iat: nowSeconds(), exp: nowSeconds() + 600, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid, ...options.header } as { alg: string })
    .sign(options.key ?? issuerKey);

const unsigned = (header: Record<string, unknown>, claims: JWTPayload = {}) => {
  const payload = { iss: issuer, aud: audience, sub: 'alice', iat: nowSeconds(), exp: nowSeconds() + 600, ...claims };
  return `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.`;
};

/** An HS256 token keyed with the issuer's public key: the classic algorithm-confusion forgery. */
const hmacWithPublicKey = async () => {
  const header = base64url.encode(JSON.stringify({ alg: 'HS256', kid, typ: 'JWT' }));
  const payload = base64url.encode(
    JSON.stringify({ iss: issuer, aud: audience, sub: 'alice', iat: nowSeconds(), exp: nowSeconds() + 600 }),
  );
  const { createHmac } = await import('node:crypto');
  const signature = createHmac('sha256', issuerPublicPem).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
};

/** Requests that would change state (or reach TrueLayer) if a handler ran them as alice. */
const protectedRoutes = (): [string, (token: string | undefined) => Promise<ApiResponse>][] => {
  const as = (token: string | undefined) => (token === undefined ? {} : { token });
  return [
    ['POST /connections', (token) => api.call('POST', '/connections', { ...as(token), body: {} })],
    ['GET /connections', (token) => api.call('GET', '/connections', as(token))],
    ['GET /connections/{id}', (token) => api.call('GET', `/connections/${connectionId}`, as(token))],
    [
      'POST /connections/{id}/extend',
      (token) =>
        api.call('POST', `/connections/${connectionId}/extend`, {
          ...as(token),
          body: { user_has_reconfirmed_consent: true, user: { name: 'Alice', email: 'alice@example.com' } },
        }),
    ],
    ['DELETE /connections/{id}', (token) => api.call('DELETE', `/connections/${connectionId}`, as(token))],
    ['GET /connections/{id}/accounts', (token) => api.call('GET', `/connections/${connectionId}/accounts`, { ...as(token), headers: psu })],
    [
      'GET /connections/{id}/accounts/{aid}/transactions',
      (token) => api.call('GET', `/connections/${connectionId}/accounts/${accountId}/transactions`, { ...as(token), headers: psu }),
    ],
  ];
};

const forgeries: [string, () => Promise<string | undefined>][] = [
  ['no token at all', async () => undefined],
  ['alg none', async () => unsigned({ alg: 'none', kid, typ: 'JWT' })],
  ['alg none without a kid', async () => unsigned({ alg: 'none' })],
  ["HS256 keyed with the issuer's public key", hmacWithPublicKey],
  ["a signature by another key under the issuer's kid", () => sign({}, { key: otherKey })],
  [
    "a valid token with its payload swapped for another user's",
    async () => {
      const [header, , signature] = (await sign({ sub: 'mallory' })).split('.');
      const payload = base64url.encode(
        JSON.stringify({ iss: issuer, aud: audience, sub: 'alice', iat: nowSeconds(), exp: nowSeconds() + 600 }),
      );
      return `${header}.${payload}.${signature}`;
    },
  ],
  ['the wrong issuer', () => sign({ iss: 'https://evil.example/__local' })],
  ['the issuer with a trailing slash', () => sign({ iss: `${issuer}/` })],
  ['the wrong audience', () => sign({ aud: 'some-other-api' })],
  ['no audience', () => sign({ aud: undefined })],
  ['an expired token', () => sign({ iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 })],
  ['a token without exp', () => sign({ exp: undefined })],
  ['a token not valid yet (nbf in the future)', () => sign({ nbf: nowSeconds() + 3600 })],
  [
    'a token with no kid',
    async () =>
      new SignJWT({ iss: issuer, aud: audience, sub: 'alice', exp: nowSeconds() + 600 })
        .setProtectedHeader({ alg: 'RS256' })
        .sign(issuerKey),
  ],
  ['a token with an unknown kid', () => sign({}, { header: { kid: 'another-key' } })],
  ['a truncated token', async () => (await sign()).slice(0, -10)],
  ['garbage', async () => 'not.a.jwt'],
];

describe('forged and unusable tokens', () => {
  it('the genuine token passes, so each refusal below is about the forgery', async () => {
    const response = await api.call('GET', `/connections/${connectionId}`, { token: await sign() });
    expect(response.status, response.text).toBe(200);
  });

  it.each(forgeries)('refuses %s on every protected route with 401, the handler never reached', async (_name, forge) => {
    const token = await forge();
    const tableBefore = await scanTable(doc, api.stack.tableName);
    const simBefore = await api.simStats();
    for (const [route, call] of protectedRoutes()) {
      const response = await call(token);
      expect(response.status, `${route}: ${response.text}`).toBe(401);
      expect(response.body, route).toEqual({ message: 'Unauthorized' });
      expect(response.headers.get('www-authenticate'), route).toMatch(/^Bearer/);
    }
    expect(await scanTable(doc, api.stack.tableName)).toEqual(tableBefore);
    expect(await api.simStats()).toEqual(simBefore);
  });

  it('refuses a real token once the clock passes its expiry', async () => {
    const token = await api.stack.issueToken('alice');
    expect((await api.call('GET', '/connections', { token })).status).toBe(200);
    api.advance(3601);
    const response = await api.call('GET', '/connections', { token });
    expect(response.status).toBe(401);
  });
});
