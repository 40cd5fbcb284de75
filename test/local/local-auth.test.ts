/** `/__local/*`: tokens from the local issuer, its key set, and the shared clock control. */

import type { JSONWebKeySet } from 'jose';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalAuth } from '../../local/local-auth';
import { createLocalAuth, localAudience } from '../../local/local-auth';
import { AdjustableClock } from '../../shared/clock';
import type { FixtureGateway } from './helpers';
import { rawRequest, startFixtureGateway } from './helpers';

const json = (body: unknown): { method: string; headers: [string, string][]; body: string } => ({
  method: 'POST',
  headers: [['content-type', 'application/json']],
  body: JSON.stringify(body),
});

let auth: LocalAuth;
let fixture: FixtureGateway;
// Its own clock, so moving it cannot disturb other tests in this process.
const clock = new AdjustableClock();

beforeAll(async () => {
  auth = await createLocalAuth({ clock });
  fixture = await startFixtureGateway({
    routes: [{ method: 'GET', path: '/me', function: 'me', auth: 'jwt' }],
    jwt: { issuer: () => auth.issuer, audience: auth.audience, jwks: auth.jwks },
    clock,
    extraRoutes: auth.routes,
    handlers: { me: async (event) => ({ statusCode: 200, body: event.requestContext.authorizer.jwt.claims.sub ?? '' }) },
  });
  auth.setOrigin(fixture.url);
});

afterAll(() => fixture.close());

const tokenFor = async (sub: string): Promise<string> => {
  const response = await rawRequest(`${fixture.url}/__local/token`, json({ sub }));
  expect(response.status).toBe(200);
  return (response.json() as { access_token: string }).access_token;
};

describe('POST /__local/token', () => {
  it('issues an RS256 JWT for the sub that verifies against /__local/jwks.json', async () => {
    const token = await tokenFor('alice');
    const keys = (await rawRequest(`${fixture.url}/__local/jwks.json`)).json() as JSONWebKeySet;
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(keys), { currentDate: new Date(clock.now()) });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ sub: 'alice', iss: `${fixture.url}/__local`, aud: localAudience });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(3600);
  });

  it('gives a token the API accepts, with the sub reaching the handler', async () => {
    const token = await tokenFor('bob');
    const response = await rawRequest(`${fixture.url}/me`, { headers: [['authorization', `Bearer ${token}`]] });
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('bob');
  });

  it('works with a JSON content type on localhost too', async () => {
    const port = new URL(fixture.url).port;
    const response = await rawRequest(`${fixture.url}/__local/token`, {
      ...json({ sub: 'carol' }),
      headers: [
        ['host', `localhost:${port}`],
        ['content-type', 'application/json; charset=utf-8'],
      ],
    });
    expect(response.status).toBe(200);
  });

  it.each([
    ['no body', undefined],
    ['an empty sub', { sub: '' }],
    ['a blank sub', { sub: '   ' }],
    ['a numeric sub', { sub: 42 }],
    ['an overlong sub', { sub: 'x'.repeat(129) }],
    ['a sub with a control character', { sub: 'ali\nce' }],
  ])('refuses %s with a 400 problem', async (_label, body) => {
    const response = await rawRequest(`${fixture.url}/__local/token`, {
      ...json(body),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(response.json()).toMatchObject({ status: 400, code: 'validation_error' });
    expect((response.json() as { detail: string }).detail).toMatch(/sub/);
  });

  it('refuses a body that is not JSON', async () => {
    const response = await rawRequest(`${fixture.url}/__local/token`, { ...json({}), body: 'sub=alice' });
    expect(response.status).toBe(400);
    expect((response.json() as { detail: string }).detail).toMatch(/JSON/);
  });
});

