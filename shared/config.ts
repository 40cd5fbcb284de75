/** Typed configuration from environment variables, validated once per container start. */

import { ConfigError } from './errors';
import * as z from './zod';

export const truelayerHosts = {
  live: { authUrl: 'https://auth.truelayer.com', apiUrl: 'https://api.truelayer.com' },
  sandbox: { authUrl: 'https://auth.truelayer-sandbox.com', apiUrl: 'https://api.truelayer-sandbox.com' },
  local: { authUrl: 'http://127.0.0.1:3100', apiUrl: 'http://127.0.0.1:3100' },
} as const;

export const defaultProviders = {
  live: 'uk-ob-all uk-oauth-all',
  sandbox: 'uk-ob-all uk-oauth-all uk-cs-mock',
  local: 'uk-ob-all uk-oauth-all uk-cs-mock',
} as const;

const list = z.pipe(
  z.optional(z.string()),
  z.transform((value: string | undefined) =>
    (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  ),
);

const url = z.url({ protocol: /^https?$/ });
const text = () => z.string().check(z.minLength(1));

const envSchema = z
  .object({
    TABLE_NAME: z._default(text(), 'truelayer-connections'),
    TRUELAYER_ENV: z._default(z.enum(['live', 'sandbox', 'local']), 'local'),
    TRUELAYER_AUTH_URL: z.optional(url),
    TRUELAYER_API_URL: z.optional(url),
    TRUELAYER_PROVIDERS: z.optional(text()),
    /** Secrets Manager secret (name or ARN) holding `{client_id, client_secret}`. */
    TRUELAYER_SECRET_ID: z.optional(text()),
    /** Plain credentials, for the local stack and tests only (no secret id set). */
    TRUELAYER_CLIENT_ID: z.optional(text()),
    TRUELAYER_CLIENT_SECRET: z.optional(text()),
    TRUELAYER_TIMEOUT_MS: z._default(z.coerce.number().check(z.int(), z.positive()), 8000),
    /**
     * Token calls (code exchange, refresh, extend) get their own, longer deadline, past API Gateway's
     * 29 s: a token call TrueLayer completes after we gave up may have rotated the only refresh token.
     */
    TRUELAYER_TOKEN_TIMEOUT_MS: z._default(z.coerce.number().check(z.int(), z.positive()), 50_000),
    /** How long API Gateway waits for a function's answer (an HTTP API integration: 29 s); waiters answer before it. */
    API_GATEWAY_TIMEOUT_MS: z._default(z.coerce.number().check(z.int(), z.positive()), 29_000),
    /** A read that finds the access token this close to expiry refreshes it alongside its data call; 0 turns that off. */
    TOKEN_REFRESH_AHEAD_MS: z._default(z.coerce.number().check(z.int(), z.nonnegative()), 300_000),
    /** KMS key (id, ARN or alias) for token envelope keys. */
    TOKEN_KMS_KEY_ID: z.optional(text()),
    /** Base64 of 32 bytes: the local stand-in for KMS (local stack and tests only). */
    LOCAL_TOKEN_KEY: z.optional(text()),
    ALLOWED_RETURN_URLS: list,
    CORS_ORIGINS: list,
    CALLBACK_URL: z.optional(url),
    DYNAMODB_ENDPOINT: z.optional(url),
    /** Calls without X-PSU-IP sent upstream per connection, account and endpoint in 24 hours (UK banks allow 4). */
    UNATTENDED_DAILY_LIMIT: z._default(z.coerce.number().check(z.int(), z.nonnegative()), 4),
    /** `emf`: CloudWatch metrics as log lines (the default when deployed); `off`: none (the default locally). */
    METRICS: z.optional(z.enum(['emf', 'off'])),
    POWERTOOLS_METRICS_NAMESPACE: z._default(text(), 'TrueLayerConnections'),
    /** The EventBridge bus lifecycle events go to (absent: no bus, e.g. locally). */
    EVENT_BUS_NAME: z.optional(text()),
    /** Where lifecycle events are POSTed, signed per Standard Webhooks (absent: no webhook). */
    WEBHOOK_URL: z.optional(url),
    /** Secrets Manager secret holding the webhook signing secret (`whsec_…`). */
    WEBHOOK_SECRET_ID: z.optional(text()),
    /** The signing secret itself, for the local stack and tests only. */
    WEBHOOK_SECRET: z.optional(text()),
    /** Secrets Manager secret holding the key that hashes account numbers to find duplicate connections. */
    ACCOUNT_HASH_SECRET_ID: z.optional(text()),
    /** That key itself, for the local stack and tests only. */
    ACCOUNT_HASH_KEY: z.optional(text()),
    /** Where the Parameters and Secrets Lambda Extension listens on localhost (the layer sets it; locally the stand-in's). */
    PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(65535)), 2773),
    AWS_REGION: z._default(text(), 'eu-west-2'),
  })
  .check(
    z.superRefine((env, ctx) => {
      if (!env.TRUELAYER_SECRET_ID && !(env.TRUELAYER_CLIENT_ID && env.TRUELAYER_CLIENT_SECRET) && env.TRUELAYER_ENV !== 'local') {
        ctx.addIssue({
          code: 'custom',
          path: ['TRUELAYER_SECRET_ID'],
          message: 'set TRUELAYER_SECRET_ID (or TRUELAYER_CLIENT_ID and TRUELAYER_CLIENT_SECRET)',
        });
      }
      if (!env.TOKEN_KMS_KEY_ID && !env.LOCAL_TOKEN_KEY) {
        ctx.addIssue({ code: 'custom', path: ['TOKEN_KMS_KEY_ID'], message: 'set TOKEN_KMS_KEY_ID (or LOCAL_TOKEN_KEY for local use)' });
      }
      if (env.WEBHOOK_URL && !env.WEBHOOK_SECRET_ID && !env.WEBHOOK_SECRET) {
        ctx.addIssue({
          code: 'custom',
          path: ['WEBHOOK_SECRET_ID'],
          message: 'set WEBHOOK_SECRET_ID (or WEBHOOK_SECRET for local use) to sign what goes to WEBHOOK_URL',
        });
      }
      if (env.LOCAL_TOKEN_KEY && Buffer.from(env.LOCAL_TOKEN_KEY, 'base64').length !== 32) {
        ctx.addIssue({ code: 'custom', path: ['LOCAL_TOKEN_KEY'], message: 'must be base64 of exactly 32 bytes' });
      }
    }),
  );

