/**
 * The embedded DynamoDB of the local stack: dynalite on a real port, so handlers, the AWS CLI and
 * SDK scripts all reach it over HTTP, with the table created from the one shared definition.
 */

import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { createTableInput, tableDefinition } from '../shared/table';
import { closeServer, httpOrigin, listen } from './http';

interface DynaliteOptions {
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}

// dynalite is CommonJS without type declarations; this is the one function we use.
const dynalite = createRequire(import.meta.url)('dynalite') as (options: DynaliteOptions) => Server;

export interface DynamoOptions {
  /** Default 8000; 0 picks a free port. */
  port?: number;
  host?: string;
  /** A folder to persist the data in (LevelDB); in memory when absent. */
  path?: string;
  tableName: string;
  region?: string;
}

export interface RunningDynamo {
  /** e.g. http://127.0.0.1:8000 */
  endpoint: string;
  port: number;
  tableName: string;
  /** False while dynalite lacks UpdateTimeToLive: expired auth states then stay until read (they are checked on read). */
  ttlEnabled: boolean;
  /** A client for this endpoint (dummy credentials), for scripts and tests. */
  client(): DynamoDBClient;
  close(): Promise<void>;
}

const errorName = (error: unknown): string | undefined => (error instanceof Error ? error.name : undefined);

const waitUntilActive = async (client: DynamoDBClient, tableName: string): Promise<void> => {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE');
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
};

export const startDynamo = async (options: DynamoOptions): Promise<RunningDynamo> => {
  const host = options.host ?? '127.0.0.1';
  const server = dynalite({ path: options.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const { port } = await listen(server, options.port ?? 8000, host);
  const endpoint = httpOrigin(host, port);
  const clients: DynamoDBClient[] = [];
  const client = (): DynamoDBClient => {
    const created = new DynamoDBClient({
      endpoint,
      region: options.region ?? 'eu-west-2',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    clients.push(created);
    return created;
  };

  let ttlEnabled = false;
  try {
    const admin = client();
    try {
      await admin.send(new CreateTableCommand(createTableInput(options.tableName)));
    } catch (error) {
      // A persisted folder already holds the table from an earlier run.
      if (errorName(error) !== 'ResourceInUseException') throw error;
    }
    await waitUntilActive(admin, options.tableName);
    try {
      await admin.send(
        new UpdateTimeToLiveCommand({
          TableName: options.tableName,
          TimeToLiveSpecification: { AttributeName: tableDefinition.ttlAttribute, Enabled: true },
        }),
      );
      ttlEnabled = true;
    } catch (error) {
      if (errorName(error) !== 'UnknownOperationException') throw error;
    }
  } catch (error) {
    for (const created of clients) created.destroy();
    await closeServer(server);
    throw error;
  }

  return {
    endpoint,
    port,
    tableName: options.tableName,
    ttlEnabled,
    client,
    close: async () => {
      for (const created of clients) created.destroy();
      await closeServer(server);
    },
  };
};
