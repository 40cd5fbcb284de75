/**
 * Shapes the API answers with, as zod schemas for the OpenAPI document (and for tests that check a
 * real answer against its documented shape). Request schemas are not here: the document takes those
 * from the modules that validate the requests. Objects are loose: a new field in an answer is not a
 * breaking change, so clients must ignore members they do not know.
 */
import { type ProblemCode, problemCatalogue } from '../errors';
import { accountIdPattern } from '../truelayer/data-paths';
import * as z from '../zod';

const timestamp = z.string().check(z.describe('ISO 8601 date-time, UTC'));

/** The statuses a connection reads as, computed against the clock on every read. */
const connectionStatuses = ['authorization_required', 'authorized', 'active', 'inactive'] as const;

export const connectionSchema = z.looseObject({
  connection_id: z.string().check(z.describe('The connection id (a UUID)')),
  status: z.enum(connectionStatuses),
  status_reason: z.optional(z.string().check(z.describe('Why the connection is inactive, e.g. consent_expired, revoked, user_denied'))),
  provider: z.optional(z.looseObject({ provider_id: z.string(), display_name: z.optional(z.string()) })),
  scopes: z.array(z.string()),
  created_at: timestamp,
  updated_at: timestamp,
  consent_expires_at: z.optional(timestamp),
  auth_link_expires_at: z.optional(timestamp),
  completion_expires_at: z.optional(timestamp.check(z.describe("While authorized: when the owner's time to complete it runs out"))),
  return_url: z.optional(z.string()),
  last_refreshed_at: z.optional(timestamp.check(z.describe('When the access token was last renewed'))),
  last_fetched_at: z.optional(timestamp.check(z.describe('When data was last read through it (rough: at most once a minute)'))),
  last_error: z.optional(z.looseObject({ code: z.string(), at: timestamp })),
  next_action: z.optional(
    z
      .union([z.looseObject({ action: z.literal('reconfirm_consent'), by: timestamp }), z.looseObject({ action: z.literal('reconnect') })])
      .check(z.describe('What the app should ask its user to do next: reconfirm the consent before `by` (then extend), or connect again')),
  ),
});

export const createdConnectionSchema = z.looseObject({
  connection_id: z.string(),
  status: z.literal('authorization_required'),
  auth_link: z.string().check(z.describe("TrueLayer's auth dialog: send the user's browser there")),
  auth_link_expires_at: timestamp,
});

export const connectionListSchema = z.looseObject({
  connections: z.array(connectionSchema).check(z.describe('Newest first')),
  next_cursor: z.optional(z.string().check(z.describe('Pass as `cursor` for the next page; absent on the last page'))),
});

export const extendOutcomeSchema = z.union([
  z.looseObject({ status: z.literal('active'), consent_expires_at: z.optional(timestamp) }),
  z.looseObject({
    action_needed: z.literal('authentication_needed'),
    user_input_link: z.string().check(z.describe("The bank's page where the user signs in again; the callback completes the extension")),
  }),
]);

/** TrueLayer's Data API v1 body, passed through as it came. */
export const dataResultsSchema = z.looseObject({
  results: z.array(z.looseObject({})),
  status: z.optional(z.enum(['Succeeded', 'Queued', 'Running', 'Failed'])),
});

/** API Gateway's own answer when the JWT authorizer refuses a request (it never reaches a function). */
export const gatewayMessageSchema = z.looseObject({ message: z.string() });

const problemCodes = Object.keys(problemCatalogue) as [ProblemCode, ...ProblemCode[]];

/** RFC 9457 problem details: every error a function answers, `code` one of the catalogue's. */
export const problemSchema = z.looseObject({
  type: z.string().check(z.describe('A URL naming the problem type: the README row for `code`')),
  title: z.string(),
  status: z.number().check(z.describe('The HTTP status, repeated')),
  detail: z.string().check(z.describe('What went wrong and what to change')),
  code: z.enum(problemCodes).check(z.describe('Stable machine-readable code; see the README for each')),
  upstream_code: z.optional(z.string().check(z.describe("TrueLayer's `error` code, when TrueLayer caused it"))),
});

/** Path parameters by name: every `{name}` in a documented path must have one. */
export const pathParameterSchemas: Record<string, z.ZodMiniType> = {
  id: z
    .string()
    .check(
      z.regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      z.describe('A connection id (a lower-case UUID), as POST /connections returned it'),
    ),
  account_id: z.string().check(z.regex(accountIdPattern), z.describe('An account or card id, as TrueLayer returned it')),
};
