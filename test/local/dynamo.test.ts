/** The embedded DynamoDB: the table comes from the one shared definition, over the real SDK. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDynamo } from '../../local/dynamo';
import { startDynamo } from '../../local/dynamo';
import { tableDefinition } from '../../shared/table';

describe('table creation', () => {
  let dynamo: RunningDynamo;

  beforeAll(async () => {
    dynamo = await startDynamo({ port: 0, tableName: 'connections-test' });
  });

  afterAll(() => dynamo.close());

  it('creates the table ACTIVE with the shared key schema and on-demand billing', async () => {
    const { Table } = await dynamo.client().send(new DescribeTableCommand({ TableName: 'connections-test' }));
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.KeySchema).toEqual([{ AttributeName: tableDefinition.partitionKey.name, KeyType: 'HASH' }]);
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
  });

  it('creates the owner index with its hash and range keys, projecting only what a list shows (never the token blob)', async () => {
    const { Table } = await dynamo.client().send(new DescribeTableCommand({ TableName: 'connections-test' }));
    const index = Table?.GlobalSecondaryIndexes?.find((candidate) => candidate.IndexName === tableDefinition.ownerIndex.name);
    expect(index?.KeySchema).toEqual([
      { AttributeName: tableDefinition.ownerIndex.partitionKey.name, KeyType: 'HASH' },
      { AttributeName: tableDefinition.ownerIndex.sortKey.name, KeyType: 'RANGE' },
    ]);
    expect(index?.Projection?.ProjectionType).toBe('INCLUDE');
    expect(index?.Projection?.NonKeyAttributes).toEqual(expect.arrayContaining(['status', 'scopes', 'provider']));
    expect(index?.Projection?.NonKeyAttributes).not.toContain('tokens');
    expect(index?.IndexStatus).toBe('ACTIVE');
  });

  it('listens on a real port the SDK reaches', () => {
    expect(dynamo.endpoint).toBe(`http://127.0.0.1:${dynamo.port}`);
    expect(dynamo.port).toBeGreaterThan(0);
  });
});

describe('persistence', () => {
  it('keeps items across restarts when given a folder', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'dynalite-'));
    try {
      const first = await startDynamo({ port: 0, tableName: 'persisted', path: folder });
      await first.client().send(new PutItemCommand({ TableName: 'persisted', Item: { pk: { S: 'conn#1' } } }));
      await first.close();
      const second = await startDynamo({ port: 0, tableName: 'persisted', path: folder });
      try {
        const { Item } = await second.client().send(new GetItemCommand({ TableName: 'persisted', Key: { pk: { S: 'conn#1' } } }));
        expect(Item).toEqual({ pk: { S: 'conn#1' } });
      } finally {
        await second.close();
      }
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
