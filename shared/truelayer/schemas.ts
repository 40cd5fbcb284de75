/** Shapes of TrueLayer's answers that the clients rely on; anything else is an upstream failure. */
import * as z from '../zod';

/** `POST /connect/token` (auth server spec, TokenExchangeResponse). */
export const tokenResponseSchema = z.object({
  access_token: z.string().check(z.minLength(1)),
  expires_in: z.int().check(z.nonnegative()),
  token_type: z.string().check(z.minLength(1)),
  refresh_token: z.optional(z.string().check(z.minLength(1))),
  // Required by the spec only in practice; a refresh that omitted it must not fail the connection.
  scope: z.optional(z.string()),
});

export type TokenResponse = z.infer<typeof tokenResponseSchema>;

const meItemSchema = z.object({
  credentials_id: z.string().check(z.minLength(1)),
  client_id: z.optional(z.string()),
  consent_status: z.optional(z.string()),
  consent_created_at: z.optional(z.string()),
  consent_expires_at: z.optional(z.string()),
  consent_status_updated_at: z.optional(z.string()),
  provider: z.optional(
    z.object({
      provider_id: z.string().check(z.minLength(1)),
      display_name: z.optional(z.string()),
      logo_uri: z.optional(z.string()),
    }),
  ),
  scopes: z.optional(z.array(z.string())),
});

/** `GET /data/v1/me`: the usual `{results: [Me], status}` envelope. */
export const meResponseSchema = z.object({
  results: z.array(meItemSchema).check(z.minLength(1)),
  status: z.optional(z.string()),
});

/** `POST /data/v1/connections/extend`, discriminated by `action_needed`. */
export const extendResponseSchema = z.discriminatedUnion('action_needed', [
  z.object({
    action_needed: z.literal('no_action_needed'),
    access_token: z.string().check(z.minLength(1)),
    expires_in: z.int().check(z.nonnegative()),
    token_type: z.string().check(z.minLength(1)),
    refresh_token: z.string().check(z.minLength(1)),
    scope: z.optional(z.string()),
  }),
  z.object({ action_needed: z.literal('authentication_needed'), user_input_link: z.url({ protocol: /^https?$/ }) }),
  z.object({ action_needed: z.literal('reconfirmation_of_consent_needed'), user_input_link: z.url({ protocol: /^https?$/ }) }),
]);

/** Data API GETs: TrueLayer's body is passed on as is, but it must at least be a JSON object. */
export const dataResponseSchema = z.record(z.string(), z.unknown());
