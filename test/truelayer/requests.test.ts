/** What the clients send TrueLayer and what they make of its 2xx answers, against a scripted stand-in. */
import { afterEach, describe, expect, it } from 'vitest';
import { TrueLayerAuthClient } from '../../shared/truelayer/auth-client';
import { TrueLayerDataClient } from '../../shared/truelayer/data-client';
import { type DataPath, parseDataPath } from '../../shared/truelayer/data-paths';
import { type Fixture, type FixtureHandler, fixedClock, sendJson, startFixture, testCredentials, tokenBody } from './fixture-server';

const accessToken = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXZhbHVl';
const clock = fixedClock();
const path = (proxy: string): DataPath => parseDataPath(proxy) as DataPath;

let fixture: Fixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});
const serve = async (handler: FixtureHandler): Promise<Fixture> => {
  fixture = await startFixture(handler);
  return fixture;
};
const ok: FixtureHandler = (_req, res) => sendJson(res, 200, { results: [], status: 'Succeeded' });

const dataClient = (url: string) => new TrueLayerDataClient({ apiUrl: `${url}/`, credentials: testCredentials, clock, timeoutMs: 2000 });
const authClient = (url: string) => new TrueLayerAuthClient({ authUrl: url, credentials: testCredentials, clock, timeoutMs: 2000 });

