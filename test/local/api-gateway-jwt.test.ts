/** The JWT authorizer: every refusal is a 401 the handler never sees; accepted claims reach the event. */

import type { CryptoKey, JSONWebKeySet, JWTPayload } from 'jose';
import { base64url, exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdjustableClock } from '../../shared/clock';
import type { FixtureGateway, RawResponse } from './helpers';
import { rawRequest, startFixtureGateway } from './helpers';

const issuer = 'https://issuer.example.test/';
const audience = 'api-audience';
const kid = 'key-1';

let signingKey: CryptoKey;
let otherKey: CryptoKey;
/** The issuer's public key as PEM, which a confused verifier might take as an HMAC secret. */
let publicPem: string;
let jwks: JSONWebKeySet;
let fixture: FixtureGateway;
const clock = new AdjustableClock();
const nowSeconds = () => Math.floor(clock.now() / 1000);

const sign = (claims: JWTPayload, options: { key?: CryptoKey; kid?: string | null } = {}) => {
  const header = options.kid === null ? { alg: 'RS256' } : { alg: 'RS256', kid: options.kid ?? kid };
  return new SignJWT({ iss: issuer, aud: audience, sub: 'alice', iat: nowSeconds(), exp: nowSeconds() + 600, ...claims })
    .setProtectedHeader(header)
    .sign(options.key ?? signingKey);
};

const call = (token: string | undefined, scheme = 'Bearer'): Promise<RawResponse> =>
  rawRequest(`${fixture.url}/private`, { headers: token === undefined ? [] : [['authorization', `${scheme} ${token}`]] });

const invocations = () => fixture.calls.private?.length ?? 0;

/** Asserts the outcome every refusal shares: 401, API Gateway's body, a challenge, no invocation. */
const expectRefused = async (token: string | undefined, scheme?: string) => {
  const before = invocations();
  const response = await call(token, scheme);
  expect(response.status).toBe(401);
  expect(response.json()).toEqual({ message: 'Unauthorized' });
  expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
  expect(invocations()).toBe(before);
  return response;
};

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  signingKey = pair.privateKey;
  publicPem = await exportSPKI(pair.publicKey);
  ({ privateKey: otherKey } = await generateKeyPair('RS256'));
  jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' }] };
  fixture = await startFixtureGateway({
    routes: [
      { method: 'GET', path: '/private', function: 'private', auth: 'jwt' },
      { method: 'GET', path: '/public', function: 'public', auth: 'none' },
    ],
    jwt: { issuer, audience, jwks },
    clock,
    handlers: {
      private: async (event) => ({ statusCode: 200, body: JSON.stringify(event.requestContext.authorizer.jwt) }),
      public: async () => ({ statusCode: 200, body: 'public' }),
    },
  });
});

afterAll(() => fixture.close());

describe('refusals', () => {
  it('refuses a request without a token', async () => {
    const response = await expectRefused(undefined);
    expect(response.headers['www-authenticate']).toBe('Bearer');
  });

  it('refuses a token that is not a JWT', async () => {
    await expectRefused('not-a-jwt');
  });

  it('refuses a token signed by another key', async () => {
    await expectRefused(await sign({}, { key: otherKey }));
  });

  it('refuses a token whose payload was altered after signing', async () => {
    const [header, , signature] = (await sign({})).split('.');
    const forged = base64url.encode(JSON.stringify({ iss: issuer, aud: audience, sub: 'mallory', exp: nowSeconds() + 600 }));
    await expectRefused(`${header}.${forged}.${signature}`);
  });

  it('refuses an unsigned token (alg none)', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', kid }));
    const payload = base64url.encode(JSON.stringify({ iss: issuer, aud: audience, sub: 'alice', exp: nowSeconds() + 600 }));
    await expectRefused(`${header}.${payload}.`);
  });

  it("refuses an HS256 token keyed with the issuer's public key", async () => {
    const secret = new TextEncoder().encode(publicPem);
    const token = await new SignJWT({ iss: issuer, aud: audience, sub: 'alice', exp: nowSeconds() + 600 })
      .setProtectedHeader({ alg: 'HS256', kid })
      .sign(secret);
    await expectRefused(token);
  });

  it('refuses a token from another issuer', async () => {
    const response = await expectRefused(await sign({ iss: 'https://elsewhere.example.test/' }));
    expect(response.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  it('refuses a token for another audience', async () => {
    const response = await expectRefused(await sign({ aud: 'someone-else' }));
    expect(response.headers['www-authenticate']).toContain('the token does not have a valid audience');
  });

  it('refuses an expired token', async () => {
    const response = await expectRefused(await sign({ iat: nowSeconds() - 7200, exp: nowSeconds() - 60 }));
    expect(response.headers['www-authenticate']).toContain('the token has expired');
  });

  it('refuses a token that is not valid yet', async () => {
    await expectRefused(await sign({ nbf: nowSeconds() + 300 }));
  });

  it('refuses a token without an expiry', async () => {
    await expectRefused(await sign({ exp: undefined }));
  });

  it('refuses a token without a kid header', async () => {
    await expectRefused(await sign({}, { kid: null }));
  });

  it('refuses a token that expires when the clock moves past exp', async () => {
    const token = await sign({ exp: nowSeconds() + 120 });
    expect((await call(token)).status).toBe(200);
    clock.advance(121);
    await expectRefused(token);
  });
});

describe('accepted tokens', () => {
  it('passes claims as strings and splits scope into scopes', async () => {
    const token = await sign({ scope: 'read write', email_verified: true, groups: ['a', 'b'], org: { id: 7 } });
    const response = await call(token);
    expect(response.status).toBe(200);
    const jwt = response.json() as { claims: Record<string, string>; scopes: string[] | null };
    expect(jwt.scopes).toEqual(['read', 'write']);
    expect(jwt.claims).toMatchObject({
      sub: 'alice',
      iss: issuer,
      aud: audience,
      scope: 'read write',
      email_verified: 'true',
      groups: '[a b]',
      org: 'map[id:7]',
    });
    expect(jwt.claims.exp).toMatch(/^\d+$/);
    expect(Object.values(jwt.claims).every((value) => typeof value === 'string')).toBe(true);
  });

  it('gives null scopes when the token has no scope claim', async () => {
    const response = await call(await sign({}));
    expect((response.json() as { scopes: unknown }).scopes).toBeNull();
  });

  it('accepts a matching client_id when the token has no aud', async () => {
    const response = await call(await sign({ aud: undefined, client_id: audience }));
    expect(response.status).toBe(200);
  });

  it('accepts the Bearer scheme in any case', async () => {
    expect((await call(await sign({}), 'bearer')).status).toBe(200);
  });

  it('leaves public routes open without a token', async () => {
    const response = await rawRequest(`${fixture.url}/public`);
    expect(response.status).toBe(200);
  });
});

describe('configuration', () => {
  it('refuses to build a gateway with jwt routes but no authorizer configuration', async () => {
    const { createApiGateway } = await import('../../local/api-gateway');
    expect(() =>
      createApiGateway({
        routes: [{ method: 'GET', path: '/p', function: 'p', auth: 'jwt' }],
        resolveHandler: () => ({ handler: async () => 'x' }),
      }),
    ).toThrow(/jwt/);
  });
});
