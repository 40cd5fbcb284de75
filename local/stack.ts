/**
 * The whole service on one machine: embedded DynamoDB, the TrueLayer simulator, and the local API
 * Gateway calling the same handler modules that are deployed.
 *
 * The handlers read their configuration from process.env, which is process-wide, and Node keeps a
 * module once imported: run one stack per process (vitest runs each test file in its own process).
 */
import { randomBytes } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Route } from '../functions/routes';
import { corsHeaders, functionSpecs, routes } from '../functions/routes';
import { AdjustableClock } from '../shared/clock';
import type { EventPublisher } from '../shared/lifecycle/publishers';
import type { ApiGateway, CorsConfig, LambdaFunction, LambdaHandler } from './api-gateway';
import { createApiGateway } from './api-gateway';
import { createDemoStatic } from './demo-static';
import type { RunningDynamo } from './dynamo';
import { startDynamo } from './dynamo';
import { createLocalLifecycle, type WebhookDelivery } from './lifecycle';
import { createLocalAuth } from './local-auth';
import { type RunningSecretsExtension, startSecretsExtension } from './secrets-extension';
import { startSimulator } from './sim';
import type { RunningSimulator } from './sim/types';

export interface LocalStackOptions {
  /** Local API port. Default 3000; 0 picks a free one (tests). */
  port?: number;
  /** Simulator port. Default 3100; 0 picks a free one. */
  simPort?: number;
  /** Embedded DynamoDB port. Default 8000; 0 picks a free one. */
  dynamoPort?: number;
  /** Default 127.0.0.1. Anything wider exposes `/__local/token` to the network. */
  host?: string;
  /** Simulator refresh-token rotation. Default true, as TrueLayer does. */
  rotateRefreshTokens?: boolean;
  /**
   * How long the local API waits for a function before answering 503 as API Gateway does (the
   * function runs on to its own timeout). Default 29 000 ms; tests shorten it. The handlers are told
   * (API_GATEWAY_TIMEOUT_MS) unless `env` says otherwise.
   */
  gatewayTimeoutMs?: number;
  /** Environment for the handlers, applied over everything the stack sets. */
  env?: Record<string, string>;
  /** Folder to persist DynamoDB in. Default: `DYNAMODB_PATH`, else in memory. */
  dynamoPath?: string;
  /** No per-request log lines. */
  quiet?: boolean;
  /** Where log lines go. Default: stdout (stderr for errors). */
  log?: (line: string) => void;
  /** Wraps the handlers' event publisher (tests inject faults with it). */
  wrapPublisher?: (publisher: EventPublisher) => EventPublisher;
  /**
   * The client the local Parameters and Secrets extension reads with, when a secret is given by id
   * (`TRUELAYER_SECRET_ID`, `WEBHOOK_SECRET_ID`, `ACCOUNT_HASH_SECRET_ID`). Default: one with the
   * shell's AWS credentials and region.
   */
  secretsClient?: SecretsManagerClient;
}

export interface LocalStack {
  /** e.g. http://127.0.0.1:3000 (no trailing slash) */
  apiUrl: string;
  simUrl: string;
  dynamoEndpoint: string;
  tableName: string;
  /** The local Parameters and Secrets extension, when a secret is given by id and no extension port is. */
  secretsExtensionUrl: string | undefined;
  /** The one clock the handlers, the simulator and the gateway share. */
  clock: AdjustableClock;
  simulator: RunningSimulator;
  /** Moves the clock, running the lifecycle worker at every due time on the way (`POST /__local/clock`). */
  advance(seconds: number): Promise<{ worker_runs: number }>;
  /** What `GET /__local/events` lists; and what the local webhook receiver got. */
  events(): readonly unknown[];
  webhookDeliveries(): readonly WebhookDelivery[];
  /** A bearer token for `sub`, as `POST /__local/token` gives. */
  issueToken(sub: string): Promise<string>;
  close(): Promise<void>;
}

/** A port another process holds; the message is the one line `npm start` prints. */
export class PortInUseError extends Error {
  override name = 'PortInUseError';
  constructor(
    readonly port: number,
    readonly envVar: string,
  ) {
    super(`port ${port} is already in use (set ${envVar} to use another)`);
  }
}

const repositoryRoot = new URL('../', import.meta.url);

const isAddressInUse = (error: unknown): boolean => {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth += 1) {
    if ((current as { code?: unknown }).code === 'EADDRINUSE') return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
};

const onPort = async <T>(port: number, envVar: string, start: () => Promise<T>): Promise<T> => {
  try {
    return await start();
  } catch (error) {
    if (isAddressInUse(error)) throw new PortInUseError(port, envVar);
    throw error;
  }
};

const list = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

