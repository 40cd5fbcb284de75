import { afterEach, describe, expect, it } from 'vitest';
import { TrueLayerAuthClient } from '../../shared/truelayer/auth-client';
import { TrueLayerDataClient } from '../../shared/truelayer/data-client';
import { type DataPath, parseDataPath } from '../../shared/truelayer/data-paths';
import { backoffDelayMs, resolveRetryPolicy } from '../../shared/truelayer/retry';
import {
  caught,
  closedPortUrl,
  type Fixture,
  type FixtureHandler,
  fixedClock,
  sendJson,
  sendTrueLayerError,
  startFixture,
  testCredentials,
  tokenBody,
} from './fixture-server';

const accessToken = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXZhbHVl';
const refreshToken = 'RT-5F2A9C1E7B3D4F60A1B2C3D4E5F60718293A4B5C';
const retry = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };
const clock = fixedClock();
const balancePath = parseDataPath('accounts/acc-1/balance') as DataPath;
const balanceBody = { results: [{ currency: 'GBP', current: 1161.2, available: 2150.8 }], status: 'Succeeded' };
const extendInput = { refreshToken, redirectUri: 'https://app/cb', user: { name: 'Jane Doe', email: 'jane@example.com' } };

let fixture: Fixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

const serve = async (handler: FixtureHandler): Promise<Fixture> => {
  fixture = await startFixture(handler);
  return fixture;
};

const dataClient = (url: string, timeoutMs = 2000) =>
  new TrueLayerDataClient({ apiUrl: url, credentials: testCredentials, clock, timeoutMs, retry });
const authClient = (url: string, timeoutMs = 2000) =>
  new TrueLayerAuthClient({ authUrl: url, credentials: testCredentials, clock, timeoutMs, retry });

/** Answers the first `failures` requests with `fail`, the rest with `succeed`. */
const failThen =
  (failures: number, fail: FixtureHandler, succeed: FixtureHandler): FixtureHandler =>
  (req, res, index, raw) =>
    index < failures ? fail(req, res, index, raw) : succeed(req, res, index, raw);

const status =
  (code: number, error = 'provider_error', headers: Record<string, string> = {}): FixtureHandler =>
  (_req, res) =>
    sendTrueLayerError(res, code, error, 'scripted failure', headers);
const hang: FixtureHandler = () => undefined;
const reset: FixtureHandler = (_req, _res, _index, raw) => {
  raw.socket.resetAndDestroy();
};

describe('data GET retries', () => {
  it('succeeds after two 503s, on the third attempt', async () => {
    const server = await serve(failThen(2, status(503), (_req, res) => sendJson(res, 200, balanceBody)));
    const response = await dataClient(server.url).get(balancePath, { accessToken });
    expect(response.body).toEqual(balanceBody);
    expect(server.requests).toHaveLength(3);
  });

  it.each([500, 502, 504])('retries a %i', async (code) => {
    const server = await serve(failThen(1, status(code), (_req, res) => sendJson(res, 200, balanceBody)));
    await dataClient(server.url).get(balancePath, { accessToken });
    expect(server.requests).toHaveLength(2);
  });

  it('gives up after the configured attempts and reports them', async () => {
    const server = await serve(status(503));
    const error = await caught(dataClient(server.url).get(balancePath, { accessToken }));
    expect(error).toMatchObject({ status: 503, attempts: 3 });
    expect(server.requests).toHaveLength(3);
  });

  it('retries after a timeout', async () => {
    const server = await serve(failThen(1, hang, (_req, res) => sendJson(res, 200, balanceBody)));
    const response = await dataClient(server.url, 200).get(balancePath, { accessToken });
    expect(response.status).toBe(200);
    expect(server.requests).toHaveLength(2);
  });

  it('retries after a connection reset', async () => {
    const server = await serve(failThen(1, reset, (_req, res) => sendJson(res, 200, balanceBody)));
    await dataClient(server.url).get(balancePath, { accessToken });
    expect(server.requests).toHaveLength(2);
  });

  it.each([
    [400, 'invalid_date_range'],
    [401, 'unauthorized'],
    [403, 'access_denied'],
    [404, 'account_not_found'],
    [429, 'provider_too_many_requests'],
    [501, 'endpoint_not_supported'],
  ])('does not retry a %i', async (code, error) => {
    const server = await serve(status(code, error));
    const thrown = await caught(dataClient(server.url).get(balancePath, { accessToken }));
    expect(thrown.status).toBe(code);
    expect(server.requests).toHaveLength(1);
  });

  it('does not wait out a 503 whose Retry-After is longer than the policy allows', async () => {
    const server = await serve(status(503, 'provider_error', { 'retry-after': '60' }));
    const error = await caught(dataClient(server.url).get(balancePath, { accessToken }));
    expect(error.retryAfterSeconds).toBe(60);
    expect(server.requests).toHaveLength(1);
  });

  it('uses one attempt only when told to', async () => {
    const server = await serve(status(503));
    const client = new TrueLayerDataClient({
      apiUrl: server.url,
      credentials: testCredentials,
      clock,
      timeoutMs: 2000,
      retry: { attempts: 1 },
    });
    await caught(client.get(balancePath, { accessToken }));
    expect(server.requests).toHaveLength(1);
  });
});

