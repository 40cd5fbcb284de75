/**
 * The one composition root: builds every collaborator from the validated configuration, once per
 * container, lazily (the first request pays, an import does not). Handlers get what they need from
 * here and nothing reaches AWS through a module singleton elsewhere.
 *
 * Each function entry names itself and hands in the AWS adapters its capabilities allow (KMS for the
 * token key, EventBridge for events), so a bundle carries only the clients its function calls: the
 * adapters live in their own modules and an entry that does not import one does not bundle it. The
 * names are checked against the route table's capabilities on first use, the same list CDK grants
 * IAM from, so an entry cannot be handed a client its role may not call, nor miss one it needs.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Capability, FunctionName } from '../functions/routes';
import { functionSpecs } from '../functions/routes';
import { type Clock, systemClock } from './clock';
import { type Config, loadConfig } from './config';
import { newState } from './connections/auth-state';
import type { ReadPaceServices } from './connections/read-data';
import { ReadPaceStore } from './connections/read-pace-store';
import { ConnectionRepository } from './connections/repository';
import { ResponseCache } from './connections/response-cache';
import type { ConnectionServices } from './connections/services';
import { TokenVault } from './connections/token-vault';
import { TransactionPages } from './connections/transaction-pages';
import { UnattendedBudget } from './connections/unattended-budget';
import { type DataKeyProvider, LocalDataKeyProvider } from './crypto/data-keys';
import { DataKeyError } from './crypto/errors';
import { TokenCipher } from './crypto/token-cipher';
import { Outbox } from './lifecycle/outbox';
import { type EventPublisher, publishToAll, WebhookPublisher } from './lifecycle/publishers';
import { createLogger } from './logger';
import { ProviderCatalogue } from './providers/provider-catalogue';
import { ExtensionSecretReader, type SecretReader, StoredSecret } from './secrets/extension-secrets';
import { createMetrics } from './telemetry';
import { traced, xrayTracing } from './tracing';
import { TrueLayerAuthClient } from './truelayer/auth-client';
import { type ClientCredentialsSource, createCredentialsSource } from './truelayer/client-credentials';
import { TrueLayerDataClient } from './truelayer/data-client';
import { TrueLayerProvidersClient } from './truelayer/providers-client';

export const logger = createLogger();

/**
 * The AWS clients a function may call besides DynamoDB, as factories of the ports the core uses.
 * `kms`: shared/crypto/kms-data-keys.ts (`kmsDataKeys`); `eventBus`:
 * shared/lifecycle/event-bridge.ts (`eventBridgePublisher`).
 */
export interface AwsAdapters {
  kms?: (options: { keyId: string; region: string }) => DataKeyProvider;
  eventBus?: (options: { busName: string; region: string }) => EventPublisher;
}

export interface Dependencies {
  config: Config;
  clock: Clock;
  services: ConnectionServices;
  /** The unattended budget, the response cache and transaction pages (data reads only). */
  pace: ReadPaceServices;
}

export interface ProviderDependencies {
  config: Config;
  /** TrueLayer's provider list, cached an hour in this container. */
  providers: ProviderCatalogue;
}

/**
 * What a local process hands the composition instead of AWS: its one clock (shared with the
 * simulator), where events go besides the webhook, and a hook to wrap the publisher (fault
 * injection in tests). Deployed functions never set these.
 */
export interface LocalParts {
  clock?: Clock;
  publishers?: EventPublisher[];
  wrapPublisher?: (publisher: EventPublisher) => EventPublisher;
}

let localParts: LocalParts = {};
/** Bumped by `useLocalParts`, so every container-level value is built again with the new parts. */
let generation = 0;

export const useLocalParts = (parts: LocalParts): void => {
  localParts = parts;
  generation += 1;
};

/** `build` once per container (and again after `useLocalParts`), from process.env on first use. */
const perContainer = <T>(build: (config: Config) => T): (() => T) => {
  let value: { generation: number; built: T } | undefined;
  return () => {
    if (value?.generation !== generation) value = { generation, built: build(loadConfig()) };
    return value.built;
  };
};

/** The capabilities that need an adapter, and which one. */
const adapterFor: Partial<Record<Capability, keyof AwsAdapters>> = {
  'tokenKey:encrypt': 'kms',
  'tokenKey:decrypt': 'kms',
  'events:publish': 'eventBus',
};

/** Refuses adapters that do not match the function's capabilities, in either direction. */
export const checkAdapters = (name: FunctionName, aws: AwsAdapters): void => {
  const needed = new Set(functionSpecs[name].uses.flatMap((capability) => adapterFor[capability] ?? []));
  for (const adapter of ['kms', 'eventBus'] as const) {
    if (needed.has(adapter) && !aws[adapter])
      throw new Error(`${functionSpecs[name].entry}: ${name} holds a capability that needs the ${adapter} adapter; pass it`);
    if (!needed.has(adapter) && aws[adapter])
      throw new Error(`${name} was given the ${adapter} adapter but none of its capabilities allows it (functions/routes.ts)`);
  }
};

/** For a function whose role holds no token key: any use is a bug, and says so. */
const noTokenKey: DataKeyProvider = {
  generateDataKey: () => Promise.reject(new DataKeyError('this function holds no token key (no tokenKey capability)')),
  decryptDataKey: () => Promise.reject(new DataKeyError('this function holds no token key (no tokenKey capability)')),
};

/**
 * One reader per container for every secret configured by id, through the Parameters and Secrets
 * extension beside the function (no Secrets Manager client in the bundle); none when no secret is.
 */
const secretReaderFor = (config: Config, clock: Clock): SecretReader | undefined =>
  [config.credentials, config.webhook?.secret, config.accountHashKey].some((source) => source && 'secretId' in source)
    ? new ExtensionSecretReader({ port: config.secretsExtensionPort, clock, trace: xrayTracing })
    : undefined;

