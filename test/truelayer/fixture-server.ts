/**
 * A tiny stand-in for TrueLayer over real HTTP, for the answers the simulator cannot be asked for
 * (resets, malformed bodies, exact headers). Each test scripts the answers it needs.
 */

import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TrueLayerError } from '../../shared/truelayer/errors';

export interface RecordedRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** `index` counts requests from 0. */
export type FixtureHandler = (
  request: RecordedRequest,
  response: ServerResponse,
  index: number,
  raw: IncomingMessage,
) => void | Promise<void>;

export interface Fixture {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export const startFixture = async (handler: FixtureHandler): Promise<Fixture> => {
  const requests: RecordedRequest[] = [];
  const server = createServer((raw, response) => {
    const chunks: Buffer[] = [];
    raw.on('data', (chunk: Buffer) => chunks.push(chunk));
    raw.on('end', () => {
      const request: RecordedRequest = {
        method: raw.method ?? '',
        url: raw.url ?? '',
        headers: raw.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(request);
      Promise.resolve(handler(request, response, requests.length - 1, raw)).catch((error: unknown) => {
        response.statusCode = 599;
        response.end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};

export const sendJson = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  response.end(JSON.stringify(body));
};

/** TrueLayer's error body for a status, as its spec's examples write it. */
export const sendTrueLayerError = (
  response: ServerResponse,
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): void => sendJson(response, status, { error, error_description: description, error_details: {} }, headers);

/** An address on which nothing listens: a port we held and let go. */
export const closedPortUrl = async (): Promise<string> => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
};

export const tokenBody = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  access_token: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJmaXh0dXJlIn0.c2lnbmF0dXJl',
  expires_in: 3600,
  token_type: 'Bearer',
  refresh_token: 'REFRESH0123456789ABCDEF0123456789ABCDEF',
  scope: 'info accounts balance offline_access',
  ...overrides,
});

export const fixedClock = (now = Date.parse('2025-03-01T12:00:00Z')) => ({ now: () => now });

export const testCredentials = { get: async () => ({ clientId: 'sandbox-fixture', clientSecret: 'fixture-secret-value' }) };

/** The TrueLayerError a call rejects with; anything else (or success) fails the test. */
export const caught = async (promise: Promise<unknown>): Promise<TrueLayerError> => {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TrueLayerError) return error;
    throw error;
  }
  throw new Error('expected a TrueLayerError');
};
