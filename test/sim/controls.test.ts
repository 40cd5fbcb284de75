/** The `/__sim` controls: request counts and injected faults. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../local/sim/types';
import type { Tokens } from './helpers';
import { addFault, authorize, connect, dataGet, exchangeCode, refresh, simJson, startHarness } from './helpers';

let sim: RunningSimulator;
let tokens: Tokens;
let accountId: string;

beforeAll(async () => {
  ({ sim } = await startHarness());
  tokens = await connect(sim);
  accountId = (await dataGet(sim, '/accounts', tokens.access_token)).body.results[0].account_id as string;
});

afterAll(async () => {
  await sim.close();
});

beforeEach(async () => {
  expect((await fetch(`${sim.url}/__sim/reset`, { method: 'POST' })).status).toBe(204);
});

const stats = async () => (await simJson(sim, '/__sim/stats')).body;

describe('GET /__sim/stats', () => {
  it('starts from zero after a reset', async () => {
    expect(await stats()).toEqual({ token: { authorization_code: 0, refresh_token: 0 }, data: {}, extend: 0, delete: 0 });
  });

  it('counts token requests by grant type', async () => {
    const fresh = await connect(sim);
    await refresh(sim, fresh.refresh_token ?? '');
    await refresh(sim, 'unknown-refresh-token');
    expect((await stats()).token).toEqual({ authorization_code: 1, refresh_token: 2 });
  });

  it('counts data requests by the spec’s path template, failed ones included', async () => {
    await dataGet(sim, `/accounts/${accountId}/balance`, tokens.access_token);
    await dataGet(sim, `/accounts/${accountId}/balance`, undefined);
    await dataGet(sim, '/accounts/nope/transactions?from=2025-01-01', tokens.access_token);
    expect((await stats()).data).toEqual({ '/data/v1/accounts/{account_id}/balance': 2, '/data/v1/accounts/{account_id}/transactions': 1 });
  });

  it('counts extend and delete calls', async () => {
    await fetch(`${sim.url}/data/v1/connections/extend`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await fetch(`${sim.url}/api/delete`, { method: 'DELETE' });
    expect(await stats()).toMatchObject({ extend: 1, delete: 1 });
  });

  it('counts faulted calls', async () => {
    await addFault(sim, { path: '/data/v1/me', status: 503 });
    await dataGet(sim, '/me', tokens.access_token);
    expect((await stats()).data).toEqual({ '/data/v1/me': 1 });
  });
});

describe('POST /__sim/faults', () => {
  it('answers matching calls with the status and TrueLayer’s body for it', async () => {
    expect((await addFault(sim, { path: '/data/v1/accounts', status: 503 })).status).toBe(201);
    const faulted = await dataGet(sim, '/accounts', tokens.access_token);
    expect(faulted.status).toBe(503);
    expect(faulted.body).toEqual({ error: 'provider_error', error_description: 'The provider service is unavailable.', error_details: {} });
    expect(faulted.headers.get('x-tl-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    [500, 'internal_server_error'],
    [501, 'endpoint_not_supported'],
    [504, 'provider_timeout'],
    [429, 'provider_too_many_requests'],
    [401, 'unauthorized'],
    [403, 'access_denied'],
  ])('gives status %i the body error %s by default', async (status, error) => {
    await addFault(sim, { path: '/data/v1/info', status });
    const faulted = await dataGet(sim, '/info', tokens.access_token);
    expect(faulted.status).toBe(status);
    expect(faulted.body.error).toBe(error);
  });

  it('answers with the given body', async () => {
    await addFault(sim, { path: '/data/v1/info', status: 503, body: { error: 'temporarily_unavailable', error_description: 'down' } });
    const faulted = await dataGet(sim, '/info', tokens.access_token);
    expect(faulted.body).toEqual({ error: 'temporarily_unavailable', error_description: 'down' });
  });

  it('sends a string body as is, like a gateway’s HTML error page', async () => {
    await addFault(sim, { path: '/data/v1/info', status: 502, body: '<html>Bad gateway</html>' });
    const response = await fetch(`${sim.url}/data/v1/info`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(response.status).toBe(502);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await response.text()).toBe('<html>Bad gateway</html>');
  });

  it('answers normally after the delay when only delay_ms is given', async () => {
    await addFault(sim, { path: '/data/v1/me', delay_ms: 300 });
    const started = performance.now();
    const response = await dataGet(sim, '/me', tokens.access_token);
    expect(response.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('stops after `times` calls', async () => {
    await addFault(sim, { path: '/data/v1/me', status: 500, times: 2 });
    const statuses = [];
    for (let call = 0; call < 3; call += 1) statuses.push((await dataGet(sim, '/me', tokens.access_token)).status);
    expect(statuses).toEqual([500, 500, 200]);
  });

  it('faults a fraction of calls with `rate`, the first one included', async () => {
    await addFault(sim, { path: '/data/v1/me', status: 503, rate: 0.5 });
    const statuses = [];
    for (let call = 0; call < 4; call += 1) statuses.push((await dataGet(sim, '/me', tokens.access_token)).status);
    expect(statuses).toEqual([503, 200, 503, 200]);
  });

  it('matches any rest of the path after a trailing *', async () => {
    await addFault(sim, { path: '/data/v1/accounts*', status: 503 });
    expect((await dataGet(sim, '/accounts', tokens.access_token)).status).toBe(503);
    expect((await dataGet(sim, `/accounts/${accountId}/balance`, tokens.access_token)).status).toBe(503);
    expect((await dataGet(sim, '/cards', tokens.access_token)).status).toBe(200);
  });

  it('matches only the exact path without a *', async () => {
    await addFault(sim, { path: '/data/v1/accounts', status: 503 });
    expect((await dataGet(sim, `/accounts/${accountId}`, tokens.access_token)).status).toBe(200);
  });

  it('faults the token endpoint before any processing, so the code stays usable', async () => {
    const code = await authorize(sim);
    await addFault(sim, { path: '/connect/token', status: 500, times: 1 });
    const faulted = await exchangeCode(sim, code);
    expect(faulted.status).toBe(500);
    expect(faulted.body.error).toBe('internal_server_error');
    expect((await exchangeCode(sim, code)).status).toBe(200);
  });

  it('faults a refresh without rotating the refresh token', async () => {
    const fresh = await connect(sim);
    await addFault(sim, { path: '/connect/token', status: 503, times: 1 });
    expect((await refresh(sim, fresh.refresh_token ?? '')).status).toBe(503);
    expect((await refresh(sim, fresh.refresh_token ?? '')).status).toBe(200);
  });

  it('checks a delayed Data API call on arrival and holds back only its answer', async () => {
    const fresh = await connect(sim);
    await addFault(sim, { path: '/data/v1/accounts', delay_ms: 400, times: 1 });
    const read = dataGet(sim, '/accounts', fresh.access_token);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // A refresh while the answer is held back: only the new access token passes from now on.
    expect((await refresh(sim, fresh.refresh_token ?? '')).status).toBe(200);
    expect((await read).status).toBe(200);
    expect((await dataGet(sim, '/accounts', fresh.access_token)).status).toBe(401);
  });

  it('with reset: processes a refresh (rotating the pair) and then resets the connection unanswered', async () => {
    const fresh = await connect(sim);
    await addFault(sim, { path: '/connect/token', reset: true, times: 1 });
    const error = await refresh(sim, fresh.refresh_token ?? '').then(
      () => undefined,
      (cause: unknown) => cause,
    );
    expect(error).toBeInstanceOf(TypeError);
    // The refresh took effect: the old refresh token was rotated away, and it was counted.
    const again = await refresh(sim, fresh.refresh_token ?? '');
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
    expect((await stats()).token.refresh_token).toBe(2);
  });

  it('faults /api/delete, leaving the connection alive', async () => {
    const fresh = await connect(sim);
    await addFault(sim, { path: '/api/delete', status: 500, times: 1 });
    const response = await fetch(`${sim.url}/api/delete`, { method: 'DELETE', headers: { authorization: `Bearer ${fresh.access_token}` } });
    expect(response.status).toBe(500);
    expect((await dataGet(sim, '/me', fresh.access_token)).status).toBe(200);
  });

  it('faults extend with a problem+json body', async () => {
    await addFault(sim, { path: '/data/v1/connections/extend', status: 503 });
    const response = await fetch(`${sim.url}/data/v1/connections/extend`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(((await response.json()) as { status: number }).status).toBe(503);
  });

  it('never faults /__sim itself', async () => {
    await addFault(sim, { path: '/*', status: 503 });
    expect((await simJson(sim, '/__sim/stats')).status).toBe(200);
  });

  it.each([
    ['no path', { status: 503 }],
    ['a path without a leading /', { path: 'data/v1/me', status: 503 }],
    ['neither status nor delay', { path: '/data/v1/me' }],
    ['a body without a status', { path: '/data/v1/me', body: {} }],
    ['a rate above 1', { path: '/data/v1/me', status: 503, rate: 2 }],
    ['a status out of range', { path: '/data/v1/me', status: 99 }],
    ['times of zero', { path: '/data/v1/me', status: 503, times: 0 }],
    ['an unknown field', { path: '/data/v1/me', status: 503, statuss: 1 }],
    ['a * in the middle', { path: '/data/*/me', status: 503 }],
    ['a /__sim path', { path: '/__sim/stats', status: 503 }],
    ['a reset with a status', { path: '/connect/token', reset: true, status: 503 }],
    ['a reset that is not true', { path: '/connect/token', reset: false }],
  ])('refuses a fault with %s (400)', async (_case, fault) => {
    const refused = await addFault(sim, fault);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_fault');
  });

  it('refuses a body that is not JSON (400)', async () => {
    const response = await fetch(`${sim.url}/__sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'path=/x',
    });
    expect(response.status).toBe(400);
  });
});

describe('clearing', () => {
  it('DELETE /__sim/faults removes every fault', async () => {
    await addFault(sim, { path: '/data/v1/*', status: 503 });
    expect((await fetch(`${sim.url}/__sim/faults`, { method: 'DELETE' })).status).toBe(204);
    expect((await dataGet(sim, '/me', tokens.access_token)).status).toBe(200);
  });

  it('POST /__sim/reset clears faults and counts but keeps issued tokens', async () => {
    await addFault(sim, { path: '/data/v1/*', status: 503 });
    await dataGet(sim, '/me', tokens.access_token);
    await fetch(`${sim.url}/__sim/reset`, { method: 'POST' });
    expect((await stats()).data).toEqual({});
    expect((await dataGet(sim, '/me', tokens.access_token)).status).toBe(200);
  });

  it('reset() on the running simulator does the same', async () => {
    await addFault(sim, { path: '/data/v1/*', status: 503 });
    sim.reset();
    expect((await dataGet(sim, '/me', tokens.access_token)).status).toBe(200);
    expect((await stats()).data).toEqual({ '/data/v1/me': 1 });
  });
});

describe('everything else', () => {
  it('answers 404 JSON for an unknown path', async () => {
    const response = await simJson(sim, '/nowhere');
    expect(response.status).toBe(404);
    expect(response.body.error).toBe('not_found');
  });

  it('answers 404 JSON for an unknown control', async () => {
    expect((await simJson(sim, '/__sim/nothing')).status).toBe(404);
  });

  it('publishes its signing keys', async () => {
    const jwks = (await simJson(sim, '/.well-known/openid-configuration/jwks')).body;
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: expect.any(String) });
    expect(jwks.keys[0].d).toBeUndefined();
  });
});
