/** `POST /connect/token`: codes, refresh, rotation, lifetimes and TrueLayer's error bodies. */

import type { JSONWebKeySet } from 'jose';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../local/sim/types';
import type { AdjustableClock } from '../../shared/clock';
import {
  allScopes,
  authorize,
  clientId,
  clientSecret,
  connect,
  dataGet,
  day,
  exchangeCode,
  postToken,
  redirectUri,
  refresh,
  simJson,
  startHarness,
  subOf,
} from './helpers';

let sim: RunningSimulator;
let clock: AdjustableClock;
const other = { client_id: 'other-client', client_secret: 'other-secret', redirect_uris: [redirectUri] };

beforeAll(async () => {
  ({ sim, clock } = await startHarness({
    clients: [
      { client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri, 'https://console.truelayer.com/redirect-page'] },
      other,
    ],
  }));
});

afterAll(async () => {
  await sim.close();
});

describe('authorization_code grant', () => {
  it('answers with an access token, expires_in 3600, Bearer, a refresh token and the scope string', async () => {
    const exchanged = await exchangeCode(sim, await authorize(sim));
    expect(exchanged.status).toBe(200);
    expect(exchanged.body).toEqual({
      access_token: expect.any(String),
      expires_in: 3600,
      token_type: 'Bearer',
      refresh_token: expect.stringMatching(/^[0-9A-F]{64}$/),
      scope: allScopes,
    });
    expect(exchanged.headers.get('cache-control')).toBe('no-store');
  });

  it('issues an RS256 at+jwt access token with a kid that verifies against the published keys', async () => {
    const tokens = await connect(sim);
    const header = decodeProtectedHeader(tokens.access_token);
    expect(header).toMatchObject({ alg: 'RS256', typ: 'at+jwt', kid: expect.any(String) });
    const jwks = (await simJson(sim, '/.well-known/openid-configuration/jwks')).body as JSONWebKeySet;
    const { payload } = await jwtVerify(tokens.access_token, createLocalJWKSet(jwks), { currentDate: new Date(clock.now()) });
    expect(payload).toMatchObject({
      iss: sim.url,
      aud: 'data_api',
      client_id: clientId,
      connector_id: 'mock',
      scope: allScopes.split(' '),
    });
  });

  it('puts TrueLayer-like claims in the access token', async () => {
    const tokens = await connect(sim);
    const payload = JSON.parse(Buffer.from(tokens.access_token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    expect(Buffer.from(String(payload.sub), 'base64')).toHaveLength(32);
    expect(payload.consent_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(payload.jti).toEqual(expect.any(String));
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.exp).toBe(Number(payload.iat) + 3600);
    expect(Math.abs(Number(payload.iat) - clock.now() / 1000)).toBeLessThan(5);
  });

  it('accepts a JSON body', async () => {
    const code = await authorize(sim);
    const exchanged = await postToken(
      sim,
      { grant_type: 'authorization_code', client_id: clientId, client_secret: clientSecret, code, redirect_uri: redirectUri },
      { json: true },
    );
    expect(exchanged.status).toBe(200);
  });

  it('accepts client credentials in HTTP Basic', async () => {
    const code = await authorize(sim);
    const basic = Buffer.from(`${clientId}:${clientSecret}`).toString('base64');
    const exchanged = await postToken(
      sim,
      { grant_type: 'authorization_code', code, redirect_uri: redirectUri },
      { headers: { authorization: `Basic ${basic}` } },
    );
    expect(exchanged.status).toBe(200);
  });

  it('gives no refresh token without offline_access', async () => {
    const exchanged = await exchangeCode(sim, await authorize(sim, { scope: 'info accounts balance' }));
    expect(exchanged.status).toBe(200);
    expect(exchanged.body.refresh_token).toBeUndefined();
    expect(exchanged.body.scope).toBe('info accounts balance');
  });

  it('refuses a code used twice with 400 invalid_grant', async () => {
    const code = await authorize(sim);
    expect((await exchangeCode(sim, code)).status).toBe(200);
    const again = await exchangeCode(sim, code);
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
  });

  it('accepts a code 299 seconds old', async () => {
    const code = await authorize(sim);
    clock.advance(299);
    expect((await exchangeCode(sim, code)).status).toBe(200);
  });

  it('refuses a code after five minutes with 400 invalid_grant', async () => {
    const code = await authorize(sim);
    clock.advance(301);
    const lapsed = await exchangeCode(sim, code);
    expect(lapsed.status).toBe(400);
    expect(lapsed.body).toMatchObject({ error: 'invalid_grant', error_details: { reason: 'code expired' } });
  });

  it('refuses an unknown code with 400 invalid_grant', async () => {
    const unknown = await exchangeCode(sim, 'F'.repeat(64));
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('invalid_grant');
  });

  it('binds the code to its redirect_uri, and a mismatch does not burn it', async () => {
    const code = await authorize(sim);
    const wrong = await exchangeCode(sim, code, { redirect_uri: 'https://console.truelayer.com/redirect-page' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe('invalid_grant');
    expect((await exchangeCode(sim, code)).status).toBe(200);
  });

  it('binds the code to its client', async () => {
    const code = await authorize(sim);
    const stolen = await exchangeCode(sim, code, { client_id: other.client_id, client_secret: other.client_secret });
    expect(stolen.status).toBe(400);
    expect(stolen.body.error).toBe('invalid_grant');
  });

  it('refuses a wrong client secret with 401 unauthorized_client', async () => {
    const refused = await exchangeCode(sim, await authorize(sim), { client_secret: 'guess' });
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ error: 'unauthorized_client', error_description: expect.any(String), error_details: {} });
  });

  it('refuses an unknown client with 401 unauthorized_client', async () => {
    const refused = await exchangeCode(sim, 'F'.repeat(64), { client_id: 'nobody' });
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('unauthorized_client');
  });

  it('answers 400 invalid_request when grant_type is missing', async () => {
    const refused = await postToken(sim, { client_id: clientId, client_secret: clientSecret });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_request');
  });

  it('answers 400 unsupported_grant_type for client_credentials', async () => {
    const refused = await postToken(sim, {
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      scope: 'payments',
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('unsupported_grant_type');
  });

  it('answers 400, not 500, to a malformed JSON body', async () => {
    const response = await fetch(`${sim.url}/connect/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"grant_type": ',
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('answers 400 when the code field is missing', async () => {
    const refused = await postToken(sim, {
      grant_type: 'authorization_code',
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uri: redirectUri,
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_request');
  });
});

describe('the authorizationCodeError option', () => {
  it('names a reused code invalid_authorization_code when asked to', async () => {
    const { sim: strict } = await startHarness({ authorizationCodeError: 'invalid_authorization_code' });
    try {
      const code = await authorize(strict);
      await exchangeCode(strict, code);
      const again = await exchangeCode(strict, code);
      expect(again.status).toBe(400);
      expect(again.body.error).toBe('invalid_authorization_code');
    } finally {
      await strict.close();
    }
  });
});

describe('refresh_token grant', () => {
  it('returns a new access token and a new refresh token', async () => {
    const first = await connect(sim);
    const refreshed = await refresh(sim, first.refresh_token ?? '');
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toEqual({
      access_token: expect.any(String),
      expires_in: 3600,
      token_type: 'Bearer',
      refresh_token: expect.any(String),
      scope: allScopes,
    });
    expect(refreshed.body.refresh_token).not.toBe(first.refresh_token);
    expect(subOf(refreshed.body.access_token)).toBe(subOf(first.access_token));
  });

  it('kills the old refresh token after rotation (400 invalid_grant)', async () => {
    const first = await connect(sim);
    await refresh(sim, first.refresh_token ?? '');
    const reused = await refresh(sim, first.refresh_token ?? '');
    expect(reused.status).toBe(400);
    expect(reused.body.error).toBe('invalid_grant');
  });

  it('accepts only the newest access token of a connection', async () => {
    const first = await connect(sim);
    const refreshed = await refresh(sim, first.refresh_token ?? '');
    const stale = await dataGet(sim, '/me', first.access_token);
    expect(stale.status).toBe(401);
    expect(stale.body.error).toBe('unauthorized');
    expect((await dataGet(sim, '/me', refreshed.body.access_token)).status).toBe(200);
  });

  it('refuses a refresh token issued to another client', async () => {
    const first = await connect(sim);
    const stolen = await refresh(sim, first.refresh_token ?? '', { client_id: other.client_id, client_secret: other.client_secret });
    expect(stolen.status).toBe(400);
    expect(stolen.body.error).toBe('invalid_grant');
  });

  it('keeps working when used within 30 days each time', async () => {
    let tokens = await connect(sim);
    for (let round = 0; round < 2; round += 1) {
      clock.advance(29 * day);
      const refreshed = await refresh(sim, tokens.refresh_token ?? '');
      expect(refreshed.status).toBe(200);
      tokens = refreshed.body;
    }
  });

  it('dies after 30 days unused (400 invalid_grant)', async () => {
    const tokens = await connect(sim);
    clock.advance(30 * day + 1);
    const idle = await refresh(sim, tokens.refresh_token ?? '');
    expect(idle.status).toBe(400);
    expect(idle.body.error).toBe('invalid_grant');
  });

  it('is refused with 400 invalid_grant once the 90-day consent is over, however recently used', async () => {
    let tokens = await connect(sim);
    for (let round = 0; round < 3; round += 1) {
      clock.advance(29 * day);
      tokens = (await refresh(sim, tokens.refresh_token ?? '')).body;
    }
    clock.advance(3 * day);
    const over = await refresh(sim, tokens.refresh_token ?? '');
    expect(over.status).toBe(400);
    expect(over.body).toMatchObject({ error: 'invalid_grant', error_details: { reason: 'consent expired' } });
  });
});

describe('access tokens over time', () => {
  it('are accepted just before the hour is up', async () => {
    const tokens = await connect(sim);
    clock.advance(3590);
    expect((await dataGet(sim, '/me', tokens.access_token)).status).toBe(200);
  });

  it('are refused with 401 invalid_token after an hour', async () => {
    const tokens = await connect(sim);
    clock.advance(3601);
    const expired = await dataGet(sim, '/me', tokens.access_token);
    expect(expired.status).toBe(401);
    expect(expired.body.error).toBe('invalid_token');
    expect(expired.body.error_description).toMatch(/^The token expired at '\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z'$/);
  });

  it('get 403 access_denied on data once the 90-day consent is over', async () => {
    let tokens = await connect(sim);
    for (let round = 0; round < 3; round += 1) {
      clock.advance(29 * day);
      tokens = (await refresh(sim, tokens.refresh_token ?? '')).body;
    }
    clock.advance(3 * day - 600);
    tokens = (await refresh(sim, tokens.refresh_token ?? '')).body;
    expect((await dataGet(sim, '/accounts', tokens.access_token)).status).toBe(200);
    clock.advance(1200);
    const over = await dataGet(sim, '/accounts', tokens.access_token);
    expect(over.status).toBe(403);
    expect(over.body.error).toBe('access_denied');
  });
});

describe('stable refresh tokens (rotateRefreshTokens: false)', () => {
  it('returns the same refresh token, which keeps working', async () => {
    const { sim: stable } = await startHarness({ rotateRefreshTokens: false });
    try {
      const first = await connect(stable);
      const once = await refresh(stable, first.refresh_token ?? '');
      const twice = await refresh(stable, first.refresh_token ?? '');
      expect(once.body.refresh_token).toBe(first.refresh_token);
      expect(twice.status).toBe(200);
      expect(twice.body.refresh_token).toBe(first.refresh_token);
    } finally {
      await stable.close();
    }
  });

  it('still accepts only the newest access token', async () => {
    const { sim: stable } = await startHarness({ rotateRefreshTokens: false });
    try {
      const first = await connect(stable);
      const refreshed = await refresh(stable, first.refresh_token ?? '');
      expect((await dataGet(stable, '/me', first.access_token)).status).toBe(401);
      expect((await dataGet(stable, '/me', refreshed.body.access_token)).status).toBe(200);
    } finally {
      await stable.close();
    }
  });
});