describe('token call retries (not idempotent)', () => {
  it('does not retry a refresh that timed out', async () => {
    const server = await serve(failThen(1, hang, (_req, res) => sendJson(res, 200, tokenBody())));
    const error = await caught(authClient(server.url, 200).refresh(refreshToken));
    expect(error).toMatchObject({ kind: 'timeout', status: 0, attempts: 1 });
    expect(server.requests).toHaveLength(1);
  });

  it('does not retry a code exchange that timed out', async () => {
    const server = await serve(failThen(1, hang, (_req, res) => sendJson(res, 200, tokenBody())));
    const error = await caught(authClient(server.url, 200).exchangeCode({ code: 'code-1', redirectUri: 'https://app/cb' }));
    expect(error.kind).toBe('timeout');
    expect(server.requests).toHaveLength(1);
  });

  it('does not retry a 400', async () => {
    const server = await serve(status(400, 'invalid_grant'));
    await caught(authClient(server.url).refresh(refreshToken));
    expect(server.requests).toHaveLength(1);
  });

  it('does not retry a 500, which TrueLayer may have acted on', async () => {
    const server = await serve(failThen(1, status(500, 'internal_server_error'), (_req, res) => sendJson(res, 200, tokenBody())));
    const error = await caught(authClient(server.url).refresh(refreshToken));
    expect(error.status).toBe(500);
    expect(server.requests).toHaveLength(1);
  });

  it('retries a refresh answered with 503', async () => {
    const server = await serve(failThen(1, status(503, 'temporarily_unavailable'), (_req, res) => sendJson(res, 200, tokenBody())));
    const tokens = await authClient(server.url).refresh(refreshToken);
    expect(tokens.refreshToken).toBe(tokenBody().refresh_token);
    expect(server.requests).toHaveLength(2);
  });

  it('does not retry a refresh whose connection was reset before any answer: TrueLayer may have acted, so the outcome is unknown', async () => {
    const server = await serve(failThen(1, reset, (_req, res) => sendJson(res, 200, tokenBody())));
    const error = await caught(authClient(server.url).refresh(refreshToken));
    expect(error).toMatchObject({ kind: 'network', attempts: 1, outcomeUnknown: true });
    expect(server.requests).toHaveLength(1);
  });

  it('reports a timed-out refresh as an unknown outcome, and a refused connection as a known one', async () => {
    const server = await serve(hang);
    expect(await caught(authClient(server.url, 200).refresh(refreshToken))).toMatchObject({ kind: 'timeout', outcomeUnknown: true });
    expect(await caught(authClient(await closedPortUrl()).refresh(refreshToken))).toMatchObject({ kind: 'network', outcomeUnknown: false });
  });

  it('gives an extend the token-call timeout, not the data timeout', async () => {
    const server = await serve((_req, res) => {
      setTimeout(() => sendJson(res, 200, { action_needed: 'authentication_needed', user_input_link: 'https://bank.example/sca' }), 300);
    });
    const client = new TrueLayerDataClient({
      apiUrl: server.url,
      credentials: testCredentials,
      clock,
      timeoutMs: 100,
      tokenTimeoutMs: 2_000,
    });
    expect(await client.extend(extendInput)).toEqual({ action: 'authentication_needed', userInputLink: 'https://bank.example/sca' });
    const short = new TrueLayerDataClient({ apiUrl: server.url, credentials: testCredentials, clock, timeoutMs: 100 });
    expect(await caught(short.extend(extendInput))).toMatchObject({ kind: 'timeout', outcomeUnknown: true });
  });

  it('does not retry a refresh whose connection closed after it was sent, without an answer', async () => {
    const close: FixtureHandler = (_req, _res, _index, raw) => {
      raw.socket.destroy();
    };
    const server = await serve(failThen(1, close, (_req, res) => sendJson(res, 200, tokenBody())));
    const error = await caught(authClient(server.url).refresh(refreshToken));
    expect(error).toMatchObject({ kind: 'network', attempts: 1 });
    expect(server.requests).toHaveLength(1);
  });

  it('retries a refused connection up to the attempts, then reports a network error', async () => {
    const error = await caught(authClient(await closedPortUrl()).refresh(refreshToken));
    expect(error).toMatchObject({ kind: 'network', code: 'network_error', status: 0, attempts: 3 });
  });

  it('does not retry an extend that timed out', async () => {
    const server = await serve(hang);
    const error = await caught(dataClient(server.url, 200).extend(extendInput));
    expect(error.kind).toBe('timeout');
    expect(server.requests).toHaveLength(1);
  });

  it('retries an extend answered with 503', async () => {
    const server = await serve(
      failThen(1, status(503), (_req, res) =>
        sendJson(res, 200, { action_needed: 'authentication_needed', user_input_link: 'https://bank.example/sca' }),
      ),
    );
    const result = await dataClient(server.url).extend(extendInput);
    expect(result).toEqual({ action: 'authentication_needed', userInputLink: 'https://bank.example/sca' });
    expect(server.requests).toHaveLength(2);
  });

  it('does not retry a revoke answered with 500', async () => {
    const server = await serve(status(500, 'internal_server_error'));
    const error = await caught(authClient(server.url).revoke(accessToken));
    expect(error).toMatchObject({ status: 500, operation: 'revoke' });
    expect(server.requests).toHaveLength(1);
  });
});