/** Loads a handler module the first time its function is called, so it sees the stack's env. */
const loadHandler = async (route: Route): Promise<LambdaFunction> => {
  const spec = functionSpecs[route.function];
  const module = (await import(new URL(spec.entry, repositoryRoot).href)) as { handler?: unknown };
  if (typeof module.handler !== 'function') throw new Error(`${spec.entry} does not export a handler function`);
  return {
    handler: module.handler as LambdaHandler,
    functionName: `truelayer-connections-local-${spec.name}`,
    timeoutSeconds: spec.timeoutSeconds,
    memoryMb: spec.memoryMb,
  };
};

const secretIdVariables = ['TRUELAYER_SECRET_ID', 'WEBHOOK_SECRET_ID', 'ACCOUNT_HASH_SECRET_ID'] as const;

/**
 * The handlers read a secret given by id as deployed: through the Parameters and Secrets extension,
 * here the local stand-in on a free port, unless PARAMETERS_SECRETS_EXTENSION_HTTP_PORT names one
 * already running (the bench's). It checks the shell's AWS_SESSION_TOKEN, which the handlers send as
 * theirs; with none (long-term keys), it checks nothing, and no token is made up that the handlers'
 * other AWS clients would then send with those keys.
 */
const startLocalSecretsExtension = async (
  given: (name: string) => string | undefined,
  client: SecretsManagerClient | undefined,
): Promise<(RunningSecretsExtension & { env: Record<string, string>; ownClient: boolean }) | undefined> => {
  if (!secretIdVariables.some((name) => given(name)) || given('PARAMETERS_SECRETS_EXTENSION_HTTP_PORT')) return undefined;
  const ownClient = !client;
  // The shell's credentials, from its variables or its profile, through the SDK's default chain.
  const secretsClient = client ?? new SecretsManagerClient({ region: given('AWS_REGION') ?? 'eu-west-2' });
  const running = await startSecretsExtension({ client: secretsClient, sessionToken: given('AWS_SESSION_TOKEN'), port: 0 }).catch(
    (error: unknown) => {
      if (ownClient) secretsClient.destroy();
      throw error;
    },
  );
  return {
    ...running,
    close: async () => {
      await running.close();
      if (ownClient) secretsClient.destroy();
    },
    env: { PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(running.port) },
    ownClient,
  };
};

