import { afterEach, describe, expect, it } from 'vitest';
import { TrueLayerAuthClient } from '../../shared/truelayer/auth-client';
import { TrueLayerDataClient } from '../../shared/truelayer/data-client';
import { type DataPath, parseDataPath } from '../../shared/truelayer/data-paths';
import type { TrueLayerError } from '../../shared/truelayer/errors';
import {
  caught,
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
const noRetry = { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 };
const clock = fixedClock();
const balancePath = parseDataPath('accounts/acc-1/balance') as DataPath;

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
  new TrueLayerDataClient({ apiUrl: url, credentials: testCredentials, clock, timeoutMs, retry: noRetry });
const authClient = (url: string, timeoutMs = 2000) =>
  new TrueLayerAuthClient({ authUrl: url, credentials: testCredentials, clock, timeoutMs, retry: noRetry });

describe('TrueLayer error mapping', () => {
  it('maps a 400 invalid_grant on refresh to a rejected error with TrueLayer code', async () => {
    const { url } = await serve((_req, res) => sendJson(res, 400, { error: 'invalid_grant' }));
    const error = await caught(authClient(url).refresh(refreshToken));
    expect(error).toMatchObject({ status: 400, code: 'invalid_grant', kind: 'rejected', operation: 'token' });
    expect(error.description).toBeUndefined();
  });

  it('keeps error_description as the description', async () => {
    const { url } = await serve((_req, res) => sendTrueLayerError(res, 400, 'invalid_client', 'The client is not valid.'));
    const error = await caught(authClient(url).exchangeCode({ code: 'code-123456', redirectUri: 'https://app/cb' }));
    expect(error).toMatchObject({ status: 400, code: 'invalid_client', description: 'The client is not valid.' });
  });

  it('maps a 401 from the Data API to a rejected unauthorized error', async () => {
    const { url } = await serve((_req, res) => sendTrueLayerError(res, 401, 'unauthorized', 'Invalid access token.'));
    const error = await caught(dataClient(url).get(balancePath, { accessToken }));
    expect(error).toMatchObject({ status: 401, code: 'unauthorized', kind: 'rejected', operation: 'data' });
  });

  it('maps a 403 access_denied', async () => {
    const { url } = await serve((_req, res) => sendTrueLayerError(res, 403, 'access_denied', 'Consent expired or revoked.'));
    const error = await caught(dataClient(url).get(balancePath, { accessToken }));
    expect(error).toMatchObject({ status: 403, code: 'access_denied', kind: 'rejected' });
  });

  it('maps a 404 account_not_found', async () => {
    const { url } = await serve((_req, res) => sendTrueLayerError(res, 404, 'account_not_found', 'account not found'));
    const error = await caught(dataClient(url).get(balancePath, { accessToken }));
    expect(error).toMatchObject({ status: 404, code: 'account_not_found', description: 'account not found' });
  });

  it('maps a 429 and reads Retry-After in seconds', async () => {
    const { url } = await serve((_req, res) =>
      sendTrueLayerError(res, 429, 'provider_request_limit_exceeded', 'Maximum number of requests per user allowed by provider exceeded.', {
        'retry-after': '120',
      }),
    );
    const error = await caught(dataClient(url).get(balancePath, { accessToken }));
    expect(error).toMatchObject({ status: 429, code: 'provider_request_limit_exceeded', kind: 'rejected', retryAfterSeconds: 120 });
  });

  it('reads a Retry-After given as an HTTP date against the injected clock', async () => {
    const at = new Date(clock.now() + 30_000).toUTCString();
    const { url } = await serve((_req, res) =>
      sendTrueLayerError(res, 429, 'provider_too_many_requests', 'Provider rate limit exceeded.', { 'retry-after': at }),
    );
    const error = await caught(dataClient(url).get(balancePath, { accessToken }));
    expect(error.retryAfterSeconds).toBe(30);
  });

  it('leaves retryAfterSeconds unset when TrueLayer sends no Retry-After', async () => {
    const { url } = await serve((_req, res) => sendTrueLayerError(res, 429, 'provider_too_many_requests', 'Provider rate limit exceeded.'));
    const error = await caught(dataClient(url).get(balancePath, { accessToken }));
    expect(error.retryAfterSeconds).toBeUndefined();
  });

  it('maps a 501 endpoint_not_supported to an upstream error', async () => {
    const { url } = await serve((_req, res) =>
      sendTrueLayerError(res, 501, 'endpoint_not_supported', 'Feature not supported by the provider'),
    );
    const error = await caught(dataClient(url).get(balancePath, { accessToken }));
    expect(error).toMatchObject({ status: 501, code: 'endpoint_not_supported', kind: 'upstream' });
  });

  it('maps a 503 to an upstream error once retries are spent', async () => {
    const { url } = await serve((_req, res) => sendTrueLayerError(res, 503, 'provider_error', 'The provider service is unavailable.'));
    const error = await caught(dataClient(url).get(balancePath, { accessToken }));
    expect(error).toMatchObject({ status: 503, code: 'provider_error', kind: 'upstream', attempts: 1 });
  });

  it('names a status code when the error body is not JSON', async () => {
    const { url } = await serve((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>Bad gateway</html>');
    });
    const error = await caught(dataClient(url).get(balancePath, { accessToken }));
    expect(error).toMatchObject({ status: 502, code: 'bad_gateway', kind: 'upstream' });
  });

  it('turns a timeout into kind timeout with status 0', async () => {
    const { url } = await serve(() => undefined); // never answers
    const error = await caught(dataClient(url, 150).get(balancePath, { accessToken }));
    expect(error).toMatchObject({ status: 0, code: 'timeout', kind: 'timeout' });
  });

  it('turns a refused connection into kind network with status 0', async () => {
    const { closedPortUrl } = await import('./fixture-server');
    const error = await caught(dataClient(await closedPortUrl()).get(balancePath, { accessToken }));
    expect(error).toMatchObject({ status: 0, code: 'network_error', kind: 'network' });
  });

  it('treats a 2xx token answer without expires_in as an upstream failure', async () => {
    const { url } = await serve((_req, res) => sendJson(res, 200, tokenBody({ expires_in: undefined })));
    const error = await caught(authClient(url).refresh(refreshToken));
    expect(error).toMatchObject({ status: 200, code: 'invalid_response', kind: 'upstream' });
  });

  it('treats a non-integer expires_in as an upstream failure', async () => {
    const { url } = await serve((_req, res) => sendJson(res, 200, tokenBody({ expires_in: '3600' })));
    const error = await caught(authClient(url).refresh(refreshToken));
    expect(error.code).toBe('invalid_response');
  });

  it('treats a 2xx data answer that is not JSON as an upstream failure', async () => {
    const { url } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>maintenance</html>');
    });
    const error = await caught(dataClient(url).get(balancePath, { accessToken }));
    expect(error).toMatchObject({ status: 200, code: 'invalid_response', kind: 'upstream' });
  });

  it('treats a /me answer without results as an upstream failure', async () => {
    const { url } = await serve((_req, res) => sendJson(res, 200, { results: [], status: 'Succeeded' }));
    const error = await caught(dataClient(url).me(accessToken));
    expect(error).toMatchObject({ code: 'invalid_response', kind: 'upstream', operation: 'me' });
  });

  it('maps an extend problem+json to its title and detail', async () => {
    const { url } = await serve((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/problem+json' });
      res.end(
        JSON.stringify({
          type: 'https://docs.truelayer.com/#connection-api-errors',
          title: 'Unauthorized',
          status: 401,
          detail: 'Refresh token missing or invalid.',
          instance: '/connections/extend',
          trace_id: 't-1',
        }),
      );
    });
    const error = await caught(
      dataClient(url).extend({ refreshToken, redirectUri: 'https://app/cb', user: { name: 'Jane Doe', email: 'jane@example.com' } }),
    );
    expect(error).toMatchObject({
      status: 401,
      code: 'Unauthorized',
      description: 'Refresh token missing or invalid.',
      kind: 'rejected',
      operation: 'extend',
    });
  });

  it('summarises extend validation errors when the problem has no detail', async () => {
    const { url } = await serve((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/problem+json' });
      res.end(
        JSON.stringify({
          title: 'One or more validation errors occurred.',
          status: 400,
          errors: { ClientId: ['The ClientId field is required.'] },
        }),
      );
    });
    const error = await caught(
      dataClient(url).extend({ refreshToken, redirectUri: 'https://app/cb', user: { name: 'Jane Doe', email: 'jane@example.com' } }),
    );
    expect(error).toMatchObject({
      code: 'One or more validation errors occurred.',
      description: 'ClientId: The ClientId field is required.',
    });
  });

  it('keeps the correlation id TrueLayer sent', async () => {
    const { url } = await serve((_req, res) =>
      sendTrueLayerError(res, 500, 'internal_server_error', 'Internal server error.', {
        'x-tl-correlation-id': '3dc845a2-93a2-4e12-940a-0a8aec24d0bc',
      }),
    );
    const error = await caught(dataClient(url).get(balancePath, { accessToken }));
    expect(error.correlationId).toBe('3dc845a2-93a2-4e12-940a-0a8aec24d0bc');
  });
});

