/** The TrueLayer clients against the simulator over real HTTP: the flows the service depends on. */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator } from '../../local/sim/index';
import type { RunningSimulator } from '../../local/sim/types';
import { AdjustableClock } from '../../shared/clock';
import { type TokenSet, TrueLayerAuthClient } from '../../shared/truelayer/auth-client';
import type { ClientCredentialsSource } from '../../shared/truelayer/client-credentials';
import { TrueLayerDataClient } from '../../shared/truelayer/data-client';
import { type DataPath, parseDataPath } from '../../shared/truelayer/data-paths';
import { dataScopes } from '../../shared/truelayer/scopes';
import { caught } from './fixture-server';

const redirectUri = 'https://console.truelayer.com/redirect-page';
const credentials: ClientCredentialsSource = { get: async () => ({ clientId: 'sandbox-local', clientSecret: 'local-secret' }) };
const retry = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };
const day = 24 * 60 * 60 * 1000;

let sim: RunningSimulator;
let clock: AdjustableClock;
let auth: TrueLayerAuthClient;
let data: TrueLayerDataClient;

beforeAll(async () => {
  clock = new AdjustableClock();
  sim = await startSimulator({ port: 0, clock });
  auth = new TrueLayerAuthClient({ authUrl: sim.url, credentials, clock, timeoutMs: 5000, retry });
  data = new TrueLayerDataClient({ apiUrl: sim.url, credentials, clock, timeoutMs: 5000, retry });
});

afterAll(async () => {
  await sim?.close();
});

beforeEach(() => {
  sim.reset();
});

const path = (proxy: string): DataPath => {
  const parsed = parseDataPath(proxy);
  if (!parsed) throw new Error(`test path ${proxy} must parse`);
  return parsed;
};

/** Walks the auth dialog as a browser would: open the link, sign in as a mock user, Allow. */
const authorize = async (options: { username?: string; password?: string; scopes?: string[] } = {}): Promise<string> => {
  const state = `state-${Math.random().toString(36).slice(2)}`;
  const link = await auth.authLink({
    redirectUri,
    scopes: options.scopes ?? [...dataScopes],
    state,
    providers: 'uk-ob-all uk-oauth-all uk-cs-mock',
  });
  const dialog = await fetch(link);
  expect(dialog.status).toBe(200);
  const sessionId = /name="session_id" value="([^"]+)"/.exec(await dialog.text())?.[1];
  if (!sessionId) throw new Error('the dialog page carries no session_id');
  const submitted = await fetch(`${sim.url}/`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      session_id: sessionId,
      provider_id: 'mock',
      username: options.username ?? 'john',
      password: options.password ?? 'doe',
      action: 'allow',
    }).toString(),
  });
  expect(submitted.status).toBe(302);
  const back = new URL(submitted.headers.get('location') ?? '');
  expect(back.searchParams.get('state')).toBe(state);
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`no code on the redirect: ${back.searchParams.get('error') ?? ''}`);
  return code;
};

const connect = async (options: Parameters<typeof authorize>[0] = {}): Promise<TokenSet> =>
  auth.exchangeCode({ code: await authorize(options), redirectUri });

