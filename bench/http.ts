/** The bench's HTTP helpers: timed GETs, and a client journey of its own against the simulator. */
import { performance } from 'node:perf_hooks';
import type { TestApi } from '../test/support/flow';

/**
 * A documentation address (RFC 5737) sent as X-PSU-IP on every data call: the user is "present",
 * so the simulator's unattended 4-calls-a-day limit never trips during the bench.
 */
export const psuIp = '203.0.113.10';

export interface TimedResponse {
  status: number;
  ms: number;
}

/** One GET, timed until its body is read in full. */
export const timedGet = async (url: string, headers: Record<string, string>): Promise<TimedResponse> => {
  const started = performance.now();
  const response = await fetch(url, { headers });
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started };
};

/** The simulator's registered redirect that is not our callback, so this journey never touches the service. */
const directRedirectUri = 'https://console.truelayer.com/redirect-page';

/**
 * Connects the mock bank as a separate client journey straight against the simulator (auth dialog,
 * then `POST /connect/token`) and returns the access token, for calls that bypass the service.
 */
export const directAccessToken = async (api: TestApi, simUrl: string, scopes: readonly string[]): Promise<string> => {
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: 'sandbox-local',
    redirect_uri: directRedirectUri,
    scope: scopes.join(' '),
    state: `bench-${Date.now()}`,
    providers: 'uk-cs-mock',
  });
  const step = await api.authorize(`${simUrl}/?${params.toString()}`);
  const code = step.location ? new URL(step.location).searchParams.get('code') : null;
  if (!code) throw new Error('the simulator dialog gave no code to the direct journey');
  const response = await fetch(`${simUrl}/connect/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: 'sandbox-local',
      client_secret: 'local-secret',
      redirect_uri: directRedirectUri,
      code,
    }),
  });
  const body = (await response.json()) as { access_token?: unknown };
  if (response.status !== 200 || typeof body.access_token !== 'string')
    throw new Error(`the direct code exchange answered ${response.status}`);
  return body.access_token;
};

/** All TrueLayer calls the simulator has counted: token grants, Data API reads, extends, deletes. */
export const truelayerCallCount = (stats: Awaited<ReturnType<TestApi['simStats']>>): number =>
  stats.token.authorization_code +
  stats.token.refresh_token +
  Object.values(stats.data).reduce((total, count) => total + count, 0) +
  stats.extend +
  stats.delete;
