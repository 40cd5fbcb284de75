/**
 * The metrics and traces the deployed functions write, from the handlers themselves: the local stack
 * runs them in-process (as in test/events/invoke.test.ts) with EMF metrics on, and the EMF lines they
 * print are read back. What matters beyond the counts: no dimension (and no trace annotation) ever
 * holds a token, an authorization code, a state, or a user or connection id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdjustableClock } from '../../shared/clock';
import type { TracePort } from '../../shared/metrics';
import { metricNames } from '../../shared/metrics';
import { TrueLayerAuthClient } from '../../shared/truelayer/auth-client';
import { StaticCredentials } from '../../shared/truelayer/client-credentials';
import { TrueLayerDataClient } from '../../shared/truelayer/data-client';
import { parseDataPath } from '../../shared/truelayer/data-paths';
import { TestApi } from '../support/flow';

const namespace = 'TelemetryTest';
const user = 'telemetry-user-7f3a9c21';

interface EmfLine {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [key: string]: unknown;
}

let api: TestApi;
const printed: string[] = [];
let restore: () => void;

beforeAll(async () => {
  api = await TestApi.start({ env: { METRICS: 'emf', POWERTOOLS_METRICS_NAMESPACE: namespace } });
  // Powertools writes EMF through its own Console on process.stdout: read what it writes.
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    printed.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  restore = () => {
    process.stdout.write = write;
  };
});

afterAll(async () => {
  restore?.();
  await api?.close();
});

const emfLines = (): EmfLine[] =>
  printed
    .join('')
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as EmfLine);

/** Every metric value printed, as `Name{Dim=Value,…}` → summed value. */
const counts = (): Map<string, number> => {
  const result = new Map<string, number>();
  for (const line of emfLines()) {
    for (const directive of line._aws.CloudWatchMetrics) {
      expect(directive.Namespace).toBe(namespace);
      const dimensions = (directive.Dimensions[0] ?? []).filter((name) => name !== 'service').sort();
      for (const metric of directive.Metrics) {
        expect(metric.Unit).toBe('Count');
        const key = `${metric.Name}{${dimensions.map((name) => `${name}=${String(line[name])}`).join(',')}}`;
        const value = line[metric.Name];
        result.set(key, (result.get(key) ?? 0) + (Array.isArray(value) ? value.reduce((a: number, b: number) => a + b, 0) : Number(value)));
      }
    }
  }
  return result;
};

const secrets: string[] = [];

describe('EMF metrics from the handlers', () => {
  it('counts a created connection, the code exchange and the data call, a refresh, upstream failures by code, and a revoke', async () => {
    const created = await api.createConnection(user);
    const step = await api.authorize(created.auth_link);
    const sentTo = new URL(step.location!);
    secrets.push(sentTo.searchParams.get('code')!, sentTo.searchParams.get('state')!, created.connection_id, user);
    const callback = await api.deliverCallback(step);
    expect(callback.status).toBe(302);
    const completionCode = new URL(callback.headers.get('location')!).searchParams.get('completion_code')!;
    secrets.push(completionCode);
    const id = created.connection_id;
    expect((await api.complete(user, id, completionCode)).status).toBe(200);

    expect((await api.call('GET', `/connections/${id}/accounts`, { sub: user })).status).toBe(200);
    // Past the access token's hour: the next read refreshes first.
    api.advance(2 * 60 * 60);
    expect((await api.call('GET', `/connections/${id}/accounts`, { sub: user })).status).toBe(200);
    await api.simFault({ path: '/data/v1/accounts*', status: 503, times: 10 });
    expect((await api.call('GET', `/connections/${id}/accounts`, { sub: user })).status).toBeGreaterThanOrEqual(500);
    await api.simReset();
    expect((await api.call('DELETE', `/connections/${id}`, { sub: user })).status).toBe(204);

    const seen = counts();
    expect(seen.get(`${metricNames.connectionsCreated}{}`)).toBe(1);
    expect(seen.get(`${metricNames.connectionsCompleted}{}`)).toBe(1);
    expect(seen.get(`${metricNames.connectionsRevoked}{}`)).toBe(1);
    expect(seen.get(`${metricNames.refreshes}{Outcome=ok}`)).toBe(1);
    expect(seen.get(`${metricNames.upstreamCalls}{StatusClass=2xx}`)).toBeGreaterThanOrEqual(4);
    expect(seen.get(`${metricNames.upstreamCalls}{StatusClass=5xx}`)).toBe(1);
    // TrueLayer's own error code, as the problem's upstream_code shows it.
    expect(seen.get(`${metricNames.upstreamErrors}{Code=provider_error,Operation=data,Status=503}`)).toBe(1);
  });

  it('holds no token, code, state, user id or connection id in any dimension', () => {
    const lines = emfLines();
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      const dimensionNames = line._aws.CloudWatchMetrics.flatMap((directive) => directive.Dimensions.flat());
      for (const name of dimensionNames) {
        const value = String(line[name]);
        expect(value, name).toMatch(/^[A-Za-z0-9_.:-]{1,48}$/);
        expect(value.startsWith('eyJ'), name).toBe(false);
      }
      const text = JSON.stringify(line);
      for (const secret of secrets) expect(text.includes(secret), 'a secret or id in an EMF line').toBe(false);
      expect(/eyJ[A-Za-z0-9_-]{10,}/.test(text)).toBe(false);
    }
  });
});

describe('TrueLayer calls as trace subsegments', () => {
  it('annotate operation, status and attempts only: never the token, code or secret sent', async () => {
    const recorded: { name: string; annotations: Record<string, unknown> }[] = [];
    const trace: TracePort = {
      async subsegment(name, work) {
        const entry = { name, annotations: {} as Record<string, unknown> };
        recorded.push(entry);
        return work((key, value) => {
          entry.annotations[key] = value;
        });
      },
    };
    const clock = new AdjustableClock();
    const credentials = new StaticCredentials({ clientId: 'sandbox-local', clientSecret: 'local-secret' });
    const auth = new TrueLayerAuthClient({ authUrl: api.stack.simUrl, credentials, clock, timeoutMs: 5_000, telemetry: { trace } });
    const data = new TrueLayerDataClient({ apiUrl: api.stack.simUrl, credentials, clock, timeoutMs: 5_000, telemetry: { trace } });
    const refreshToken = 'refresh-token-that-must-not-be-traced-0123456789';
    const code = 'authorization-code-that-must-not-be-traced-0123';
    const accessToken = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJub3QtdHJhY2VkIn0.c2lnbmF0dXJl';
    await auth.refresh(refreshToken).catch(() => undefined);
    await auth.exchangeCode({ code, redirectUri: `${api.stack.apiUrl}/callback` }).catch(() => undefined);
    await data.get(parseDataPath('accounts')!, { accessToken }).catch(() => undefined);

    expect(recorded.map((entry) => entry.name)).toEqual(['TrueLayer token', 'TrueLayer token', 'TrueLayer data']);
    for (const entry of recorded) {
      expect(Object.keys(entry.annotations).sort()).toEqual(expect.arrayContaining(['operation', 'status']));
      for (const key of Object.keys(entry.annotations)) expect(['operation', 'status', 'attempts']).toContain(key);
      const text = JSON.stringify(entry);
      for (const secret of [refreshToken, code, accessToken, 'local-secret']) expect(text.includes(secret)).toBe(false);
    }
    expect(recorded[0]?.annotations.status).toBe(400);
  });
});
