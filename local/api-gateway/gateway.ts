/**
 * A local API Gateway HTTP API: a node:http server that routes like API Gateway, authorizes like
 * its JWT authorizer, and invokes handlers with payload 2.0 events, many at once like many
 * Lambda containers.
 */

import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, Context } from 'aws-lambda';
import type { Clock } from '../../shared/clock';
import { systemClock } from '../../shared/clock';
import { closeServer, httpOrigin, listen as listenOn, readBody } from '../http';
import { BadRequestError, buildEvent, newRequestId, splitTarget } from './event-builder';
import type { JwtAuthorization, JwtAuthorizerConfig } from './jwt-authorizer';
import { createJwtAuthorizer } from './jwt-authorizer';
import { createLambdaContext, newLogStreamName } from './lambda-context';
import type { HttpResponseData } from './response-mapper';
import { gatewayErrors, MalformedLambdaResponse, mapLambdaResult } from './response-mapper';
import type { GatewayRoute } from './route-matcher';
import { createRouteMatcher } from './route-matcher';

export type LambdaHandler = (
  event: APIGatewayProxyEventV2WithJWTAuthorizer,
  context: Context,
  callback: (error?: unknown, result?: unknown) => void,
) => unknown;

export interface LambdaFunction {
  handler: LambdaHandler;
  /** Defaults to the route's `function`. */
  functionName?: string;
  /** The function's own timeout. Defaults to 29; may exceed the gateway's `integrationTimeoutMs`. */
  timeoutSeconds?: number;
  memoryMb?: number;
}

/** A plain node:http handler for paths the route table does not own (local controls, static files). */
export interface RawRoute {
  method: string;
  /** Exact path, or a prefix when it ends with `*`. */
  path: string;
  handle: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
}

/** API Gateway's CORS configuration (CDK `corsPreflight`), answered by the gateway itself. */
export interface CorsConfig {
  allowOrigins: readonly string[];
  allowMethods?: readonly string[];
  allowHeaders?: readonly string[];
  exposeHeaders?: readonly string[];
  allowCredentials?: boolean;
  maxAgeSeconds?: number;
}

export interface ApiGatewayOptions<R extends GatewayRoute> {
  routes: readonly R[];
  /** Called on the first request to each function; the result is kept, like a warm container. */
  resolveHandler: (route: R) => LambdaFunction | Promise<LambdaFunction>;
  /** Required when any route has `auth: 'jwt'`. */
  jwt?: JwtAuthorizerConfig;
  /** Request time and token expiry read this clock. Default: the system clock. */
  clock?: Clock;
  /** Checked before the route table. */
  extraRoutes?: readonly RawRoute[];
  /** Tried when no route matches; returns true when it answered. */
  fallback?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
  cors?: CorsConfig;
  region?: string;
  accountId?: string;
  apiId?: string;
  /**
   * How long the gateway waits for a function before answering 503 `{"message":"Service Unavailable"}`
   * itself, as an HTTP API does; the invocation runs on to its own timeout. Default 29 s.
   */
  integrationTimeoutMs?: number;
  /** HTTP APIs refuse larger payloads with 413. Default 10 MB. */
  maxBodyBytes?: number;
  /** One line per request (never a query string, header or body) and handler errors. */
  log?: (line: string) => void;
}

export interface ApiGateway {
  /** The request listener, to mount on another server. */
  readonly handle: RequestListener;
  readonly server: Server;
  /** Set once listening, e.g. `http://127.0.0.1:3000`. */
  readonly url: string | undefined;
  listen(options?: { port?: number; host?: string }): Promise<string>;
  close(): Promise<void>;
}

const defaultMaxBodyBytes = 10 * 1024 * 1024;
const defaultTimeoutSeconds = 29;
const defaultIntegrationTimeoutMs = 29_000;

const integrationTimedOut = Symbol('integration timed out');

/** The invocation's result, or `integrationTimedOut` once the gateway stops waiting for it. */
const awaitIntegration = (invocation: Promise<unknown>, timeoutMs: number): Promise<unknown> => {
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<typeof integrationTimedOut>((resolve) => {
    timer = setTimeout(() => resolve(integrationTimedOut), timeoutMs);
    timer.unref();
  });
  return Promise.race([invocation, cut]).finally(() => clearTimeout(timer));
};

class LambdaTimeout extends Error {
  override name = 'LambdaTimeout';
}