interface SimStats {
  token: { authorization_code: number; refresh_token: number };
  data: Record<string, number>;
  extend: number;
  delete: number;
}
const stats = async (): Promise<SimStats> => (await fetch(`${sim.url}/__sim/stats`)).json() as Promise<SimStats>;
const fault = async (spec: Record<string, unknown>): Promise<void> => {
  const response = await fetch(`${sim.url}/__sim/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(spec),
  });
  expect(response.ok).toBe(true);
};

describe('code exchange', () => {
  it('returns an access token, a refresh token, the granted scopes and an expiry one hour after the clock', async () => {
    const before = clock.now();
    const tokens = await connect();
    expect(tokens.accessToken.split('.')).toHaveLength(3);
    expect(tokens.refreshToken).toEqual(expect.any(String));
    expect([...tokens.scopes].sort()).toEqual([...dataScopes].sort());
    expect(tokens.expiresAt - before).toBeGreaterThanOrEqual(3600 * 1000);
    expect(tokens.expiresAt - clock.now()).toBeLessThanOrEqual(3600 * 1000);
  });

  it('gives no refresh token without offline_access', async () => {
    const tokens = await connect({ scopes: ['info', 'accounts', 'balance'] });
    expect(tokens.refreshToken).toBeUndefined();
  });

  it('refuses a code used twice, with a 400', async () => {
    const code = await authorize();
    await auth.exchangeCode({ code, redirectUri });
    const error = await caught(auth.exchangeCode({ code, redirectUri }));
    expect(error).toMatchObject({ status: 400, kind: 'rejected', operation: 'token' });
    expect(['invalid_grant', 'invalid_authorization_code']).toContain(error.code);
  });

  it('refuses a code older than five minutes', async () => {
    const code = await authorize();
    clock.advance(6 * 60);
    const error = await caught(auth.exchangeCode({ code, redirectUri }));
    expect(error.status).toBe(400);
  });
});

describe('refresh', () => {
  it('returns a new access token and a new refresh token', async () => {
    const first = await connect();
    const second = await auth.refresh(first.refreshToken as string);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.refreshToken).toEqual(expect.any(String));
  });

  it('is refused with invalid_grant for a rotated-out refresh token', async () => {
    const first = await connect();
    await auth.refresh(first.refreshToken as string);
    const error = await caught(auth.refresh(first.refreshToken as string));
    expect(error).toMatchObject({ status: 400, code: 'invalid_grant', kind: 'rejected' });
  });

  it('is refused with invalid_grant once the 90-day consent has passed', async () => {
    const tokens = await connect();
    clock.advance((91 * day) / 1000);
    const error = await caught(auth.refresh(tokens.refreshToken as string));
    expect(error).toMatchObject({ status: 400, code: 'invalid_grant' });
  });
});

describe('revoke', () => {
  it('deletes the connection, after which its tokens no longer work', async () => {
    const tokens = await connect();
    await auth.revoke(tokens.accessToken);
    expect((await stats()).delete).toBe(1);
    const error = await caught(auth.refresh(tokens.refreshToken as string));
    expect(error.status).toBe(400);
  });
});

describe('/me', () => {
  it('describes the connection: credentials id, provider, scopes and consent dates', async () => {
    const tokens = await connect();
    const me = await data.me(tokens.accessToken);
    expect(me.credentialsId).toEqual(expect.any(String));
    expect(me.provider?.providerId).toBe('mock');
    expect([...me.scopes].sort()).toEqual([...dataScopes].sort());
    const created = Date.parse(me.consentCreatedAt ?? '');
    const expires = Date.parse(me.consentExpiresAt ?? '');
    expect(expires - created).toBeGreaterThanOrEqual(90 * day);
  });
});

describe('data reads', () => {
  it('lists accounts and reads one account balance and transactions', async () => {
    const tokens = await connect();
    const accounts = await data.get(path('accounts'), { accessToken: tokens.accessToken, psuIp: '203.0.113.9' });
    expect(accounts.status).toBe(200);
    expect(accounts.headers['content-type']).toMatch(/^application\/json/);
    const results = (accounts.body as { results: { account_id: string }[] }).results;
    expect(results.length).toBeGreaterThan(0);
    const accountId = results[0]?.account_id as string;
    const balance = await data.get(path(`accounts/${accountId}/balance`), { accessToken: tokens.accessToken, psuIp: '203.0.113.9' });
    expect((balance.body as { results: unknown[] }).results).toHaveLength(1);
    const transactions = await data.get(path(`accounts/${accountId}/transactions`), {
      accessToken: tokens.accessToken,
      psuIp: '203.0.113.9',
      query: { from: new Date(clock.now() - 30 * day).toISOString().slice(0, 10), to: new Date(clock.now()).toISOString().slice(0, 10) },
    });
    expect((transactions.body as { status: string }).status).toBe('Succeeded');
  });

  it('maps an unknown account to 404 account_not_found', async () => {
    const tokens = await connect();
    const error = await caught(
      data.get(path('accounts/no-such-account/balance'), { accessToken: tokens.accessToken, psuIp: '203.0.113.9' }),
    );
    expect(error).toMatchObject({ status: 404, code: 'account_not_found', kind: 'rejected' });
  });

  it('maps a data call on a revoked connection to 403 access_denied', async () => {
    const tokens = await connect();
    await auth.revoke(tokens.accessToken);
    const error = await caught(data.get(path('accounts'), { accessToken: tokens.accessToken, psuIp: '203.0.113.9' }));
    expect(error).toMatchObject({ status: 403, code: 'access_denied', kind: 'rejected' });
  });

  it('maps an expired access token to 401 invalid_token', async () => {
    const tokens = await connect();
    clock.advance(3601);
    const error = await caught(data.get(path('accounts'), { accessToken: tokens.accessToken, psuIp: '203.0.113.9' }));
    expect(error).toMatchObject({ status: 401, code: 'invalid_token', kind: 'rejected' });
  });

  it('maps a bad access token to 401', async () => {
    const error = await caught(data.get(path('accounts'), { accessToken: 'not-a-token' }));
    expect(error).toMatchObject({ status: 401, kind: 'rejected' });
  });

  it('is held to four unattended calls a day without X-PSU-IP', async () => {
    const tokens = await connect();
    for (let call = 0; call < 4; call += 1) await data.get(path('accounts'), { accessToken: tokens.accessToken });
    const error = await caught(data.get(path('accounts'), { accessToken: tokens.accessToken }));
    expect(error).toMatchObject({ status: 429, code: 'provider_request_limit_exceeded' });
  });

  it('forwards X-PSU-IP, so user-present calls pass the unattended limit', async () => {
    const tokens = await connect();
    for (let call = 0; call < 6; call += 1) {
      const response = await data.get(path('accounts'), { accessToken: tokens.accessToken, psuIp: '198.51.100.4' });
      expect(response.status).toBe(200);
    }
  });

  it('maps a mock provider_error user to a 503 provider_error after retrying', async () => {
    const tokens = await connect({ username: 'error.provider_error', password: 'error' });
    const error = await caught(data.get(path('accounts'), { accessToken: tokens.accessToken, psuIp: '203.0.113.9' }));
    expect(error).toMatchObject({ status: 503, code: 'provider_error', kind: 'upstream', attempts: 3 });
    expect((await stats()).data['/data/v1/accounts']).toBe(3);
  });
});

describe('extend', () => {
  const user = { name: 'Jane Doe', email: 'jane@example.com' };

  it('needs authentication for an ordinary mock user', async () => {
    const tokens = await connect();
    const result = await data.extend({ refreshToken: tokens.refreshToken as string, redirectUri, user });
    expect(result.action).toBe('authentication_needed');
    if (result.action === 'authentication_needed') expect(new URL(result.userInputLink).protocol).toMatch(/^https?:$/);
  });

  it('needs no action for john/eternal and returns fresh tokens', async () => {
    const tokens = await connect({ password: 'eternal' });
    const result = await data.extend({ refreshToken: tokens.refreshToken as string, redirectUri, user });
    expect(result.action).toBe('no_action_needed');
    if (result.action === 'no_action_needed') {
      expect(result.tokens.accessToken).not.toBe(tokens.accessToken);
      expect(result.tokens.refreshToken).toEqual(expect.any(String));
      expect(result.tokens.expiresAt).toBeGreaterThan(clock.now());
    }
  });

  it('maps an unknown refresh token to a rejected problem', async () => {
    const error = await caught(data.extend({ refreshToken: 'no-such-refresh-token', redirectUri, user }));
    expect(error).toMatchObject({ status: 401, kind: 'rejected', operation: 'extend' });
  });
});

describe('faults injected at the simulator', () => {
  it('a GET that fails twice with 503 then succeeds returns the data after three attempts', async () => {
    const tokens = await connect();
    await fault({ path: '/data/v1/accounts', status: 503, times: 2 });
    const response = await data.get(path('accounts'), { accessToken: tokens.accessToken, psuIp: '203.0.113.9' });
    expect(response.status).toBe(200);
    expect((await stats()).data['/data/v1/accounts']).toBe(3);
  });

  it('a refresh that times out is not retried', async () => {
    const tokens = await connect();
    const impatient = new TrueLayerAuthClient({ authUrl: sim.url, credentials, clock, timeoutMs: 200, retry });
    await fault({ path: '/connect/token', delay_ms: 1000, times: 1 });
    const error = await caught(impatient.refresh(tokens.refreshToken as string));
    expect(error).toMatchObject({ kind: 'timeout', status: 0 });
    expect((await stats()).token.refresh_token).toBe(1);
  });

  it('a refresh answered with 400 is not retried', async () => {
    const tokens = await connect();
    await fault({ path: '/connect/token', status: 400, body: { error: 'invalid_grant' }, times: 3 });
    const error = await caught(auth.refresh(tokens.refreshToken as string));
    expect(error).toMatchObject({ status: 400, code: 'invalid_grant' });
    expect((await stats()).token.refresh_token).toBe(1);
  });

  it('a refresh answered with 503 once is retried and succeeds', async () => {
    const tokens = await connect();
    await fault({ path: '/connect/token', status: 503, times: 1 });
    const refreshed = await auth.refresh(tokens.refreshToken as string);
    expect(refreshed.refreshToken).toEqual(expect.any(String));
    expect((await stats()).token.refresh_token).toBe(2);
  });

  it('a 501 from the Data API is surfaced without retry', async () => {
    const tokens = await connect();
    await fault({ path: '/data/v1/info', status: 501 });
    const error = await caught(data.get(path('info'), { accessToken: tokens.accessToken, psuIp: '203.0.113.9' }));
    expect(error).toMatchObject({ status: 501, code: 'endpoint_not_supported', kind: 'upstream' });
    expect((await stats()).data['/data/v1/info']).toBe(1);
  });

  it('a 429 from the Data API is surfaced without retry', async () => {
    const tokens = await connect();
    await fault({ path: '/data/v1/accounts*', status: 429 });
    const error = await caught(data.get(path('accounts'), { accessToken: tokens.accessToken, psuIp: '203.0.113.9' }));
    expect(error).toMatchObject({ status: 429, kind: 'rejected' });
    expect((await stats()).data['/data/v1/accounts']).toBe(1);
  });

  it('an extend answered with 503 once is retried', async () => {
    const tokens = await connect();
    await fault({ path: '/data/v1/connections/extend', status: 503, times: 1 });
    const result = await data.extend({
      refreshToken: tokens.refreshToken as string,
      redirectUri,
      user: { name: 'Jane Doe', email: 'jane@example.com' },
    });
    expect(result.action).toBe('authentication_needed');
    expect((await stats()).extend).toBe(2);
  });
});
