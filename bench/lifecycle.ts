/**
 * Section 6: one lifecycle worker run over a large table, to show a run costs in proportion to the
 * due items, not to the table. 100,000 connections are seeded straight into an embedded DynamoDB
 * (BatchWriteItem, 25 items a call); 1,000 of them have a consent that ended, the rest are active
 * with their next due time weeks away. The worker runs in-process, as the scheduled Lambda would.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startDynamo } from '../local/dynamo';
import { AdjustableClock } from '../shared/clock';
import { buildDependencies, useLocalParts } from '../shared/composition';
import { loadConfig } from '../shared/config';
import { kmsDataKeys } from '../shared/crypto/kms-data-keys';
import { eventBridgePublisher } from '../shared/lifecycle/event-bridge';
import { MemoryEventSink } from '../shared/lifecycle/publishers';
import { runLifecycle } from '../shared/lifecycle/worker';
import { connectionKey, dueShard, tableDefinition } from '../shared/table';

export interface LifecycleBenchResult {
  connections: number;
  dueSeeded: number;
  seedSeconds: number;
  run: { itemsRead: number; due: number; processed: number; expired: number; eventsPublished: number; failures: number; seconds: number };
  idleRun: { itemsRead: number; seconds: number };
}

const day = 86_400_000;

export const measureLifecycleRun = async (options: {
  connections: number;
  due: number;
  log: (line: string) => void;
}): Promise<LifecycleBenchResult> => {
  const tableName = 'bench-lifecycle';
  const dynamo = await startDynamo({ port: 0, tableName });
  try {
    const clock = new AdjustableClock();
    const now = clock.now();
    const doc = DynamoDBDocumentClient.from(dynamo.client());
    const item = (index: number) => {
      const connectionId = `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
      const isDue = index < options.due;
      const consentExpiresAt = isDue ? now - 60_000 : now + 60 * day;
      const lastRefreshedAt = now - 5 * day;
      const dueAt = isDue ? consentExpiresAt : lastRefreshedAt + 25 * day;
      return {
        pk: connectionKey(connectionId),
        kind: 'connection',
        connection_id: connectionId,
        [tableDefinition.ownerIndex.partitionKey.name]: `owner-${index % 5000}`,
        [tableDefinition.ownerIndex.sortKey.name]: new Date(now - 30 * day).toISOString(),
        status: 'active',
        scopes: ['info', 'accounts', 'balance', 'transactions', 'offline_access'],
        providers: 'uk-cs-mock',
        response_mode: 'query',
        redirect_uri: 'http://127.0.0.1:3000/callback',
        updated_at: new Date(now - 5 * day).toISOString(),
        auth_link_expires_at: new Date(now - 30 * day).toISOString(),
        consent_expires_at: new Date(consentExpiresAt).toISOString(),
        last_refreshed_at: new Date(lastRefreshedAt).toISOString(),
        tokens: `v1.${randomBytes(48).toString('base64url')}`,
        refresh_count: 0,
        version: 1,
        [tableDefinition.dueIndex.partitionKey.name]: dueShard(connectionId),
        [tableDefinition.dueIndex.sortKey.name]: dueAt,
      };
    };
    const seedStarted = performance.now();
    const batches = Math.ceil(options.connections / 25);
    let nextBatch = 0;
    const writer = async () => {
      for (let batch = nextBatch++; batch < batches; batch = nextBatch++) {
        let requests = Array.from({ length: Math.min(25, options.connections - batch * 25) }, (_, i) => ({
          PutRequest: { Item: item(batch * 25 + i) },
        }));
        while (requests.length) {
          const out = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
          requests = (out.UnprocessedItems?.[tableName] ?? []) as typeof requests;
        }
        if (batch % 400 === 0) options.log(`  seeded ${Math.min((batch + 1) * 25, options.connections)} of ${options.connections}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, writer));
    const seedSeconds = (performance.now() - seedStarted) / 1000;

    const sink = new MemoryEventSink();
    useLocalParts({ clock, publishers: [sink] });
    const config = loadConfig({
      TABLE_NAME: tableName,
      TRUELAYER_ENV: 'local',
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      LOCAL_TOKEN_KEY: randomBytes(32).toString('base64'),
      AWS_REGION: 'eu-west-2',
    });
    process.env.AWS_ACCESS_KEY_ID ??= 'local';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
    const { services } = buildDependencies(config, { kms: kmsDataKeys, eventBus: eventBridgePublisher });
    const quiet = { ...services, log: { info: () => undefined, warn: () => undefined } };

    const runStarted = performance.now();
    const result = await runLifecycle(quiet, { now: clock.now() });
    const seconds = (performance.now() - runStarted) / 1000;
    const idleStarted = performance.now();
    const idle = await runLifecycle(quiet, { now: clock.now() });
    const idleSeconds = (performance.now() - idleStarted) / 1000;
    return {
      connections: options.connections,
      dueSeeded: options.due,
      seedSeconds,
      run: {
        itemsRead: result.itemsRead,
        due: result.due,
        processed: result.processed,
        expired: result.expired,
        eventsPublished: result.eventsPublished,
        failures: result.failures.length,
        seconds,
      },
      idleRun: { itemsRead: idle.itemsRead, seconds: idleSeconds },
    };
  } finally {
    useLocalParts({});
    await dynamo.close();
  }
};