describe('token requests', () => {
  it('exchanges a code with a form-encoded authorization_code grant', async () => {
    const server = await serve((_req, res) => sendJson(res, 200, tokenBody()));
    await authClient(server.url).exchangeCode({ code: 'the-code', redirectUri: 'https://app.example.com/cb?x=1&y=2' });
    const [request] = server.requests;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/connect/token');
    expect(request?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(request?.body))).toEqual({
      grant_type: 'authorization_code',
      client_id: 'sandbox-fixture',
      client_secret: 'fixture-secret-value',
      redirect_uri: 'https://app.example.com/cb?x=1&y=2',
      code: 'the-code',
    });
  });

  it('refreshes with a form-encoded refresh_token grant', async () => {
    const server = await serve((_req, res) => sendJson(res, 200, tokenBody()));
    await authClient(server.url).refresh('old-refresh-token');
    expect(Object.fromEntries(new URLSearchParams(server.requests[0]?.body))).toEqual({
      grant_type: 'refresh_token',
      client_id: 'sandbox-fixture',
      client_secret: 'fixture-secret-value',
      refresh_token: 'old-refresh-token',
    });
  });

  it('turns the token answer into a TokenSet expiring expires_in after the clock', async () => {
    await serve((_req, res) => sendJson(res, 200, tokenBody({ expires_in: 1800 })));
    const tokens = await authClient(fixture?.url ?? '').refresh('old');
    expect(tokens).toEqual({
      accessToken: tokenBody().access_token,
      refreshToken: tokenBody().refresh_token,
      expiresAt: clock.now() + 1_800_000,
      scopes: ['info', 'accounts', 'balance', 'offline_access'],
    });
  });

  it('returns no refresh token when TrueLayer issued none (no offline_access)', async () => {
    await serve((_req, res) => sendJson(res, 200, tokenBody({ refresh_token: undefined, scope: 'info accounts' })));
    const tokens = await authClient(fixture?.url ?? '').exchangeCode({ code: 'c', redirectUri: 'https://app/cb' });
    expect(tokens.refreshToken).toBeUndefined();
    expect(tokens.scopes).toEqual(['info', 'accounts']);
  });

  it('revokes with DELETE /api/delete and the bearer token', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200);
      res.end();
    });
    await authClient(server.url).revoke(accessToken);
    expect(server.requests[0]).toMatchObject({ method: 'DELETE', url: '/api/delete' });
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${accessToken}`);
  });
});

describe('data requests', () => {
  it('GETs the path under /data/v1 with the bearer token', async () => {
    const server = await serve(ok);
    await dataClient(server.url).get(path('cards/card-9/transactions/pending'), { accessToken });
    expect(server.requests[0]).toMatchObject({ method: 'GET', url: '/data/v1/cards/card-9/transactions/pending' });
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${accessToken}`);
  });

  it('forwards X-PSU-IP when given', async () => {
    const server = await serve(ok);
    await dataClient(server.url).get(path('accounts'), { accessToken, psuIp: '203.0.113.7' });
    expect(server.requests[0]?.headers['x-psu-ip']).toBe('203.0.113.7');
  });

  it('sends no X-PSU-IP when none is given', async () => {
    const server = await serve(ok);
    await dataClient(server.url).get(path('accounts'), { accessToken });
    expect(server.requests[0]?.headers['x-psu-ip']).toBeUndefined();
  });

  it('refuses a PSU IP that is not an IP address', async () => {
    const server = await serve(ok);
    await expect(dataClient(server.url).get(path('accounts'), { accessToken, psuIp: '1.2.3.4\r\nX-Evil: 1' })).rejects.toThrow(TypeError);
    expect(server.requests).toHaveLength(0);
  });

  it('forwards X-PSU-IP on /me as well', async () => {
    const server = await serve((_req, res) => sendJson(res, 200, { results: [{ credentials_id: 'cred-1', scopes: ['info'] }] }));
    await dataClient(server.url).me(accessToken, { psuIp: '2001:db8::1' });
    expect(server.requests[0]?.headers['x-psu-ip']).toBe('2001:db8::1');
  });

  it('sends from and to on a transactions path, encoded', async () => {
    const server = await serve(ok);
    await dataClient(server.url).get(path('accounts/a1/transactions'), {
      accessToken,
      query: { from: '2024-01-01', to: '2024-01-31T23:59:59+01:00' },
    });
    const url = new URL(server.requests[0]?.url ?? '', 'http://x');
    expect(url.pathname).toBe('/data/v1/accounts/a1/transactions');
    expect(url.searchParams.get('from')).toBe('2024-01-01');
    expect(url.searchParams.get('to')).toBe('2024-01-31T23:59:59+01:00');
  });

  it('sends no query on a path that takes none', async () => {
    const server = await serve(ok);
    await dataClient(server.url).get(path('accounts/a1/balance'), { accessToken, query: { from: '2024-01-01' } });
    expect(server.requests[0]?.url).toBe('/data/v1/accounts/a1/balance');
  });

  it('refuses a hand-built path that is not one of the fourteen', async () => {
    const server = await serve(ok);
    const forged: DataPath = { ...path('accounts/a1'), path: 'accounts/../../connect/token' };
    await expect(dataClient(server.url).get(forged, { accessToken })).rejects.toThrow(TypeError);
    expect(server.requests).toHaveLength(0);
  });

  it('returns TrueLayer body as is with only the three passed headers', async () => {
    const body = { results: [{ account_id: 'a1', display_name: 'Club Lloyds' }], status: 'Succeeded' };
    const server = await serve((_req, res) =>
      sendJson(res, 200, body, {
        'cache-control': 'max-age=60',
        'x-tl-correlation-id': 'corr-1',
        'x-credentials-id': 'cred-secret-ish',
        'set-cookie': 'a=b',
      }),
    );
    const response = await dataClient(server.url).get(path('accounts/a1'), { accessToken });
    expect(response).toEqual({
      status: 200,
      body,
      headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'max-age=60', 'x-tl-correlation-id': 'corr-1' },
    });
  });
});

