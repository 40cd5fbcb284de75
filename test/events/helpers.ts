/** The sample events in events/: loading them, and fitting one to a live connection, code or user. */
import { readdirSync, readFileSync } from 'node:fs';
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';

export type SampleEvent = APIGatewayProxyEventV2WithJWTAuthorizer;

const eventsDir = new URL('../../events/', import.meta.url);

/**
 * Every HTTP API event file name, without `.json` (env.json is the sam env-vars file, not an event;
 * lifecycle-*.json are the schedule's events for the lifecycle function, which has no route).
 */
export const eventNames = (): string[] =>
  readdirSync(eventsDir)
    .filter((file) => file.endsWith('.json') && file !== 'env.json' && !file.startsWith('lifecycle-'))
    .map((file) => file.slice(0, -'.json'.length))
    .sort();

/** A fresh copy of one event: tests change it freely. */
export const loadEvent = (name: string): SampleEvent => JSON.parse(readFileSync(new URL(`${name}.json`, eventsDir), 'utf8')) as SampleEvent;

/** The function an event is for, from its file name: `auth-link-create` → `authLink`. */
export const functionOfEvent = (name: string): string => {
  const prefix = ['auth-link', 'callback', 'data', 'connections', 'openapi', 'providers'].find((candidate) =>
    name.startsWith(`${candidate}-`),
  );
  if (!prefix) throw new Error(`event ${name} does not start with a function name`);
  return prefix.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
};

/** The event as the JWT authorizer would pass it for `sub`. */
export const asUser = (event: SampleEvent, sub: string): SampleEvent => {
  const jwt = event.requestContext.authorizer?.jwt;
  if (!jwt) throw new Error('this event has no JWT authorizer context');
  return {
    ...event,
    requestContext: {
      ...event.requestContext,
      authorizer: { ...event.requestContext.authorizer, jwt: { ...jwt, claims: { ...jwt.claims, sub, username: sub } } },
    },
  };
};

/** The event for another connection (and data path): path parameters, rawPath and http.path agree. */
export const forConnection = (event: SampleEvent, connectionId: string, proxy?: string): SampleEvent => {
  const pathParameters = { ...event.pathParameters, id: connectionId, ...(proxy !== undefined ? { proxy } : {}) };
  const action = /\/(extend|complete)$/.exec(event.routeKey)?.[0] ?? '';
  const rawPath = `/connections/${connectionId}${pathParameters.proxy ? `/${pathParameters.proxy}` : action}`;
  return {
    ...event,
    rawPath,
    pathParameters,
    requestContext: { ...event.requestContext, http: { ...event.requestContext.http, path: rawPath } },
  };
};

/** Replaces the query string (rawQueryString and the parsed map, as API Gateway sets both). */
export const withQuery = (event: SampleEvent, query: Record<string, string>): SampleEvent => ({
  ...event,
  rawQueryString: new URLSearchParams(query).toString(),
  queryStringParameters: query,
});

/** Replaces a form body (base64, as HTTP APIs pass form posts) and its content-length. */
export const withFormBody = (event: SampleEvent, fields: Record<string, string>): SampleEvent => {
  const body = new URLSearchParams(fields).toString();
  return {
    ...event,
    body: Buffer.from(body).toString('base64'),
    isBase64Encoded: true,
    headers: { ...event.headers, 'content-length': String(Buffer.byteLength(body)) },
  };
};

/** Replaces a JSON body and its content-length. */
export const withJsonBody = (event: SampleEvent, value: unknown): SampleEvent => {
  const body = JSON.stringify(value);
  return { ...event, body, isBase64Encoded: false, headers: { ...event.headers, 'content-length': String(Buffer.byteLength(body)) } };
};