const secretValue = (source: { secretId: string } | { value: string }, reader: SecretReader | undefined): (() => Promise<string>) => {
  if ('value' in source) return async () => source.value;
  if (!reader) throw new Error(`secret ${source.secretId} has no reader`);
  const secret = new StoredSecret({ secretId: source.secretId, reader });
  return () => secret.get();
};

const buildPublisher = (config: Config, aws: AwsAdapters, secrets: SecretReader | undefined): EventPublisher => {
  const publishers: EventPublisher[] = [...(localParts.publishers ?? [])];
  if (config.eventBusName) {
    if (!aws.eventBus) throw new Error('EVENT_BUS_NAME is set for a function without the events:publish capability');
    publishers.push(aws.eventBus({ busName: config.eventBusName, region: config.region }));
  }
  if (config.webhook)
    publishers.push(new WebhookPublisher({ url: config.webhook.url, secret: { get: secretValue(config.webhook.secret, secrets) } }));
  const all = publishToAll(publishers);
  return localParts.wrapPublisher ? localParts.wrapPublisher(all) : all;
};

/** What every function that calls TrueLayer shares: no AWS client among them. */
interface Basics {
  clock: Clock;
  /** Reads every secret configured by id; undefined when none is. */
  secrets: SecretReader | undefined;
  credentials: ClientCredentialsSource;
}

const basics = (config: Config): Basics => {
  const clock = localParts.clock ?? systemClock;
  const secrets = secretReaderFor(config, clock);
  return { clock, secrets, credentials: createCredentialsSource(config.credentials, { reader: secrets }) };
};

export const buildDependencies = (config: Config, aws: AwsAdapters): Dependencies => {
  const { clock, secrets, credentials } = basics(config);
  const metrics = createMetrics(config.metrics);
  // Every AWS SDK client is traced (a subsegment per call, when X-Ray is on); TrueLayer calls get their own.
  const dynamo = traced(
    new DynamoDBClient({
      region: config.region,
      ...(config.dynamodbEndpoint ? { endpoint: config.dynamodbEndpoint } : {}),
      // Lambda to DynamoDB is fast; fail over to a clear 503 rather than hang the function.
      maxAttempts: 3,
    }),
  );
  const repository = new ConnectionRepository({ client: dynamo, tableName: config.tableName });
  const keys =
    'kmsKeyId' in config.tokenKey
      ? (aws.kms?.({ keyId: config.tokenKey.kmsKeyId, region: config.region }) ?? noTokenKey)
      : new LocalDataKeyProvider(config.tokenKey.localKey);
  const cipher = new TokenCipher({ keys, clock });
  const telemetry = { metrics, trace: xrayTracing };
  const auth = new TrueLayerAuthClient({
    authUrl: config.authUrl,
    credentials,
    clock,
    timeoutMs: config.truelayerTokenTimeoutMs,
    telemetry,
  });
  const data = new TrueLayerDataClient({
    apiUrl: config.apiUrl,
    credentials,
    clock,
    timeoutMs: config.truelayerTimeoutMs,
    tokenTimeoutMs: config.truelayerTokenTimeoutMs,
    telemetry,
  });
  const log = {
    info: (message: string, fields?: Record<string, unknown>) => logger.info(message, fields ?? {}),
    warn: (message: string, fields?: Record<string, unknown>) => logger.warn(message, fields ?? {}),
  };
  const outbox = new Outbox({ repository, publisher: buildPublisher(config, aws, secrets), clock, log: log.warn });
  // The lease outlives the longest refresh call, so a live holder never loses it.
  const vault = new TokenVault({
    repository,
    cipher,
    auth,
    clock,
    tokenTimeoutMs: config.truelayerTokenTimeoutMs,
    leaseMs: config.refreshLeaseMs,
    refreshAheadMs: config.tokenRefreshAheadMs,
    log: log.warn,
    metrics,
    newEventId: randomUUID,
    afterTransition: (record) => outbox.flushQuietly(record),
  });
  const accountHashKey = config.accountHashKey ? secretValue(config.accountHashKey, secrets) : undefined;
  const paceStore = new ReadPaceStore({ client: dynamo, tableName: config.tableName });
  const pace: ReadPaceServices = {
    budget: new UnattendedBudget({ store: paceStore, clock, limit: config.unattendedDailyLimit }),
    cache: new ResponseCache({ store: paceStore, cipher, clock, warn: log.warn }),
    pages: new TransactionPages(cipher),
  };
  return {
    config,
    clock,
    pace,
    services: {
      config,
      clock,
      repository,
      vault,
      cipher,
      auth,
      data,
      log,
      metrics,
      newId: randomUUID,
      newState: () => newState(),
      newSecret: () => randomBytes(32).toString('base64url'),
      outbox,
      ...(accountHashKey ? { accountHashKey } : {}),
    },
  };
};

/** A connection function's dependencies, built on first use; `aws` must match its capabilities. */
export const connectionDependencies = (name: FunctionName, aws: AwsAdapters): (() => Dependencies) => {
  checkAdapters(name, aws);
  return perContainer((config) => buildDependencies(config, aws));
};

/** `GET /providers`: the client credentials and TrueLayer, nothing stored, no AWS client. */
export const providerDependencies = perContainer((config): ProviderDependencies => {
  const { clock, credentials } = basics(config);
  return {
    config,
    providers: new ProviderCatalogue({
      client: new TrueLayerProvidersClient({ authUrl: config.authUrl, credentials, clock, timeoutMs: config.truelayerTimeoutMs }),
      clock,
    }),
  };
});