describe('/me', () => {
  it('maps TrueLayer fields to Me', async () => {
    await serve((_req, res) =>
      sendJson(res, 200, {
        results: [
          {
            client_id: 'test',
            credentials_id: '6L7RxyPKX0THy1tw93PB4V+8DB+KjnX9Pxa451yXPu0=',
            consent_status: 'Authorised',
            consent_created_at: '2020-05-24T14:44:40.077Z',
            consent_expires_at: '2020-08-24T14:44:40.077Z',
            provider: { display_name: 'Lloyds Bank', logo_uri: 'https://auth.truelayer.com/img/lloyds.svg', provider_id: 'lloyds' },
            scopes: ['info', 'accounts'],
            privacy_policy: 'Feb2019',
          },
        ],
      }),
    );
    expect(await dataClient(fixture?.url ?? '').me(accessToken)).toEqual({
      credentialsId: '6L7RxyPKX0THy1tw93PB4V+8DB+KjnX9Pxa451yXPu0=',
      consentCreatedAt: '2020-05-24T14:44:40.077Z',
      consentExpiresAt: '2020-08-24T14:44:40.077Z',
      provider: { providerId: 'lloyds', displayName: 'Lloyds Bank', logoUri: 'https://auth.truelayer.com/img/lloyds.svg' },
      scopes: ['info', 'accounts'],
    });
  });
});

describe('extend', () => {
  const input = {
    refreshToken: 'rt-1',
    redirectUri: 'https://app/cb',
    user: { id: 'u-1', name: 'Jane Doe', email: 'jane@example.com' },
    state: 's-1',
    responseMode: 'form_post' as const,
  };

  it('POSTs the reconfirmed-consent JSON body with the client credentials', async () => {
    const server = await serve((_req, res) =>
      sendJson(res, 200, { action_needed: 'authentication_needed', user_input_link: 'https://bank.example/sca' }),
    );
    await dataClient(server.url).extend(input);
    expect(server.requests[0]).toMatchObject({ method: 'POST', url: '/data/v1/connections/extend' });
    expect(server.requests[0]?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(server.requests[0]?.body ?? '')).toEqual({
      user_has_reconfirmed_consent: true,
      client_id: 'sandbox-fixture',
      client_secret: 'fixture-secret-value',
      user: { id: 'u-1', name: 'Jane Doe', email: 'jane@example.com' },
      refresh_token: 'rt-1',
      redirect_uri: 'https://app/cb',
      state: 's-1',
      response_mode: 'form_post',
    });
  });

  it('returns new tokens for no_action_needed', async () => {
    await serve((_req, res) =>
      sendJson(res, 200, {
        action_needed: 'no_action_needed',
        access_token: 'at-2',
        expires_in: 3600,
        refresh_token: 'rt-2',
        token_type: 'Bearer',
      }),
    );
    expect(await dataClient(fixture?.url ?? '').extend(input)).toEqual({
      action: 'no_action_needed',
      tokens: { accessToken: 'at-2', refreshToken: 'rt-2', expiresAt: clock.now() + 3_600_000, scopes: [] },
    });
  });

  it('reports reconfirmation_of_consent_needed as a link to follow', async () => {
    await serve((_req, res) =>
      sendJson(res, 200, {
        action_needed: 'reconfirmation_of_consent_needed',
        user_input_link: 'https://login.truelayer.com/?session_id=auth-abc123',
      }),
    );
    expect(await dataClient(fixture?.url ?? '').extend(input)).toEqual({
      action: 'authentication_needed',
      userInputLink: 'https://login.truelayer.com/?session_id=auth-abc123',
    });
  });

  it('refuses a user_input_link that is not http(s)', async () => {
    await serve((_req, res) => sendJson(res, 200, { action_needed: 'authentication_needed', user_input_link: 'javascript:alert(1)' }));
    await expect(dataClient(fixture?.url ?? '').extend(input)).rejects.toMatchObject({ code: 'invalid_response', kind: 'upstream' });
  });

  it('refuses an unknown action', async () => {
    await serve((_req, res) => sendJson(res, 200, { action_needed: 'something_new' }));
    await expect(dataClient(fixture?.url ?? '').extend(input)).rejects.toMatchObject({ code: 'invalid_response' });
  });
});
