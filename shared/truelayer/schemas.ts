/** Shapes of TrueLayer's answers that the clients rely on; anything else is an upstream failure. */
import * as z from 'zod';

/** `POST /connect/token` (auth server spec, TokenExchangeResponse). */
export const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  expires_in: z.int().nonnegative(),
  token_type: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  // Required by the spec only in practice; a refresh that omitted it must not fail the connection.
  scope: z.string().optional(),
});

export type TokenResponse = z.infer<typeof tokenResponseSchema>;

const meItemSchema = z.object({
  credentials_id: z.string().min(1),
  client_id: z.string().optional(),
  consent_status: z.string().optional(),
  consent_created_at: z.string().optional(),
  consent_expires_at: z.string().optional(),
  consent_status_updated_at: z.string().optional(),
  provider: z
    .object({
      provider_id: z.string().min(1),
      display_name: z.string().optional(),
      logo_uri: z.string().optional(),
    })
    .optional(),
  scopes: z.array(z.string()).optional(),
});

/** `GET /data/v1/me`: the usual `{results: [Me], status}` envelope. */
export const meResponseSchema = z.object({
  results: z.array(meItemSchema).min(1),
  status: z.string().optional(),
});

/** `POST /data/v1/connections/extend`, discriminated by `action_needed`. */
export const extendResponseSchema = z.discriminatedUnion('action_needed', [
  z.object({
    action_needed: z.literal('no_action_needed'),
    access_token: z.string().min(1),
    expires_in: z.int().nonnegative(),
    token_type: z.string().min(1),
    refresh_token: z.string().min(1),
    scope: z.string().optional(),
  }),
  z.object({ action_needed: z.literal('authentication_needed'), user_input_link: z.url({ protocol: /^https?$/ }) }),
  z.object({ action_needed: z.literal('reconfirmation_of_consent_needed'), user_input_link: z.url({ protocol: /^https?$/ }) }),
]);

/** Data API GETs: TrueLayer's body is passed on as is, but it must at least be a JSON object. */
export const dataResponseSchema = z.record(z.string(), z.unknown());
