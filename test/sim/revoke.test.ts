/** `DELETE /api/delete`: revoking a connection with its access token. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../local/sim/types';
import { connect, dataGet, refresh, startHarness } from './helpers';

let sim: RunningSimulator;

beforeAll(async () => {
  ({ sim } = await startHarness());
});

afterAll(async () => {
  await sim.close();
});

const revoke = (accessToken: string | undefined): Promise<Response> =>
  fetch(`${sim.url}/api/delete`, {
    method: 'DELETE',
    headers: accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` },
  });

describe('DELETE /api/delete', () => {
  it('answers 200 with an empty body', async () => {
    const tokens = await connect(sim);
    const response = await revoke(tokens.access_token);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
  });

  it('makes the refresh token fail with 400 invalid_grant', async () => {
    const tokens = await connect(sim);
    await revoke(tokens.access_token);
    const refused = await refresh(sim, tokens.refresh_token ?? '');
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
  });

  it('makes data calls fail with 403 access_denied', async () => {
    const tokens = await connect(sim);
    await revoke(tokens.access_token);
    const denied = await dataGet(sim, '/accounts', tokens.access_token);
    expect(denied.status).toBe(403);
    expect(denied.body.error).toBe('access_denied');
  });

  it('leaves other connections alone', async () => {
    const kept = await connect(sim);
    await revoke((await connect(sim)).access_token);
    expect((await dataGet(sim, '/accounts', kept.access_token)).status).toBe(200);
  });

  it('answers 200 again for a connection already revoked', async () => {
    const tokens = await connect(sim);
    await revoke(tokens.access_token);
    expect((await revoke(tokens.access_token)).status).toBe(200);
  });

  it('answers 401 unauthorized without a bearer token', async () => {
    const response = await revoke(undefined);
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: string }).error).toBe('unauthorized');
  });

  it('answers 401 unauthorized for a superseded access token, and revokes nothing', async () => {
    const first = await connect(sim);
    const refreshed = (await refresh(sim, first.refresh_token ?? '')).body as { access_token: string };
    expect((await revoke(first.access_token)).status).toBe(401);
    expect((await dataGet(sim, '/accounts', refreshed.access_token)).status).toBe(200);
  });
});
