/**
 * What the OpenAPI document says about each route of functions/routes.ts, keyed by route key. A
 * route needs exactly one entry here (the document refuses to build without it, and a test checks
 * both ways), so a new route is documented by adding one entry. Request schemas are the very zod
 * schemas the core validates with, imported from where they are used: what the document promises
 * is what the API enforces.
 */
import { callbackParams } from '../connections/complete-callback';
import { completeBody } from '../connections/complete-connection';
import { createConnectionBody } from '../connections/create-connection';
import { extendBody } from '../connections/manage-connections';
import type { ProblemCode } from '../errors';
import { dataPathTemplates, parseDataPath } from '../truelayer/data-paths';
import * as z from '../zod';
import { connectionListSchema, connectionSchema, createdConnectionSchema, dataResultsSchema, extendOutcomeSchema } from './schemas';

type Schema = z.ZodMiniType;

export interface ResponseDoc {
  description: string;
  /** The body's schema; none for an empty body. */
  schema?: Schema;
  /** Default `application/json`. */
  contentType?: string;
  /** Response headers worth knowing, name → description. */
  headers?: Record<string, string>;
}

export interface RouteDoc {
  operationId: string;
  summary: string;
  description?: string;
  tag: 'connections' | 'data' | 'callback' | 'meta';
  /** The JSON body (or, with `bodyType`, the form body) the route validates. */
  body?: Schema;
  bodyType?: 'application/json' | 'application/x-www-form-urlencoded';
  /** Whether the body may be left out (then it counts as `{}`). Default true. */
  bodyOptional?: boolean;
  /** Query parameters, one per property of this object schema. */
  query?: z.ZodMiniObject;
  /** Success (and redirect) answers by status. */
  responses: Record<number, ResponseDoc>;
  /** Problem codes this route may answer, besides the ones every route may (see document.ts). */
  problems: readonly ProblemCode[];
  /**
   * For a greedy route (`{proxy+}`): the concrete paths it serves, each documented on its own.
   * `path` replaces the route's path; `{name}` segments take their schema from pathParameterSchemas.
   */
  variants?: readonly { path: string; operationId: string; summary: string; query?: z.ZodMiniObject }[];
}

/** `from`/`to` on the transaction paths (checked by validateDateRange in shared/truelayer/data-paths.ts). */
const dateRange = z.object({
  from: z.optional(z.string().check(z.describe('Start of the range: an ISO 8601 date or date-time'))),
  to: z.optional(z.string().check(z.describe('End of the range, not before `from`: an ISO 8601 date or date-time'))),
});

/** `limit` and `cursor` on the settled transaction paths, which come in pages. */
const transactionPages = z.object({
  ...dateRange.shape,
  limit: z.optional(z.string().check(z.regex(/^\d{1,4}$/), z.describe('Transactions per page, 1 to 1000 (default 500)'))),
  cursor: z.optional(z.string().check(z.describe('The `next_cursor` of the previous page, sent without `from`/`to`'))),
});

/** `limit` and `cursor` on the list of connections. */
const listQuery = z.object({
  limit: z.optional(z.string().check(z.regex(/^\d{1,3}$/), z.describe('Connections per page, 1 to 100 (default 50)'))),
  cursor: z.optional(z.string().check(z.describe('The `next_cursor` of the previous page'))),
});

/** `country` on the providers list. */
const providersQuery = z.object({
  country: z.optional(
    z.string().check(z.describe('Two-letter country code(s), comma-separated; `gb` and `uk` both mean the United Kingdom')),
  ),
});

const providersSchema = z.looseObject({
  providers: z.array(
    z.looseObject({
      provider_id: z.string(),
      display_name: z.string(),
      logo_url: z.optional(z.string()),
      country: z.string(),
      scopes: z.array(z.string()),
    }),
  ),
});

const camel = (words: string[]): string =>
  words.map((word, index) => (index === 0 ? word : `${word.charAt(0).toUpperCase()}${word.slice(1)}`)).join('');

/** The fourteen Data API paths, one documented operation each. */
const dataVariants = dataPathTemplates.map((template) => {
  const rest = template.replace('/data/v1/', '');
  // `accounts/{account_id}/balance` → readAccountBalance: a segment before an id is one of them.
  const segments = rest.split('/');
  const words = segments
    .map((segment, index) => (segments[index + 1]?.startsWith('{') ? segment.replace(/s$/, '') : segment))
    .filter((segment) => !segment.startsWith('{'))
    .flatMap((segment) => segment.split('_'));
  return {
    path: `/connections/{id}/${rest}`,
    operationId: camel(['read', ...words]),
    summary: `TrueLayer's GET /data/v1/${rest}, through this connection`,
    ...(parseDataPath(rest.replaceAll('{account_id}', 'id'))?.supportsDateRange
      ? { query: rest.endsWith('/pending') ? dateRange : transactionPages }
      : {}),
  };
});

const callbackResponses: Record<number, ResponseDoc> = {
  302: {
    description:
      'To the return URL with `connection_id` and `status` (plus a one-time `completion_code` where the service issues one), or `error=<code>` when the user refused or the exchange failed',
    headers: { location: "The app's return URL" },
  },
  200: { description: 'A small page for the user, when the connection has no return URL', contentType: 'text/html', schema: z.string() },
};
const callbackProblems: readonly ProblemCode[] = [
  'validation_error',
  'invalid_state',
  'not_found',
  'connection_inactive',
  'conflict',
  'upstream_error',
  'upstream_unavailable',
];