const invoke = (fn: LambdaFunction, event: APIGatewayProxyEventV2WithJWTAuthorizer, context: Context, timeoutMs: number) =>
  new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(() => reject(new LambdaTimeout(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`)), timeoutMs);
    timer.unref();
    const settle = (error: unknown, result?: unknown) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(result);
    };
    try {
      const returned = fn.handler(event, context, (error, result) => settle(error ?? undefined, result));
      if (returned !== null && typeof returned === 'object' && typeof (returned as Promise<unknown>).then === 'function') {
        (returned as Promise<unknown>).then(
          (result) => settle(undefined, result),
          (error: unknown) => settle(error ?? new Error('handler rejected')),
        );
      } else if (fn.handler.length < 3) {
        settle(undefined, returned);
      }
    } catch (error) {
      settle(error ?? new Error('handler threw'));
    }
  });

const normalizeIp = (address: string | undefined): string => (address ?? '127.0.0.1').replace(/^::ffff:/, '');

const randomApiId = (): string =>
  Array.from({ length: 10 }, () => 'abcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(Math.random() * 36)]).join('');

const matchesRaw = (route: RawRoute, method: string, path: string): boolean =>
  route.method === method && (route.path.endsWith('*') ? path.startsWith(route.path.slice(0, -1)) : path === route.path);

const writeResponse = (res: ServerResponse, response: HttpResponseData, extraHeaders: Record<string, string>): void => {
  for (const [name, value] of Object.entries(extraHeaders)) res.setHeader(name, value);
  for (const [name, values] of response.headers) res.setHeader(name, values.length === 1 ? (values[0] ?? '') : values);
  res.setHeader('content-length', response.body.length);
  res.statusCode = response.statusCode;
  res.end(response.body);
};

const corsHeaders = (cors: CorsConfig | undefined, origin: string | undefined): Record<string, string> => {
  if (!cors || !origin) return {};
  const allowed = cors.allowOrigins.includes('*') || cors.allowOrigins.includes(origin);
  if (!allowed) return {};
  return {
    'access-control-allow-origin': cors.allowOrigins.includes('*') && !cors.allowCredentials ? '*' : origin,
    ...(cors.allowCredentials ? { 'access-control-allow-credentials': 'true' } : {}),
    ...(cors.exposeHeaders?.length ? { 'access-control-expose-headers': cors.exposeHeaders.join(',') } : {}),
  };
};

export const createApiGateway = <R extends GatewayRoute>(options: ApiGatewayOptions<R>): ApiGateway => {
  const clock = options.clock ?? systemClock;
  const region = options.region ?? 'eu-west-2';
  const accountId = options.accountId ?? '123456789012';
  const apiId = options.apiId ?? randomApiId();
  const maxBodyBytes = options.maxBodyBytes ?? defaultMaxBodyBytes;
  const integrationTimeoutMs = options.integrationTimeoutMs ?? defaultIntegrationTimeoutMs;
  const log = options.log ?? (() => undefined);
  const matchRoute = createRouteMatcher(options.routes);
  if (!options.jwt && options.routes.some((route) => route.auth === 'jwt')) {
    throw new Error('routes with auth "jwt" need the jwt option (issuer, audience, jwks)');
  }
  const authorize = options.jwt ? createJwtAuthorizer(options.jwt, clock) : undefined;

  interface LoadedFunction {
    fn: LambdaFunction;
    logStreamName: string;
  }
  const loaded = new Map<string, Promise<LoadedFunction>>();
  const load = (route: R): Promise<LoadedFunction> => {
    let entry = loaded.get(route.function);
    if (!entry) {
      entry = Promise.resolve()
        .then(() => options.resolveHandler(route))
        .then((fn) => ({ fn, logStreamName: newLogStreamName(Date.now()) }));
      // A module that failed to load is retried on the next request, as a new container would.
      entry.catch(() => loaded.delete(route.function));
      loaded.set(route.function, entry);
    }
    return entry;
  };

  const handleApiRequest = async (req: IncomingMessage, res: ServerResponse, requestId: string): Promise<string> => {
    const method = (req.method ?? 'GET').toUpperCase();
    const origin = req.headers.origin;
    const cors = corsHeaders(options.cors, origin);
    const send = (response: HttpResponseData) => writeResponse(res, response, { 'apigw-requestid': requestId, ...cors });

    let path: string;
    try {
      path = splitTarget(req.url ?? '/').path;
    } catch (error) {
      if (!(error instanceof BadRequestError)) throw error;
      req.resume();
      send(gatewayErrors.badRequest());
      return '-';
    }

    const raw = options.extraRoutes?.find((route) => matchesRaw(route, method, path));
    if (raw) {
      await raw.handle(req, res);
      return 'local';
    }

    if (options.cors && method === 'OPTIONS' && origin && req.headers['access-control-request-method']) {
      req.resume();
      // API Gateway answers every preflight itself; a disallowed origin just gets no CORS headers.
      const preflight: HttpResponseData = { statusCode: 204, headers: new Map(), body: Buffer.alloc(0) };
      if (Object.keys(cors).length > 0) {
        const requested = req.headers['access-control-request-headers'];
        const allowHeaders = options.cors.allowHeaders ?? (requested ? [requested] : ['authorization', 'content-type']);
        preflight.headers.set('access-control-allow-methods', [
          (options.cors.allowMethods ?? ['GET', 'POST', 'DELETE', 'OPTIONS']).join(','),
        ]);
        preflight.headers.set('access-control-allow-headers', [allowHeaders.join(',')]);
        if (options.cors.maxAgeSeconds !== undefined) preflight.headers.set('access-control-max-age', [String(options.cors.maxAgeSeconds)]);
      }
      send(preflight);
      return 'cors';
    }

    const match = matchRoute(method, path);
    if (!match) {
      if (options.fallback && (await options.fallback(req, res))) return 'static';
      req.resume();
      send(gatewayErrors.notFound());
      return '-';
    }

    const body = await readBody(req, maxBodyBytes);
    if (body === 'too-large') {
      send(gatewayErrors.tooLarge());
      return match.route.function;
    }

    let authorization: JwtAuthorization | undefined;
    if (match.route.auth === 'jwt' && authorize) {
      const result = await authorize(req.headers.authorization);
      if (!result.ok) {
        send(gatewayErrors.unauthorized(result.challenge));
        return match.route.function;
      }
      authorization = result.authorization;
    }

    const now = clock.now();
    const event = buildEvent(
      {
        method,
        target: req.url ?? '/',
        rawHeaders: req.rawHeaders,
        httpVersion: req.httpVersion,
        sourceIp: normalizeIp(req.socket.remoteAddress),
        localPort: req.socket.localPort ?? 0,
        body,
      },
      { routeKey: match.routeKey, pathParameters: match.pathParameters, authorization, accountId, apiId, region, requestId, now },
    );

    let response: HttpResponseData;
    try {
      const { fn, logStreamName } = await load(match.route);
      const functionName = fn.functionName ?? match.route.function;
      const timeoutSeconds = fn.timeoutSeconds ?? defaultTimeoutSeconds;
      const context = createLambdaContext({
        functionName,
        timeoutSeconds,
        memoryMb: fn.memoryMb ?? 128,
        region,
        accountId,
        startedAt: Date.now(),
        logStreamName,
      });
      const invocation = invoke(fn, event, context, timeoutSeconds * 1000);
      const result = await awaitIntegration(invocation, integrationTimeoutMs);
      if (result === integrationTimedOut) {
        // API Gateway has answered the client; the function, as in AWS, runs on to its end.
        log(`${match.routeKey} (${match.route.function}) integration timed out after ${integrationTimeoutMs} ms; the invocation runs on`);
        invocation.then(
          () => log(`${match.routeKey} (${match.route.function}) invocation finished after the gateway answered`),
          (error: unknown) =>
            log(
              `ERROR ${match.routeKey} (${match.route.function}) invocation failed after the gateway answered: ${error instanceof Error ? error.message : String(error)}`,
            ),
        );
        send(gatewayErrors.serviceUnavailable());
        return match.route.function;
      }
      response = mapLambdaResult(result);
      // With CORS configured, API Gateway ignores the integration's own CORS headers.
      if (options.cors)
        for (const name of [...response.headers.keys()]) if (name.startsWith('access-control-')) response.headers.delete(name);
    } catch (error) {
      // The runtime logs a failed invocation; the client sees only API Gateway's generic 500.
      const kind =
        error instanceof MalformedLambdaResponse
          ? 'malformed Lambda response'
          : error instanceof LambdaTimeout
            ? 'timeout'
            : 'invoke error';
      log(
        `ERROR ${match.routeKey} (${match.route.function}) ${kind}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      response = gatewayErrors.internal();
    }
    send(response);
    return match.route.function;
  };

  const handle: RequestListener = (req, res) => {
    const started = Date.now();
    const requestId = newRequestId();
    handleApiRequest(req, res, requestId)
      .then((target) => {
        const path = (req.url ?? '/').split('?', 1)[0];
        log(`${req.method} ${path} ${res.statusCode} ${target} ${Date.now() - started}ms`);
      })
      .catch((error: unknown) => {
        log(`ERROR gateway ${req.method}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        if (!res.headersSent) writeResponse(res, gatewayErrors.internal(), { 'apigw-requestid': requestId });
        else res.destroy();
      });
  };

  const server = createServer(handle);
  let url: string | undefined;

  return {
    handle,
    server,
    get url() {
      return url;
    },
    listen: async ({ port = 0, host = '127.0.0.1' } = {}) => {
      const address = await listenOn(server, port, host);
      url = httpOrigin(address.address, address.port);
      return url;
    },
    close: () => closeServer(server),
  };
};
