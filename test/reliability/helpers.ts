/** Shared by the reliability suites: direct table access, problem+json checks, small waits. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import type { LocalStack } from '../../local/stack';
import type { ApiResponse } from '../support/flow';

export type Item = Record<string, unknown>;

/** A client on the embedded DynamoDB itself, past anything the handlers go through. */
export const tableClient = (stack: Pick<LocalStack, 'dynamoEndpoint'>): DynamoDBDocumentClient =>
  DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: stack.dynamoEndpoint,
      region: 'eu-west-2',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );

/** Every item of the table, sorted by key, so two scans compare with toEqual. */
export const scanTable = async (doc: DynamoDBDocumentClient, tableName: string): Promise<Item[]> => {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items.sort((a, b) => String(a.pk).localeCompare(String(b.pk)));
};

export const connectionItem = async (doc: DynamoDBDocumentClient, tableName: string, connectionId: string): Promise<Item> => {
  const out = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: `conn#${connectionId}` }, ConsistentRead: true }));
  if (!out.Item) throw new Error(`no item for connection ${connectionId}`);
  return out.Item;
};

/** An RFC 9457 problem with its members (type, title, status, detail, code) and nothing that looks like internals. */
export const expectProblem = (response: ApiResponse, status?: number): void => {
  if (status !== undefined) expect(response.status, response.text).toBe(status);
  expect(response.headers.get('content-type'), response.text).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    detail: expect.any(String),
    code: expect.stringMatching(/^[a-z0-9_]+$/),
  });
  expect(response.body.status).toBe(response.status);
  expect(response.text).not.toMatch(/\bat .+\.(ts|js):\d+|node_modules|Exception|ECONN|stack/);
};

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const psu = { 'x-psu-ip': '203.0.113.7' } as const;
