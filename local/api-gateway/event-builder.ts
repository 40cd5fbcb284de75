/** HTTP request → API Gateway HTTP API payload format 2.0 event, field by field as AWS builds it. */
import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import type { JwtAuthorization } from './jwt-authorizer';

export interface RequestData {
  method: string;
  /** The request target as sent (`/path?query`), still percent-encoded. */
  target: string;
  /** Node's `rawHeaders`: name, value, name, value… in arrival order, repeats kept. */
  rawHeaders: readonly string[];
  /** e.g. `1.1` */
  httpVersion: string;
  sourceIp: string;
  /** The port the client connected to, for `x-forwarded-port`. */
  localPort: number;
  body: Buffer;
}

export interface EventContext {
  routeKey: string;
  pathParameters: Record<string, string> | undefined;
  authorization: JwtAuthorization | undefined;
  accountId: string;
  apiId: string;
  region: string;
  requestId: string;
  /** Epoch ms from the gateway's clock. */
  now: number;
}

export class BadRequestError extends Error {
  override name = 'BadRequestError';
}

export interface SplitTarget {
  /** Percent-decoded, as HTTP APIs deliver `rawPath` and match routes. */
  path: string;
  rawQueryString: string;
}

export const splitTarget = (target: string): SplitTarget => {
  // An absolute-form target (proxies send them) carries the origin in front of the path.
  const originForm = /^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '') || '/' : target;
  const withoutFragment = originForm.split('#', 1)[0] ?? '';
  const queryAt = withoutFragment.indexOf('?');
  const encodedPath = queryAt === -1 ? withoutFragment : withoutFragment.slice(0, queryAt);
  const rawQueryString = queryAt === -1 ? '' : withoutFragment.slice(queryAt + 1);
  if (!encodedPath.startsWith('/')) throw new BadRequestError('request target must start with "/"');
  try {
    return { path: decodeURIComponent(encodedPath), rawQueryString };
  } catch {
    throw new BadRequestError('malformed percent-encoding in path');
  }
};

const decodeQueryComponent = (value: string): string => {
  try {
    return decodeURIComponent(value.replaceAll('+', ' '));
  } catch {
    return value;
  }
};

/** Repeated keys are comma-joined: payload 2.0 has no multi-value map. */
export const parseQueryString = (rawQueryString: string): Record<string, string> | undefined => {
  // A Map, then own properties: keys such as `__proto__` or `constructor` arrive as plain keys, as
  // they do from API Gateway's JSON, instead of touching Object.prototype.
  const parameters = new Map<string, string>();
  for (const pair of rawQueryString.split('&')) {
    if (pair.length === 0) continue;
    const equals = pair.indexOf('=');
    const key = decodeQueryComponent(equals === -1 ? pair : pair.slice(0, equals));
    const value = equals === -1 ? '' : decodeQueryComponent(pair.slice(equals + 1));
    const earlier = parameters.get(key);
    parameters.set(key, earlier === undefined ? value : `${earlier},${value}`);
  }
  return parameters.size > 0 ? Object.fromEntries(parameters) : undefined;
};

export interface CollectedHeaders {
  headers: Record<string, string>;
  cookies: string[] | undefined;
}

/** Lower-cased names, repeats comma-joined; `cookie` headers move to the `cookies` array. */
export const collectHeaders = (rawHeaders: readonly string[]): CollectedHeaders => {
  // A Map, then own properties, for the same reason as the query string above.
  const headers = new Map<string, string>();
  const cookies: string[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = (rawHeaders[index] ?? '').toLowerCase();
    const value = rawHeaders[index + 1] ?? '';
    if (name === 'cookie') {
      cookies.push(
        ...value
          .split(';')
          .map((cookie) => cookie.trim())
          .filter((cookie) => cookie.length > 0),
      );
      continue;
    }
    const earlier = headers.get(name);
    headers.set(name, earlier === undefined ? value : `${earlier},${value}`);
  }
  return { headers: Object.fromEntries(headers), cookies: cookies.length > 0 ? cookies : undefined };
};

/**
 * HTTP APIs pass a body as text only for these content types; everything else, including a missing
 * content type and `application/x-www-form-urlencoded`, arrives base64-encoded.
 */
export const isTextContentType = (contentType: string | undefined): boolean => {
  if (!contentType) return false;
  const mediaType = (contentType.split(';', 1)[0] ?? '').trim().toLowerCase();
  return (
    mediaType.startsWith('text/') ||
    mediaType === 'application/json' ||
    mediaType === 'application/xml' ||
    mediaType === 'application/javascript'
  );
};

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
const pad = (value: number): string => String(value).padStart(2, '0');

/** `12/Mar/2020:19:03:58 +0000`, always UTC. */
export const formatRequestTime = (epochMs: number): string => {
  const date = new Date(epochMs);
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
};

/** API Gateway request ids look like `JKJaXmPLvHcESHA=`. */
export const newRequestId = (): string => randomBytes(11).toString('base64').replaceAll('+', 'A').replaceAll('/', 'B');

const traceId = (epochMs: number): string =>
  `Root=1-${Math.floor(epochMs / 1000)
    .toString(16)
    .padStart(8, '0')}-${randomBytes(12).toString('hex')}`;

export const buildEvent = (request: RequestData, context: EventContext): APIGatewayProxyEventV2WithJWTAuthorizer => {
  const { path, rawQueryString } = splitTarget(request.target);
  const { headers, cookies } = collectHeaders(request.rawHeaders);
  // What API Gateway's front end adds before the integration sees the request.
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${request.sourceIp}` : request.sourceIp;
  headers['x-forwarded-port'] = String(request.localPort);
  headers['x-forwarded-proto'] = 'http';
  headers['x-amzn-trace-id'] ??= traceId(context.now);
  // The gateway buffers the whole body, so the integration sees its length, never chunked framing.
  delete headers['transfer-encoding'];
  if (request.body.length > 0) headers['content-length'] = String(request.body.length);

  const domainName = headers.host ?? `${context.apiId}.execute-api.${context.region}.amazonaws.com`;
  const hostname = domainName.startsWith('[') ? domainName : domainName.replace(/:\d+$/, '');
  const queryStringParameters = parseQueryString(rawQueryString);
  const hasBody = request.body.length > 0;
  const textBody = isTextContentType(headers['content-type']);

  const event: APIGatewayProxyEventV2WithJWTAuthorizer = {
    version: '2.0',
    routeKey: context.routeKey,
    rawPath: path,
    rawQueryString,
    ...(cookies ? { cookies } : {}),
    headers,
    ...(queryStringParameters ? { queryStringParameters } : {}),
    requestContext: {
      accountId: context.accountId,
      apiId: context.apiId,
      ...(context.authorization ? { authorizer: { jwt: context.authorization } } : {}),
      domainName,
      domainPrefix: hostname.split('.', 1)[0] ?? hostname,
      http: {
        method: request.method,
        path,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: context.requestId,
      routeKey: context.routeKey,
      stage: '$default',
      time: formatRequestTime(context.now),
      timeEpoch: context.now,
    } as APIGatewayProxyEventV2WithJWTAuthorizer['requestContext'],
    ...(hasBody ? { body: textBody ? request.body.toString('utf8') : request.body.toString('base64') } : {}),
    ...(context.pathParameters ? { pathParameters: context.pathParameters } : {}),
    isBase64Encoded: hasBody && !textBody,
  };
  return event;
};
