/**
 * DynamoDB storage for reading at the bank's pace: the unattended-call counters and the cached last
 * good responses, each an item of its own in the one table. Single-item conditional writes only.
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DependencyUnavailableError } from '../errors';
import { cachedResponseKey, tableDefinition, unattendedBudgetKey } from '../table';

const isConditionFailure = (error: unknown): boolean =>
  error instanceof ConditionalCheckFailedException || (error instanceof Error && error.name === 'ConditionalCheckFailedException');

const isUnavailable = (error: unknown): boolean => {
  const e = error as { $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  return (
    status === undefined || status >= 500 || Boolean(e.$retryable) || /Throttl|Throughput|LimitExceeded/.test((error as Error)?.name ?? '')
  );
};

/** A hash that stands for a path (with its account id) in a key, so no account id is stored in clear. */
export const keyHash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 40);

/** One counter: the epoch-ms times of the unattended calls sent upstream, and the version they were read at. */
export interface BudgetCounter {
  calls: number[];
  /** 0 when the item does not exist yet. */
  version: number;
}

export interface CachedItem {
  blob: string;
  fetchedAt: number;
}

export class ReadPaceStore {
  private readonly doc: DynamoDBDocumentClient;
  /** DynamoDB calls made, for the bench's cost-per-request row. */
  calls = 0;

  constructor(private readonly options: { client: DynamoDBClient; tableName: string }) {
    this.doc = DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } });
  }

  private async send<T>(operation: () => Promise<T>): Promise<T> {
    this.calls += 1;
    try {
      return await operation();
    } catch (error) {
      if (isConditionFailure(error) || !isUnavailable(error)) throw error;
      throw new DependencyUnavailableError('The connection store is unavailable; try again shortly.', error);
    }
  }

  async readCounter(connectionId: string, endpointHash: string): Promise<BudgetCounter> {
    const out = await this.send(() =>
      this.doc.send(
        new GetCommand({
          TableName: this.options.tableName,
          Key: { pk: unattendedBudgetKey(connectionId, endpointHash) },
          ConsistentRead: true,
        }),
      ),
    );
    const item = out.Item;
    if (!item) return { calls: [], version: 0 };
    const calls = Array.isArray(item.calls) ? (item.calls as unknown[]).filter((at): at is number => typeof at === 'number') : [];
    return { calls, version: typeof item.version === 'number' ? item.version : 0 };
  }

  /**
   * Replaces the call list only if nobody wrote since `expectedVersion` was read: the one condition
   * that keeps concurrent callers from all taking the last slot. False when someone else won.
   */
  async writeCounter(
    connectionId: string,
    endpointHash: string,
    expectedVersion: number,
    calls: number[],
    expiresAtMs: number,
  ): Promise<boolean> {
    try {
      await this.send(() =>
        this.doc.send(
          new UpdateCommand({
            TableName: this.options.tableName,
            Key: { pk: unattendedBudgetKey(connectionId, endpointHash) },
            UpdateExpression: 'SET kind = :k, calls = :c, version = :next, #ttl = :ttl',
            ConditionExpression: expectedVersion === 0 ? 'attribute_not_exists(pk)' : 'version = :v',
            ExpressionAttributeNames: { '#ttl': tableDefinition.ttlAttribute },
            ExpressionAttributeValues: {
              ':k': 'unattended',
              ':c': calls,
              ':next': expectedVersion + 1,
              ':ttl': Math.ceil(expiresAtMs / 1000),
              ...(expectedVersion === 0 ? {} : { ':v': expectedVersion }),
            },
          }),
        ),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async getCached(connectionId: string, requestHash: string): Promise<CachedItem | undefined> {
    const out = await this.send(() =>
      this.doc.send(new GetCommand({ TableName: this.options.tableName, Key: { pk: cachedResponseKey(connectionId, requestHash) } })),
    );
    const item = out.Item;
    if (!item || typeof item.blob !== 'string' || typeof item.fetched_at !== 'number') return undefined;
    return { blob: item.blob, fetchedAt: item.fetched_at };
  }

  /** Keeps the newest answer: an older one (a slow request finishing late) never overwrites it. */
  async putCached(connectionId: string, requestHash: string, item: CachedItem, expiresAtMs: number): Promise<void> {
    try {
      await this.send(() =>
        this.doc.send(
          new PutCommand({
            TableName: this.options.tableName,
            Item: {
              pk: cachedResponseKey(connectionId, requestHash),
              kind: 'cached_response',
              blob: item.blob,
              fetched_at: item.fetchedAt,
              [tableDefinition.ttlAttribute]: Math.ceil(expiresAtMs / 1000),
            },
            ConditionExpression: 'attribute_not_exists(pk) OR fetched_at <= :f',
            ExpressionAttributeValues: { ':f': item.fetchedAt },
          }),
        ),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
}
