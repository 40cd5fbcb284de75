/**
 * A local stand-in for TrueLayer's auth server and Data API v1, for `npm start` and the tests: one node:http server
 * with the auth dialog, `/connect/token`, `/api/delete`, the Data API, extend, and test controls.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdjustableClock } from '../../shared/clock';
import { closeServer, httpOrigin, listen } from '../http';
import { handleDialogPage, handleDialogSubmit } from './auth-dialog';
import { MockBankDirectory } from './bank-data';
import type { SimContext } from './context';
import type { Fault } from './controls';
import { SimControls } from './controls';
import { createDataApi, matchDataTemplate } from './data-api';
import { defaultErrorForStatus, defaultProblemForStatus } from './errors';
import { handleExtend } from './extend';
import type { SimRequest } from './http';
import { BodyTooLargeError, readBody, sendJson } from './http';
import { handleProviders } from './providers';
import { uuid } from './random';
import { handleRevoke } from './revoke';
import { knownScopes } from './scopes';
import { SimStore } from './store';
import { grantTypeOf, handleToken } from './token-endpoint';
import { TokenSigner } from './tokens';
import type { RunningSimulator, SimClient, SimulatorOptions } from './types';

export type { RunningSimulator, SimClient, SimulatorOptions } from './types';

/** The one client the simulator knows by default; the local stack adds its own callback URLs to it. */
export const defaultSimClient: Readonly<SimClient> = Object.freeze({
  client_id: 'sandbox-local',
  client_secret: 'local-secret',
  redirect_uris: ['http://127.0.0.1:3000/callback', 'http://localhost:3000/callback', 'https://console.truelayer.com/redirect-page'],
});

export const extendPath = '/data/v1/connections/extend';

/** Thrown by startSimulator when the port is taken; `code` mirrors Node's. */
export class SimulatorPortInUseError extends Error {
  override name = 'SimulatorPortInUseError';
  readonly code = 'EADDRINUSE';

  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    super(`port ${port} on ${host} is already in use`);
  }
}

type Area = 'auth' | 'data' | 'extend';

const areaOf = (path: string): Area => (path === extendPath ? 'extend' : path.startsWith('/data/') ? 'data' : 'auth');

const sendFault = (request: SimRequest, res: ServerResponse, fault: Fault & { status: number }): void => {
  const area = areaOf(request.path);
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (area === 'data') {
    const correlationId = uuid();
    headers['x-tl-correlation-id'] = correlationId;
    headers['x-request-id'] = correlationId;
  }
  if (typeof fault.body === 'string') {
    // A string body goes out as is, to imitate the HTML or text error pages of gateways and proxies.
    const payload = Buffer.from(fault.body, 'utf8');
    res.writeHead(fault.status, {
      ...headers,
      'content-type': fault.body.trimStart().startsWith('<') ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8',
      'content-length': String(payload.length),
    });
    res.end(payload);
    return;
  }
  if (area === 'extend' && fault.status >= 400) {
    const body = fault.body ?? defaultProblemForStatus(fault.status, uuid());
    sendJson(request.raw, res, fault.status, body, { headers, contentType: 'application/problem+json; charset=utf-8' });
    return;
  }
  const body = fault.body ?? defaultErrorForStatus(fault.status, area === 'auth' ? 'auth' : 'data');
  sendJson(request.raw, res, fault.status, body, { headers });
};

