/**
 * The one composition root: builds every collaborator from the validated configuration, once per
 * container, lazily (the first request pays, an import does not). Handlers get what they need from
 * here and nothing reaches AWS through a module singleton elsewhere.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
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
import { createDataKeyProvider } from './crypto/data-keys';
import { TokenCipher } from './crypto/token-cipher';
import { Outbox } from './lifecycle/outbox';
import { EventBridgePublisher, type EventPublisher, publishToAll, StoredWebhookSecret, WebhookPublisher } from './lifecycle/publishers';
import { createLogger } from './logger';
import { ProviderCatalogue } from './providers/provider-catalogue';
import { ExtensionSecretReader, type SecretReader } from './secrets/extension-secrets';
import { createMetrics, traced, xrayTracing } from './telemetry';
import { TrueLayerAuthClient } from './truelayer/auth-client';
import { createCredentialsSource } from './truelayer/client-credentials';
import { TrueLayerDataClient } from './truelayer/data-client';
import { TrueLayerProvidersClient } from './truelayer/providers-client';

export const logger = createLogger();

export interface Dependencies {
  config: Config;
  clock: Clock;
  services: ConnectionServices;
  /** The unattended budget, the response cache and transaction pages (data reads only). */
  pace: ReadPaceServices;
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

export const useLocalParts = (parts: LocalParts): void => {
  localParts = parts;
  built = undefined;
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
  const secret = new StoredWebhookSecret({ secretId: source.secretId, reader });
  return () => secret.get();
};

const buildPublisher = (config: Config, secrets: SecretReader | undefined): EventPublisher => {
  const publishers: EventPublisher[] = [...(localParts.publishers ?? [])];
  if (config.eventBusName) publishers.push(new EventBridgePublisher({ busName: config.eventBusName }));
  if (config.webhook)
    publishers.push(new WebhookPublisher({ url: config.webhook.url, secret: { get: secretValue(config.webhook.secret, secrets) } }));
  const all = publishToAll(publishers);
  return localParts.wrapPublisher ? localParts.wrapPublisher(all) : all;
};

export const buildDependencies = (config: Config): Dependencies => {
  const clock = localParts.clock ?? systemClock;
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
  const kmsClient = 'kmsKeyId' in config.tokenKey ? traced(new KMSClient({ region: config.region })) : undefined;
  const cipher = new TokenCipher({ keys: createDataKeyProvider(config.tokenKey, kmsClient ? { kmsClient } : {}), clock });
  const secrets = secretReaderFor(config, clock);
  const credentials = createCredentialsSource(config.credentials, { reader: secrets });
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
  const outbox = new Outbox({ repository, publisher: buildPublisher(config, secrets), clock, log: log.warn });
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
    providers: new ProviderCatalogue({
      client: new TrueLayerProvidersClient({ authUrl: config.authUrl, credentials, clock, timeoutMs: config.truelayerTimeoutMs }),
      clock,
    }),
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

let built: Dependencies | undefined;

/** The container's dependencies, built from process.env on first use. */
export const dependencies = (): Dependencies => (built ??= buildDependencies(loadConfig()));
