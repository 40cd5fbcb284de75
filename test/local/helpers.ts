/** Helpers for the local-stack tests: fixture gateways, raw HTTP requests, free ports. */
import { request } from 'node:http';
import { createServer } from 'node:net';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, Context } from 'aws-lambda';
import type { ApiGateway, ApiGatewayOptions, GatewayRoute, LambdaHandler } from '../../local/api-gateway';
import { createApiGateway } from '../../local/api-gateway';

export interface RawResponse {
  status: number;
  /** Node's parsed headers (set-cookie as an array). */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json(): unknown;
}

/**
 * One request over node:http with headers as raw name/value pairs, so a header can repeat on its
 * own line the way `fetch` cannot send it.
 */
export const rawRequest = (
  url: string,
  options: { method?: string; headers?: [string, string][]; body?: Buffer | string } = {},
): Promise<RawResponse> =>
  new Promise((resolve, reject) => {
    // Raw header arrays get no automatic Host header, and Node's server refuses a request without one.
    const headers = options.headers ?? [];
    const withHost = headers.some(([name]) => name.toLowerCase() === 'host')
      ? headers
      : [['host', new URL(url).host] as [string, string], ...headers];
    // The path goes out exactly as written (no URL normalization), so tests can send `..` and odd encodings.
    const origin = new URL(url);
    const path = url.slice(origin.origin.length) || '/';
    const target = { hostname: origin.hostname, port: origin.port, path, method: options.method ?? 'GET', headers: withHost.flat() };
    const req = request(target, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString('utf8')) as unknown });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });

export type Invocation = { event: APIGatewayProxyEventV2WithJWTAuthorizer; context: Context };

export interface FixtureGateway {
  url: string;
  gateway: ApiGateway;
  /** Every invocation, per function name. */
  calls: Record<string, Invocation[]>;
  close(): Promise<void>;
}

/** A gateway on a free port whose functions are the given fixture handlers; records each invocation. */
export const startFixtureGateway = async (
  options: Omit<ApiGatewayOptions<GatewayRoute>, 'resolveHandler'> & { handlers: Record<string, LambdaHandler> },
): Promise<FixtureGateway> => {
  const calls: Record<string, Invocation[]> = {};
  const { handlers, ...gatewayOptions } = options;
  const gateway = createApiGateway({
    ...gatewayOptions,
    resolveHandler: (route) => {
      const handler = handlers[route.function];
      if (!handler) throw new Error(`no fixture handler for ${route.function}`);
      return {
        functionName: `fixture-${route.function}`,
        timeoutSeconds: 5,
        handler: (event, context, callback) => {
          const seen = calls[route.function] ?? [];
          seen.push({ event, context });
          calls[route.function] = seen;
          return handler(event, context, callback);
        },
      };
    },
  });
  const url = await gateway.listen({ port: 0 });
  return { url, gateway, calls, close: () => gateway.close() };
};

/** A port that was free a moment ago: listen on 0, note the port, close. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