describe('secrets never surface in errors', () => {
  const leakyHandler: FixtureHandler = (req, res) => {
    // A worst case: an upstream that echoes everything it received.
    sendTrueLayerError(res, 400, 'invalid_grant', `bad request: ${req.body} ${req.headers.authorization ?? ''}`);
  };

  const secretsIn = (error: TrueLayerError): string => JSON.stringify({ ...error.toJSON(), message: error.message, stack: error.stack });

  it('scrubs the refresh token and client secret echoed back by the token endpoint', async () => {
    const { url } = await serve(leakyHandler);
    const error = await caught(authClient(url).refresh(refreshToken));
    const text = secretsIn(error);
    expect(text).not.toContain(refreshToken);
    expect(text).not.toContain('fixture-secret-value');
    expect(error.description).toContain('[redacted]');
  });

  it('scrubs the authorization code echoed back by the token endpoint', async () => {
    const code = 'single-use-code-value';
    const { url } = await serve(leakyHandler);
    const error = await caught(authClient(url).exchangeCode({ code, redirectUri: 'https://app/cb' }));
    expect(secretsIn(error)).not.toContain(code);
  });

  it('scrubs the access token echoed back by the Data API', async () => {
    const { url } = await serve(leakyHandler);
    const error = await caught(dataClient(url).get(balancePath, { accessToken }));
    expect(secretsIn(error)).not.toContain(accessToken);
    expect(secretsIn(error)).not.toContain('eyJ');
  });

  it('scrubs a token-shaped value in a malformed 2xx body', async () => {
    const { url } = await serve((_req, res) => sendJson(res, 200, { access_token: accessToken, expires_in: 'soon', token_type: 'Bearer' }));
    const error = await caught(authClient(url).refresh(refreshToken));
    expect(secretsIn(error)).not.toContain(accessToken);
    expect(error.description).toContain('expires_in');
  });

  it('keeps the message free of upstream descriptions', async () => {
    const { url } = await serve((_req, res) => sendTrueLayerError(res, 400, 'invalid_grant', 'anything at all'));
    const error = await caught(authClient(url).refresh(refreshToken));
    expect(error.message).toBe('TrueLayer token request was rejected (400 invalid_grant)');
  });
});