export const startSimulator = async (options: SimulatorOptions = {}): Promise<RunningSimulator> => {
  // A simulator on its own keeps its own clock; the local stack hands it the one it shares.
  const clock = options.clock ?? new AdjustableClock();
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? 3100;
  const clients = (options.clients ?? [defaultSimClient]).map((client) => ({ ...client, redirect_uris: [...client.redirect_uris] }));
  const store = new SimStore(clock, clients);
  if (options.extraRedirectUris !== undefined && options.extraRedirectUris.length > 0) {
    const target = clients.find((client) => client.client_id === defaultSimClient.client_id) ?? clients[0];
    if (target !== undefined) store.addRedirectUris(target.client_id, options.extraRedirectUris);
  }
  const signer = await TokenSigner.create();
  let baseUrl = '';
  const ctx: SimContext = {
    store,
    signer,
    banks: new MockBankDirectory(),
    rotateRefreshTokens: options.rotateRefreshTokens ?? true,
    codeErrorCode: options.authorizationCodeError ?? 'invalid_grant',
    baseUrl: () => baseUrl,
  };
  const controls = new SimControls(() => store.clearUnattendedCalls());
  const dataApi = createDataApi(ctx);

  const count = (request: SimRequest): void => {
    if (request.path === '/connect/token' && request.method === 'POST') return controls.countToken(grantTypeOf(request));
    if (request.path === extendPath) return controls.countExtend();
    if (request.path === '/api/delete') return controls.countDelete();
    const template = matchDataTemplate(request.path);
    if (template !== undefined) controls.countData(template);
  };

  const route = async (request: SimRequest, res: ServerResponse): Promise<void> => {
    const { method, path } = request;
    if (path === '/' && (method === 'GET' || method === 'HEAD')) return handleDialogPage(ctx, request, res);
    if (path === '/' && method === 'POST') return handleDialogSubmit(ctx, request, res);
    if (path === '/connect/token' && method === 'POST') return handleToken(ctx, request, res);
    if (path === extendPath && method === 'POST') return handleExtend(ctx, request, res);
    if (path === '/api/delete' && method === 'DELETE') return handleRevoke(ctx, request, res);
    if (path === '/.well-known/openid-configuration' && method === 'GET') {
      return sendJson(request.raw, res, 200, {
        issuer: baseUrl,
        jwks_uri: `${baseUrl}/.well-known/openid-configuration/jwks`,
        authorization_endpoint: `${baseUrl}/`,
        token_endpoint: `${baseUrl}/connect/token`,
        scopes_supported: [...knownScopes],
        response_types_supported: ['code'],
        response_modes_supported: ['query', 'form_post'],
        grant_types_supported: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      });
    }
    if (path === '/.well-known/openid-configuration/jwks' && method === 'GET')
      return sendJson(request.raw, res, 200, { keys: [signer.publicJwk] });
    if (path === '/api/providers' && method === 'GET') return handleProviders(request, res, clock.now());
    if (await dataApi.handle(request, res)) return;
    const known = ['/', '/connect/token', extendPath, '/api/delete'].includes(path);
    sendJson(request.raw, res, known ? 405 : 404, {
      error: known ? 'method_not_allowed' : 'not_found',
      error_description: `No route for ${method} ${path}.`,
    });
  };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    let rawBody: string;
    try {
      rawBody = await readBody(req);
    } catch (error) {
      if (error instanceof BodyTooLargeError)
        return sendJson(req, res, 413, { error: 'invalid_request', error_description: 'The request body is over 1 MiB.' });
      throw error;
    }
    const request: SimRequest = { raw: req, method: req.method ?? 'GET', url, path: url.pathname, headers: req.headers, rawBody };
    if (request.path === '/__sim' || request.path.startsWith('/__sim/')) return controls.handle(request, res);

    // Counted before faults: stats report every request received, faulted ones included.
    count(request);
    const fault = controls.takeFault(request.path);
    if (fault !== undefined) {
      // A Data API call is checked (token, limits) on arrival and its answer held back, as behind
      // TrueLayer's gateway a slow bank delays the answer, not the token check.
      if (
        fault.delay_ms !== undefined &&
        fault.delay_ms > 0 &&
        fault.status === undefined &&
        !fault.reset &&
        areaOf(request.path) === 'data'
      ) {
        return answerLate(request, res, fault.delay_ms);
      }
      if (fault.delay_ms !== undefined && fault.delay_ms > 0) await sleep(fault.delay_ms);
      // A fault answers before any processing, so a faulted token call changes no token state...
      if (fault.status !== undefined) return sendFault(request, res, { ...fault, status: fault.status });
      // ...except a reset, which processes the call and then drops the connection unanswered.
      if (fault.reset) return processThenReset(request, res);
    }
    await route(request, res);
  };

  /** The call is processed now; its answer (sent with `end`) leaves after `delayMs`. */
  const answerLate = async (request: SimRequest, res: ServerResponse, delayMs: number): Promise<void> => {
    const due = sleep(delayMs);
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    let ended: Promise<void> = Promise.resolve();
    Object.assign(res, {
      end: (...args: unknown[]) => {
        ended = due.then(() => {
          end(...args);
        });
        return res;
      },
    });
    await route(request, res);
    await ended;
  };

  /** The call takes effect as usual, but its answer is discarded and the client gets a TCP reset. */
  const processThenReset = async (request: SimRequest, res: ServerResponse): Promise<void> => {
    const socket = request.raw.socket;
    const discard = function (this: ServerResponse) {
      return this;
    };
    Object.assign(res, { writeHead: discard, setHeader: discard, write: () => true, end: discard, flushHeaders: () => undefined });
    await route(request, res);
    socket.resetAndDestroy();
  };

  const server = createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`TrueLayer simulator: unexpected error on ${req.method ?? '?'} ${(req.url ?? '').split('?')[0]}: ${message}\n`);
      if (!res.headersSent)
        sendJson(req, res, 500, { error: 'internal_server_error', error_description: 'Internal server error.', error_details: {} });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;

  const { port } = await listen(server, requestedPort, host).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'EADDRINUSE' ? new SimulatorPortInUseError(host, requestedPort) : error;
  });
  baseUrl = httpOrigin(host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host, port);
  signer.setIssuer(baseUrl);

  return {
    url: baseUrl,
    port,
    addRedirectUris: (clientId, uris) => store.addRedirectUris(clientId, uris),
    reset: () => controls.reset(),
    close: () => closeServer(server),
  };
};