describe('/__local/* guards: a web page the developer visits cannot drive them', () => {
  it.each([
    ['no content type (curl -d without -H)', undefined],
    ['text/plain (a cross-site fetch without preflight)', 'text/plain'],
    ['a form post', 'application/x-www-form-urlencoded'],
  ])('refuses a POST with %s: 415, nothing done', async (_label, type) => {
    const before = clock.now();
    for (const [path, body] of [
      ['/__local/token', '{"sub":"eve"}'],
      ['/__local/clock', '{"advance_seconds":3600}'],
    ] as const) {
      const response = await rawRequest(`${fixture.url}${path}`, { method: 'POST', headers: type ? [['content-type', type]] : [], body });
      expect(response.status, path).toBe(415);
      expect(response.json()).toMatchObject({ code: 'unsupported_media_type', detail: expect.stringMatching(/application\/json/) });
    }
    expect(clock.now() - before).toBeLessThan(60_000);
  });

  it.each(['evil.example', 'evil.example:3000', '127.0.0.1.evil.example', '192.168.1.20:3000', ''])(
    'refuses a request addressed to host %j (DNS rebinding, a LAN address): 403 local_only',
    async (host) => {
      for (const request of [
        { path: '/__local/token', ...json({ sub: 'eve' }) },
        { path: '/__local/clock', ...json({ advance_seconds: 3600 }) },
        { path: '/__local/clock', method: 'GET', headers: [] as [string, string][], body: undefined },
        { path: '/__local/jwks.json', method: 'GET', headers: [] as [string, string][], body: undefined },
      ]) {
        const response = await rawRequest(`${fixture.url}${request.path}`, {
          method: request.method,
          headers: [['host', host], ...request.headers],
          body: request.body,
        });
        expect(response.status, `${request.method} ${request.path}`).toBe(403);
        expect(response.json()).toMatchObject({ code: 'local_only' });
      }
    },
  );
});

describe('/__local/clock', () => {
  it('reports the clock', async () => {
    const response = await rawRequest(`${fixture.url}/__local/clock`);
    expect(response.status).toBe(200);
    const body = response.json() as { now: string; offset_seconds: number };
    expect(body.offset_seconds).toBe(clock.offsetSeconds);
    expect(Date.parse(body.now)).toBeGreaterThan(0);
  });

  it('moves the clock forward and reports the new offset', async () => {
    const before = clock.offsetSeconds;
    const response = await rawRequest(`${fixture.url}/__local/clock`, json({ advance_seconds: 90 }));
    expect(response.status).toBe(200);
    expect((response.json() as { offset_seconds: number }).offset_seconds).toBe(before + 90);
    expect(clock.offsetSeconds).toBe(before + 90);
    const reported = (await rawRequest(`${fixture.url}/__local/clock`)).json() as { offset_seconds: number };
    expect(reported.offset_seconds).toBe(before + 90);
  });

  it.each([[{ advance_seconds: -5 }], [{ advance_seconds: 'soon' }], [{}]])(
    'refuses %j with a 400 problem and leaves the clock',
    async (body) => {
      const before = clock.offsetSeconds;
      const response = await rawRequest(`${fixture.url}/__local/clock`, json(body));
      expect(response.status).toBe(400);
      expect(response.json()).toMatchObject({ code: 'validation_error' });
      expect(clock.offsetSeconds).toBe(before);
    },
  );

  it('expires an issued token once moved past its hour', async () => {
    const token = await tokenFor('dave');
    const authorization: [string, string][] = [['authorization', `Bearer ${token}`]];
    expect((await rawRequest(`${fixture.url}/me`, { headers: authorization })).status).toBe(200);
    await rawRequest(`${fixture.url}/__local/clock`, json({ advance_seconds: 3601 }));
    const response = await rawRequest(`${fixture.url}/me`, { headers: authorization });
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toContain('the token has expired');
  });
});

describe('OIDC discovery', () => {
  it('publishes the issuer and its jwks_uri', async () => {
    const response = await rawRequest(`${fixture.url}/__local/.well-known/openid-configuration`);
    expect(response.json()).toMatchObject({ issuer: `${fixture.url}/__local`, jwks_uri: `${fixture.url}/__local/jwks.json` });
  });
});