describe('backoff', () => {
  const policy = resolveRetryPolicy({ baseDelayMs: 100, maxDelayMs: 1000 });

  it('grows exponentially up to the cap at the top of the jitter range', () => {
    const top = () => 0.999999;
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(n, policy, top))).toEqual([99, 199, 399, 799, 999]);
  });

  it('can wait as little as nothing (full jitter)', () => {
    expect(backoffDelayMs(4, policy, () => 0)).toBe(0);
  });

  it('defaults to three attempts, 100 ms base and 1 s cap', () => {
    expect(resolveRetryPolicy()).toEqual({ attempts: 3, baseDelayMs: 100, maxDelayMs: 1000 });
  });

  it('refuses zero attempts', () => {
    expect(() => resolveRetryPolicy({ attempts: 0 })).toThrow(RangeError);
  });
});

describe('a call with a deadline', () => {
  it('starts no retry that could not finish before the deadline, and answers what it has', async () => {
    const server = await serve(status(503));
    const error = await caught(dataClient(server.url).get(balancePath, { accessToken, deadline: Date.now() + 500 }));
    expect(error.status).toBe(503);
    expect(error.attempts).toBe(1);
  });

  it('cuts an attempt short at the deadline rather than at the timeout', async () => {
    const server = await serve(hang);
    const started = Date.now();
    const error = await caught(dataClient(server.url, 10_000).get(balancePath, { accessToken, deadline: Date.now() + 300 }));
    expect(error.kind).toBe('timeout');
    expect(error.attempts).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('still retries while there is time', async () => {
    const server = await serve(failThen(1, status(503), (_req, res) => sendJson(res, 200, balanceBody)));
    const response = await dataClient(server.url).get(balancePath, { accessToken, deadline: Date.now() + 10_000 });
    expect(response.body).toEqual(balanceBody);
  });
});