export const routeDocs: Record<string, RouteDoc> = {
  'POST /connections': {
    operationId: 'createConnection',
    summary: 'Create a connection and its TrueLayer auth link',
    description: 'Send the user to `auth_link`; the bank sends them back through `/callback` to `return_url`.',
    tag: 'connections',
    body: createConnectionBody,
    responses: {
      201: { description: 'Created', schema: createdConnectionSchema, headers: { location: 'The new connection, `/connections/{id}`' } },
    },
    problems: ['validation_error', 'return_url_required', 'too_many_pending_connections', 'service_not_configured'],
  },
  'GET /connections': {
    operationId: 'listConnections',
    summary: "The caller's connections, newest first",
    tag: 'connections',
    query: listQuery,
    responses: { 200: { description: 'The connections, and `next_cursor` while more remain', schema: connectionListSchema } },
    problems: ['validation_error', 'invalid_cursor'],
  },
  'GET /connections/{id}': {
    operationId: 'getConnection',
    summary: 'One connection',
    tag: 'connections',
    responses: { 200: { description: 'The connection', schema: connectionSchema } },
    problems: ['not_found'],
  },
  'DELETE /connections/{id}': {
    operationId: 'deleteConnection',
    summary: 'Revoke the connection at TrueLayer and erase its tokens',
    description: 'Safe to repeat.',
    tag: 'connections',
    responses: { 204: { description: 'Revoked' } },
    problems: ['not_found', 'upstream_error', 'upstream_unavailable', 'upstream_timeout'],
  },
  'POST /connections/{id}/extend': {
    operationId: 'extendConnection',
    summary: 'Extend the 90-day consent after the user reconfirmed it',
    tag: 'connections',
    body: extendBody,
    bodyOptional: false,
    responses: { 200: { description: 'Extended, or the user must sign in at the bank again', schema: extendOutcomeSchema } },
    problems: [
      'validation_error',
      'not_found',
      'connection_not_ready',
      'connection_inactive',
      'cannot_extend',
      'refresh_in_progress',
      'upstream_error',
      'upstream_unavailable',
    ],
  },
  'POST /connections/{id}/complete': {
    operationId: 'completeConnection',
    summary: 'The owner confirms the connection that came back from the bank',
    description:
      'Send the `completion_code` the return URL received, with the JWT of the user who created the connection. Until then no data can be read through it.',
    tag: 'connections',
    body: completeBody,
    bodyOptional: false,
    responses: { 200: { description: 'Completed: the connection, `status: active`', schema: connectionSchema } },
    problems: ['validation_error', 'not_found', 'invalid_completion_code', 'connection_not_ready', 'connection_inactive'],
  },
  'GET /providers': {
    operationId: 'listProviders',
    summary: 'The banks TrueLayer offers this client, for a bank picker',
    tag: 'meta',
    query: providersQuery,
    responses: { 200: { description: 'The providers', schema: providersSchema } },
    problems: ['validation_error', 'upstream_error', 'upstream_unavailable', 'upstream_timeout'],
  },
  'GET /connections/{id}/{proxy+}': {
    operationId: 'readData',
    summary: 'TrueLayer Data API v1, through a connection',
    tag: 'data',
    responses: {
      200: {
        description: "TrueLayer's body, as it came",
        schema: dataResultsSchema,
        headers: {
          'x-tl-correlation-id': "TrueLayer's correlation id, to quote to TrueLayer support",
          etag: 'A strong validator of the body: send it back as If-None-Match',
          'x-data-source': '`truelayer` (fetched now) or `cache` (the kept answer, past the unattended budget)',
          age: 'Seconds since a kept answer was fetched',
          'x-unattended-remaining': 'Unattended calls left for this endpoint in the 24-hour window (calls without X-PSU-IP)',
        },
      },
      304: { description: 'Not modified: the If-None-Match matched the current ETag' },
    },
    problems: [
      'validation_error',
      'not_found',
      'invalid_date_range',
      'connection_inactive',
      'connection_not_ready',
      'connection_not_confirmed',
      'refresh_in_progress',
      'account_not_found',
      'upstream_bad_request',
      'upstream_forbidden',
      'upstream_not_found',
      'upstream_rate_limited',
      'unattended_limit_reached',
      'upstream_not_supported',
      'upstream_unauthorized',
      'upstream_error',
      'upstream_unavailable',
      'upstream_timeout',
    ],
    variants: dataVariants,
  },
  'GET /callback': {
    operationId: 'callback',
    summary: 'Where TrueLayer sends the browser back (public)',
    description: "Not called by apps: the bank dialog redirects the user's browser here with `code` and `state` (or `error`).",
    tag: 'callback',
    query: callbackParams,
    responses: callbackResponses,
    problems: callbackProblems,
  },
  'POST /callback': {
    operationId: 'callbackFormPost',
    summary: 'Where TrueLayer posts the browser back with response_mode=form_post (public)',
    tag: 'callback',
    body: callbackParams,
    bodyType: 'application/x-www-form-urlencoded',
    responses: callbackResponses,
    problems: callbackProblems,
  },
  'GET /openapi.json': {
    operationId: 'openApiDocument',
    summary: 'This document (public)',
    tag: 'meta',
    responses: { 200: { description: 'The OpenAPI 3.1 document', schema: z.looseObject({ openapi: z.string() }) } },
    problems: [],
  },
};
