/**
 * The one route table: the CDK stack builds the HTTP API from it and the local API emulator serves
 * it, so the deployed and local routes cannot drift.
 */
export type FunctionName = 'authLink' | 'callback' | 'data' | 'connections' | 'openapi' | 'providers' | 'lifecycle';

/** What a function reaches, so CDK can grant exactly that and nothing more. */
export type Capability =
  | 'table:read'
  | 'table:write'
  | 'tokenKey:encrypt' // kms:GenerateDataKey
  | 'tokenKey:decrypt' // kms:Decrypt
  | 'clientSecret:read'
  | 'dueIndex:read' // dynamodb:Query on the table's sparse due index (tableDefinition.dueIndex)
  | 'events:publish' // events:PutEvents on the stack's bus (EVENT_BUS_NAME)
  | 'webhookSecret:read' // secretsmanager:GetSecretValue on the webhook signing secret (WEBHOOK_SECRET_ID)
  | 'accountHashKey:read'; // secretsmanager:GetSecretValue on the account hash key (ACCOUNT_HASH_SECRET_ID)

export interface FunctionSpec {
  name: FunctionName;
  /** Entry file, relative to the repository root; it exports `handler`. */
  entry: string;
  description: string;
  uses: readonly Capability[];
  /**
   * Seconds. A function that makes token calls (code exchange, refresh, extend) runs past API
   * Gateway's 29 s (`tokenCallFunctionTimeoutSeconds`): when the gateway has already answered the
   * client, the invocation still finishes the token call and stores the pair TrueLayer rotated.
   */
  timeoutSeconds: number;
  memoryMb: number;
  /** Run by a schedule instead of a route: how often. */
  schedule?: { everyMinutes: number };
}

/** What API Gateway (an HTTP API integration) waits for a function's answer before it answers 503 itself. */
export const apiGatewayTimeoutSeconds = 29;

/** Above API Gateway's 29 s and the 50 s token-call deadline, with room to store what the call returned. */
const tokenCallFunctionTimeoutSeconds = 60;

/** The functions that make token calls, so tests can check each outlives both deadlines. */
export const tokenCallingFunctions: readonly FunctionName[] = ['callback', 'data', 'connections', 'lifecycle'];

/**
 * What a function that reads and refreshes stored tokens holds: the table, the token key both ways
 * (open the pair, seal the new one), the client secret for the refresh, and events with their webhook
 * secret (a refused refresh ends the connection, and that is published).
 */
const refreshesTokens: readonly Capability[] = [
  'table:read',
  'table:write',
  'tokenKey:encrypt',
  'tokenKey:decrypt',
  'clientSecret:read',
  'events:publish',
  'webhookSecret:read',
];

export const functionSpecs: Record<FunctionName, FunctionSpec> = {
  authLink: {
    name: 'authLink',
    entry: 'functions/auth-link.ts',
    description: 'POST /connections: creates a connection and its TrueLayer auth link',
    // Reads the owner's pending slots. The PKCE verifier is sealed under a key from the state, not KMS.
    uses: ['table:read', 'table:write', 'clientSecret:read'],
    timeoutSeconds: 10,
    memoryMb: 256,
  },
  callback: {
    name: 'callback',
    entry: 'functions/callback.ts',
    description: 'GET|POST /callback: consumes the state, exchanges the code, stores the tokens',
    // Seals the exchanged tokens (encrypt only): it never opens a stored token, so it cannot decrypt one.
    uses: ['table:read', 'table:write', 'tokenKey:encrypt', 'clientSecret:read'],
    timeoutSeconds: tokenCallFunctionTimeoutSeconds,
    memoryMb: 256,
  },
  data: {
    name: 'data',
    entry: 'functions/data.ts',
    description: "GET /connections/{id}/{data path}: proxies TrueLayer Data API v1 at the bank's pace (budget, cache, pages)",
    uses: refreshesTokens,
    timeoutSeconds: tokenCallFunctionTimeoutSeconds,
    memoryMb: 256,
  },
  connections: {
    name: 'connections',
    entry: 'functions/connections.ts',
    description: 'GET/DELETE /connections[/{id}], POST /connections/{id}/extend|complete',
    // The completion activates (connection.activated) and supersedes duplicates (account hash key).
    uses: [...refreshesTokens, 'accountHashKey:read'],
    timeoutSeconds: tokenCallFunctionTimeoutSeconds,
    memoryMb: 256,
  },
  openapi: {
    name: 'openapi',
    entry: 'functions/openapi.ts',
    description: 'GET /openapi.json: the OpenAPI 3.1 document of this API, public',
    uses: [],
    timeoutSeconds: 10,
    memoryMb: 256,
  },
  providers: {
    name: 'providers',
    entry: 'functions/providers.ts',
    description: 'GET /providers: the banks TrueLayer offers this client, cached an hour',
    // Only the client id (from the secret) goes to TrueLayer; nothing is stored.
    uses: ['clientSecret:read'],
    timeoutSeconds: 15,
    memoryMb: 256,
  },
  lifecycle: {
    name: 'lifecycle',
    entry: 'functions/lifecycle.ts',
    description: 'Scheduled: keep-alive refreshes, expiry notices, expiry, lapsed links; publishes the event outbox',
    uses: [...refreshesTokens, 'dueIndex:read'],
    // Stops starting new items 30 s before this; what is left stays due for the next run.
    timeoutSeconds: 300,
    memoryMb: 512,
    schedule: { everyMinutes: 15 },
  },
};

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

export interface Route {
  method: HttpMethod;
  /** API Gateway HTTP API route path: `{name}` is one segment, a final `{name+}` the greedy rest. */
  path: string;
  function: FunctionName;
  /** `jwt`: behind the JWT authorizer; `none`: public (/callback, where TrueLayer sends the browser; /openapi.json). */
  auth: 'jwt' | 'none';
}

export const routes: readonly Route[] = [
  { method: 'POST', path: '/connections', function: 'authLink', auth: 'jwt' },
  { method: 'GET', path: '/connections', function: 'connections', auth: 'jwt' },
  { method: 'GET', path: '/connections/{id}', function: 'connections', auth: 'jwt' },
  { method: 'DELETE', path: '/connections/{id}', function: 'connections', auth: 'jwt' },
  { method: 'POST', path: '/connections/{id}/extend', function: 'connections', auth: 'jwt' },
  { method: 'POST', path: '/connections/{id}/complete', function: 'connections', auth: 'jwt' },
  { method: 'GET', path: '/connections/{id}/{proxy+}', function: 'data', auth: 'jwt' },
  { method: 'GET', path: '/providers', function: 'providers', auth: 'jwt' },
  { method: 'GET', path: '/callback', function: 'callback', auth: 'none' },
  { method: 'POST', path: '/callback', function: 'callback', auth: 'none' },
  { method: 'GET', path: '/openapi.json', function: 'openapi', auth: 'none' },
];

/**
 * CORS for browser apps on other origins (when CORS_ORIGINS is set), for the HTTP API and the local
 * emulator alike: the headers an app may send (X-PSU-IP marks the user present; If-None-Match
 * revalidates) and the ones it may read (the unattended budget, the cache's age, the ETag).
 */
export const corsHeaders = {
  allow: ['authorization', 'content-type', 'if-none-match', 'x-psu-ip'],
  expose: ['location', 'retry-after', 'x-tl-correlation-id', 'etag', 'age', 'x-data-source', 'x-unattended-remaining'],
} as const;

/** The API Gateway route key, e.g. `GET /connections/{id}`. */
export const routeKey = (route: Route): string => `${route.method} ${route.path}`;