export interface Config {
  tableName: string;
  truelayerEnv: 'live' | 'sandbox' | 'local';
  authUrl: string;
  apiUrl: string;
  providers: string;
  credentials: { secretId: string } | { clientId: string; clientSecret: string };
  truelayerTimeoutMs: number;
  truelayerTokenTimeoutMs: number;
  /** The refresh lease: outlasts the token call and the writes after it, so a live holder never loses it. */
  refreshLeaseMs: number;
  apiGatewayTimeoutMs: number;
  tokenRefreshAheadMs: number;
  tokenKey: { kmsKeyId: string } | { localKey: Uint8Array };
  allowedReturnUrls: string[];
  corsOrigins: string[];
  callbackUrl: string | undefined;
  dynamodbEndpoint: string | undefined;
  region: string;
  unattendedDailyLimit: number;
  metrics: { enabled: boolean; namespace: string };
  eventBusName: string | undefined;
  webhook: { url: string; secret: { secretId: string } | { value: string } } | undefined;
  accountHashKey: { secretId: string } | { value: string } | undefined;
  /** The localhost port secrets given by id are read from (the Parameters and Secrets extension). */
  secretsExtensionPort: number;
}

/**
 * The refresh lease for a token-call deadline: the call itself, then sealing and storing the new pair
 * (a store briefly unavailable gets about 3 s of retries), with room to spare.
 */
export const refreshLeaseMsFor = (tokenTimeoutMs: number): number => tokenTimeoutMs + 10_000;

const trimSlash = (value: string): string => value.replace(/\/+$/, '');

/** Parses the environment; throws a ConfigError whose message is one line naming what to set. */
export const loadConfig = (env: Record<string, string | undefined> = process.env): Config => {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'env'}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const hosts = truelayerHosts[e.TRUELAYER_ENV];
  return {
    tableName: e.TABLE_NAME,
    truelayerEnv: e.TRUELAYER_ENV,
    authUrl: trimSlash(e.TRUELAYER_AUTH_URL ?? hosts.authUrl),
    apiUrl: trimSlash(e.TRUELAYER_API_URL ?? hosts.apiUrl),
    providers: e.TRUELAYER_PROVIDERS ?? defaultProviders[e.TRUELAYER_ENV],
    credentials: e.TRUELAYER_SECRET_ID
      ? { secretId: e.TRUELAYER_SECRET_ID }
      : { clientId: e.TRUELAYER_CLIENT_ID ?? 'sandbox-local', clientSecret: e.TRUELAYER_CLIENT_SECRET ?? 'local-secret' },
    truelayerTimeoutMs: e.TRUELAYER_TIMEOUT_MS,
    truelayerTokenTimeoutMs: e.TRUELAYER_TOKEN_TIMEOUT_MS,
    refreshLeaseMs: refreshLeaseMsFor(e.TRUELAYER_TOKEN_TIMEOUT_MS),
    apiGatewayTimeoutMs: e.API_GATEWAY_TIMEOUT_MS,
    tokenRefreshAheadMs: e.TOKEN_REFRESH_AHEAD_MS,
    tokenKey: e.TOKEN_KMS_KEY_ID
      ? { kmsKeyId: e.TOKEN_KMS_KEY_ID }
      : { localKey: new Uint8Array(Buffer.from(e.LOCAL_TOKEN_KEY ?? '', 'base64')) },
    allowedReturnUrls: e.ALLOWED_RETURN_URLS,
    corsOrigins: e.CORS_ORIGINS,
    callbackUrl: e.CALLBACK_URL,
    dynamodbEndpoint: e.DYNAMODB_ENDPOINT,
    region: e.AWS_REGION,
    unattendedDailyLimit: e.UNATTENDED_DAILY_LIMIT,
    metrics: { enabled: (e.METRICS ?? (e.TRUELAYER_ENV === 'local' ? 'off' : 'emf')) === 'emf', namespace: e.POWERTOOLS_METRICS_NAMESPACE },
    eventBusName: e.EVENT_BUS_NAME,
    webhook: e.WEBHOOK_URL
      ? { url: e.WEBHOOK_URL, secret: e.WEBHOOK_SECRET_ID ? { secretId: e.WEBHOOK_SECRET_ID } : { value: e.WEBHOOK_SECRET ?? '' } }
      : undefined,
    accountHashKey: e.ACCOUNT_HASH_SECRET_ID
      ? { secretId: e.ACCOUNT_HASH_SECRET_ID }
      : e.ACCOUNT_HASH_KEY
        ? { value: e.ACCOUNT_HASH_KEY }
        : undefined,
    secretsExtensionPort: e.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT,
  };
};