export const startLocalStack = async (options: LocalStackOptions = {}): Promise<LocalStack> => {
  const host = options.host ?? '127.0.0.1';
  // The stack's one clock: the handlers' composition, the simulator and the gateway all get it.
  const clock = new AdjustableClock();
  const write = options.log ?? ((line: string) => (line.startsWith('ERROR') ? console.error(line) : console.log(line)));
  const log = (line: string) => {
    if (!options.quiet || line.startsWith('ERROR')) write(line);
  };
  const given = (name: string): string | undefined => options.env?.[name] ?? process.env[name];
  const tableName = given('TABLE_NAME') ?? 'truelayer-connections';
  const truelayerEnv = given('TRUELAYER_ENV') === 'sandbox' || given('TRUELAYER_ENV') === 'live' ? given('TRUELAYER_ENV') : 'local';

  const previousEnv = new Map<string, string | undefined>();
  const setEnv = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) continue;
      if (!previousEnv.has(name)) previousEnv.set(name, process.env[name]);
      process.env[name] = value;
    }
  };
  const restoreEnv = () => {
    for (const [name, value] of previousEnv) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    previousEnv.clear();
  };

  const cleanups: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    const results = await Promise.allSettled(cleanups.reverse().map((cleanup) => cleanup()));
    cleanups.length = 0;
    restoreEnv();
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
  };

  try {
    const dynamoPort = options.dynamoPort ?? 8000;
    const dynamo: RunningDynamo = await onPort(dynamoPort, 'DYNAMODB_PORT', () =>
      startDynamo({
        port: dynamoPort,
        host,
        tableName,
        path: options.dynamoPath || process.env.DYNAMODB_PATH || undefined,
        region: given('AWS_REGION'),
      }),
    );
    cleanups.push(() => dynamo.close());

    const simPort = options.simPort ?? 3100;
    const simulator: RunningSimulator = await onPort(simPort, 'TRUELAYER_SIM_PORT', () =>
      startSimulator({ port: simPort, host, clock, rotateRefreshTokens: options.rotateRefreshTokens ?? true }),
    );
    cleanups.push(() => simulator.close());

    const secretsExtension = await startLocalSecretsExtension(given, options.secretsClient);
    if (secretsExtension) cleanups.push(() => secretsExtension.close());

    setEnv({
      TRUELAYER_ENV: truelayerEnv,
      ...(truelayerEnv === 'local'
        ? {
            TRUELAYER_AUTH_URL: simulator.url,
            TRUELAYER_API_URL: simulator.url,
            TRUELAYER_CLIENT_ID: given('TRUELAYER_CLIENT_ID') ?? 'sandbox-local',
            TRUELAYER_CLIENT_SECRET: given('TRUELAYER_CLIENT_SECRET') ?? 'local-secret',
          }
        : {}),
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      TABLE_NAME: tableName,
      LOCAL_TOKEN_KEY: given('LOCAL_TOKEN_KEY') ?? randomBytes(32).toString('base64'),
      AWS_REGION: given('AWS_REGION') ?? 'eu-west-2',
      ...(options.gatewayTimeoutMs !== undefined ? { API_GATEWAY_TIMEOUT_MS: String(options.gatewayTimeoutMs) } : {}),
      // dynalite ignores signatures; real credentials already in the shell are harmless and kept, and
      // reading a real secret needs them (from a profile too, which placeholder keys would shadow).
      ...((given('AWS_ACCESS_KEY_ID') && given('AWS_SECRET_ACCESS_KEY')) || secretsExtension?.ownClient
        ? {}
        : { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' }),
      ...(secretsExtension ? secretsExtension.env : {}),
    });

    // Resolved once the handlers' environment is set (the composition reads it on first use).
    let lifecycleModule: Promise<typeof import('../functions/lifecycle')> | undefined;
    const lifecycleFunction = () => (lifecycleModule ??= import(new URL(functionSpecs.lifecycle.entry, repositoryRoot).href));
    const lifecycle = createLocalLifecycle({
      clock,
      runWorker: async () => {
        await envSet;
        return (await lifecycleFunction()).handler({ source: 'aws.scheduler', 'detail-type': 'Scheduled Event', detail: {} });
      },
      nextDueTime: async (after, until) => {
        await envSet;
        return (await lifecycleFunction()).dependencies().services.repository.nextDueTime(after, until);
      },
    });
    const auth = await createLocalAuth({ clock, advance: (seconds) => lifecycle.advance(seconds) });
    const corsOrigins = list(given('CORS_ORIGINS'));
    // The same CORS configuration the CDK stack gives the HTTP API when CORS_ORIGINS is set.
    const cors: CorsConfig | undefined =
      corsOrigins.length > 0
        ? {
            allowOrigins: corsOrigins,
            allowHeaders: [...corsHeaders.allow],
            allowMethods: ['GET', 'POST', 'DELETE'],
            exposeHeaders: [...corsHeaders.expose],
            maxAgeSeconds: 600,
          }
        : undefined;

    // Handlers wait for the last env values, which need the API's own port.
    let envReady!: () => void;
    const envSet = new Promise<void>((resolve) => {
      envReady = resolve;
    });
    const gateway: ApiGateway = createApiGateway({
      routes,
      resolveHandler: async (route) => {
        await envSet;
        return loadHandler(route);
      },
      jwt: { issuer: () => auth.issuer, audience: auth.audience, jwks: auth.jwks },
      clock,
      extraRoutes: [...auth.routes, ...lifecycle.routes],
      fallback: createDemoStatic(),
      cors,
      region: given('AWS_REGION') ?? 'eu-west-2',
      ...(options.gatewayTimeoutMs !== undefined ? { integrationTimeoutMs: options.gatewayTimeoutMs } : {}),
      log,
    });
    const port = options.port ?? 3000;
    const listenedUrl = await onPort(port, 'PORT', () => gateway.listen({ port, host }));
    cleanups.push(() => gateway.close());
    const apiPort = Number(new URL(listenedUrl).port);
    const apiUrl = host === '0.0.0.0' || host === '::' ? `http://127.0.0.1:${apiPort}` : listenedUrl;
    auth.setOrigin(apiUrl);
    setEnv({ ALLOWED_RETURN_URLS: given('ALLOWED_RETURN_URLS') ?? `http://127.0.0.1:${apiPort}/,http://localhost:${apiPort}/` });
    setEnv({
      WEBHOOK_URL: given('WEBHOOK_URL') ?? `${apiUrl}/__local/webhook`,
      WEBHOOK_SECRET: given('WEBHOOK_SECRET') ?? lifecycle.secret,
      ACCOUNT_HASH_KEY: given('ACCOUNT_HASH_KEY') ?? randomBytes(32).toString('base64'),
    });
    if (options.env) setEnv(options.env);
    const composition = await import('../shared/composition');
    composition.useLocalParts({
      clock,
      publishers: [lifecycle.sink],
      ...(options.wrapPublisher ? { wrapPublisher: options.wrapPublisher } : {}),
    });
    envReady();
    simulator.addRedirectUris('sandbox-local', [`http://127.0.0.1:${apiPort}/callback`, `http://localhost:${apiPort}/callback`]);

    return {
      apiUrl,
      simUrl: simulator.url,
      dynamoEndpoint: dynamo.endpoint,
      tableName,
      secretsExtensionUrl: secretsExtension?.url,
      clock,
      simulator,
      advance: (seconds: number) => lifecycle.advance(seconds),
      events: () => lifecycle.sink.events,
      webhookDeliveries: () => lifecycle.deliveries,
      issueToken: (sub: string) => auth.issueToken(sub),
      close: closeAll,
    };
  } catch (error) {
    await closeAll().catch(() => undefined);
    throw error;
  }
};
