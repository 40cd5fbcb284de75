/**
 * DynamoDB storage of connections and auth states: single-item conditional writes only (no
 * transactions), a `version` for optimistic concurrency, and the refresh lease fields.
 */
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { DependencyUnavailableError } from '../errors';
import { connectionKey, stateKey, tableDefinition } from '../table';
import type { AuthStateRecord } from './auth-state';
import type { ConnectionRecord, StatusReason, StoredStatus } from './connection';

type Item = Record<string, unknown>;

const toItem = (r: ConnectionRecord): Item => ({
  pk: connectionKey(r.connectionId),
  kind: 'connection',
  connection_id: r.connectionId,
  [tableDefinition.ownerIndex.partitionKey.name]: r.owner,
  status: r.status,
  status_reason: r.statusReason,
  status_detail: r.statusDetail,
  scopes: r.scopes,
  providers: r.providers,
  provider_id: r.providerId,
  response_mode: r.responseMode,
  return_url: r.returnUrl,
  redirect_uri: r.redirectUri,
  [tableDefinition.ownerIndex.sortKey.name]: r.createdAt,
  updated_at: r.updatedAt,
  auth_link_expires_at: r.authLinkExpiresAt,
  provider: r.provider,
  credentials_id: r.credentialsId,
  consent_created_at: r.consentCreatedAt,
  consent_expires_at: r.consentExpiresAt,
  tokens: r.tokens,
  access_token_expires_at: r.accessTokenExpiresAt,
  last_refreshed_at: r.lastRefreshedAt,
  refresh_count: r.refreshCount,
  refresh_outcome_unknown_at: r.refreshOutcomeUnknownAt,
  version: r.version,
  lease_holder: r.leaseHolder,
  lease_expires_at: r.leaseExpiresAt,
});

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

const fromItem = (i: Item): ConnectionRecord => ({
  connectionId: String(i.connection_id),
  owner: String(i[tableDefinition.ownerIndex.partitionKey.name]),
  status: i.status as StoredStatus,
  statusReason: str(i.status_reason) as StatusReason | undefined,
  statusDetail: str(i.status_detail),
  scopes: Array.isArray(i.scopes) ? (i.scopes as string[]) : [],
  providers: String(i.providers ?? ''),
  providerId: str(i.provider_id),
  responseMode: i.response_mode === 'form_post' ? 'form_post' : 'query',
  returnUrl: str(i.return_url),
  redirectUri: String(i.redirect_uri),
  createdAt: String(i[tableDefinition.ownerIndex.sortKey.name]),
  updatedAt: String(i.updated_at),
  authLinkExpiresAt: String(i.auth_link_expires_at),
  provider: i.provider as ConnectionRecord['provider'],
  credentialsId: str(i.credentials_id),
  consentCreatedAt: str(i.consent_created_at),
  consentExpiresAt: str(i.consent_expires_at),
  tokens: str(i.tokens),
  accessTokenExpiresAt: num(i.access_token_expires_at),
  lastRefreshedAt: str(i.last_refreshed_at),
  refreshCount: num(i.refresh_count) ?? 0,
  refreshOutcomeUnknownAt: str(i.refresh_outcome_unknown_at),
  version: num(i.version) ?? 0,
  leaseHolder: str(i.lease_holder),
  leaseExpiresAt: num(i.lease_expires_at),
});

/** The changes a token write makes, always together and always conditional on the version read. */
export interface TokenWrite {
  tokens: string;
  accessTokenExpiresAt: number;
  status?: StoredStatus;
  statusReason?: null;
  provider?: ConnectionRecord['provider'];
  credentialsId?: string;
  consentCreatedAt?: string;
  consentExpiresAt?: string;
  lastRefreshedAt?: string;
  refreshed?: boolean;
}

const isConditionFailure = (error: unknown): boolean =>
  error instanceof ConditionalCheckFailedException ||
  (error instanceof Error && error.name === 'ConditionalCheckFailedException');

const throttling = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'LimitExceededException']);

const isUnavailable = (error: unknown): boolean => {
  const e = error as { name?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  return status === undefined || status >= 500 || Boolean(e.$retryable) || throttling.has(e.name ?? '');
};

export class ConnectionRepository {
  private readonly doc: DynamoDBDocumentClient;

  constructor(private readonly options: { client: DynamoDBClient; tableName: string }) {
    this.doc = DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } });
  }

  private get table(): string {
    return this.options.tableName;
  }

  /**
   * Every DynamoDB call goes through here so an outage (no answer, throttling, a 5xx) is one clear
   * 503. Anything else DynamoDB refuses is our bug, and stays a 500.
   */
  private async send<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (isConditionFailure(error) || !isUnavailable(error)) throw error;
      throw new DependencyUnavailableError('The connection store is unavailable; try again shortly.', error);
    }
  }

  /** Runs a conditional write; false when its condition did not hold. */
  private async conditional(operation: () => Promise<unknown>): Promise<boolean> {
    try {
      await this.send(operation);
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async create(record: ConnectionRecord): Promise<void> {
    await this.send(() =>
      this.doc.send(new PutCommand({ TableName: this.table, Item: toItem(record), ConditionExpression: 'attribute_not_exists(pk)' })),
    );
  }

  async get(connectionId: string): Promise<ConnectionRecord | undefined> {
    const out = await this.send(() =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: connectionKey(connectionId) }, ConsistentRead: true })),
    );
    return out.Item && out.Item.kind === 'connection' ? fromItem(out.Item) : undefined;
  }

  async listByOwner(owner: string): Promise<ConnectionRecord[]> {
    const records: ConnectionRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.send(() =>
        this.doc.send(
          new QueryCommand({
            TableName: this.table,
            IndexName: tableDefinition.ownerIndex.name,
            KeyConditionExpression: '#o = :o',
            ExpressionAttributeNames: { '#o': tableDefinition.ownerIndex.partitionKey.name },
            ExpressionAttributeValues: { ':o': owner },
            ScanIndexForward: false,
            ExclusiveStartKey: start,
          }),
        ),
      );
      for (const item of out.Items ?? []) records.push(fromItem(item));
      start = out.LastEvaluatedKey;
    } while (start);
    return records;
  }

  async putState(state: AuthStateRecord): Promise<void> {
    await this.send(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: stateKey(state.stateHash),
            kind: 'state',
            owner: state.owner,
            connection_id: state.connectionId,
            redirect_uri: state.redirectUri,
            purpose: state.purpose,
            expires_at: state.expiresAt,
            [tableDefinition.ttlAttribute]: Math.ceil(state.expiresAt / 1000),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  /**
   * Consumes a state exactly once: a conditional delete that only an unexpired state passes.
   * `missing` covers unknown and already-used states; an expired one is left for TTL to remove.
   */
  async consumeState(stateHash: string, now: number): Promise<{ state: AuthStateRecord } | { failure: 'missing' | 'expired' }> {
    const Key = { pk: stateKey(stateHash) };
    try {
      const out = await this.send(() =>
        this.doc.send(
          new DeleteCommand({
            TableName: this.table,
            Key,
            ConditionExpression: 'attribute_exists(pk) AND expires_at > :now',
            ExpressionAttributeValues: { ':now': now },
            ReturnValues: 'ALL_OLD',
          }),
        ),
      );
      const i = out.Attributes ?? {};
      return {
        state: {
          stateHash,
          owner: String(i.owner),
          connectionId: String(i.connection_id),
          redirectUri: String(i.redirect_uri),
          purpose: i.purpose === 'extend' ? 'extend' : 'connect',
          expiresAt: Number(i.expires_at),
        },
      };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const existing = await this.send(() => this.doc.send(new GetCommand({ TableName: this.table, Key, ConsistentRead: true })));
      return { failure: existing.Item ? 'expired' : 'missing' };
    }
  }

  /**
   * Status-only change (deny, inactive, revoked); bumps the version so an in-flight token write
   * cannot land after it. Never writes over a revoke. False when its conditions did not hold.
   */
  async setStatus(
    connectionId: string,
    change: { status: StoredStatus; reason?: StatusReason; detail?: string; eraseTokens?: boolean; onlyIfStatus?: StoredStatus },
    nowIso: string,
  ): Promise<boolean> {
    const sets = ['#s = :s', 'updated_at = :u', 'version = version + :one'];
    const removes: string[] = [];
    const values: Record<string, unknown> = { ':s': change.status, ':u': nowIso, ':one': 1 };
    if (change.reason) {
      sets.push('status_reason = :r');
      values[':r'] = change.reason;
    } else removes.push('status_reason');
    if (change.detail) {
      sets.push('status_detail = :d');
      values[':d'] = change.detail;
    } else removes.push('status_detail');
    if (change.eraseTokens) removes.push('tokens', 'access_token_expires_at', 'lease_holder', 'lease_expires_at', 'refresh_outcome_unknown_at');
    let condition = 'attribute_exists(pk)';
    // A revoke is final: no later status change (a refresh refused, a 403 seen by a request that
    // raced the delete) may write over it.
    if (change.reason !== 'revoked') {
      condition += ' AND NOT (#s = :inactive AND status_reason = :revoked)';
      values[':inactive'] = 'inactive';
      values[':revoked'] = 'revoked';
    }
    if (change.onlyIfStatus) {
      condition += ' AND #s = :only';
      values[':only'] = change.onlyIfStatus;
    }
    return this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: connectionKey(connectionId) },
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  /**
   * Takes the refresh lease if nobody holds a live one and the version is still the one read.
   * One conditional update: the shape of Powertools' idempotency lock.
   */
  async acquireLease(connectionId: string, expectedVersion: number, holder: string, now: number, leaseMs: number): Promise<boolean> {
    return this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: connectionKey(connectionId) },
          UpdateExpression: 'SET lease_holder = :h, lease_expires_at = :until',
          ConditionExpression: 'version = :v AND (attribute_not_exists(lease_expires_at) OR lease_expires_at <= :now)',
          ExpressionAttributeValues: { ':h': holder, ':until': now + leaseMs, ':v': expectedVersion, ':now': now },
        }),
      ),
    );
  }

  async releaseLease(connectionId: string, holder: string): Promise<void> {
    await this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: connectionKey(connectionId) },
          UpdateExpression: 'REMOVE lease_holder, lease_expires_at',
          ConditionExpression: 'lease_holder = :h',
          ExpressionAttributeValues: { ':h': holder },
        }),
      ),
    );
  }

  /**
   * Records that a call spending the refresh token was sent and never answered, so the next attempt
   * knows a refusal of the stored token may mean TrueLayer rotated it. Only while the version is the
   * one the call was made from (a newer pair makes the question moot); the lease is left as it is.
   */
  async markRefreshOutcomeUnknown(connectionId: string, expectedVersion: number, atIso: string): Promise<boolean> {
    return this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: connectionKey(connectionId) },
          UpdateExpression: 'SET refresh_outcome_unknown_at = :at',
          ConditionExpression: 'version = :v',
          ExpressionAttributeValues: { ':at': atIso, ':v': expectedVersion },
        }),
      ),
    );
  }

  /**
   * Writes a new token pair (and what came with it) in one conditional update: only if the version is
   * still the one read and, when a lease holder is given, the lease is still ours. Bumps the version,
   * drops the lease, and clears an unknown refresh outcome (the pair stored now is known good).
   */
  async writeTokens(
    connectionId: string,
    expectedVersion: number,
    write: TokenWrite,
    nowIso: string,
    leaseHolder?: string,
  ): Promise<boolean> {
    const sets = ['tokens = :t', 'access_token_expires_at = :e', 'updated_at = :u', 'version = version + :one'];
    const removes = ['lease_holder', 'lease_expires_at', 'refresh_outcome_unknown_at'];
    const values: Record<string, unknown> = { ':t': write.tokens, ':e': write.accessTokenExpiresAt, ':u': nowIso, ':one': 1, ':v': expectedVersion };
    const optional: Array<[string, unknown]> = [
      ['status', write.status],
      ['provider', write.provider],
      ['credentials_id', write.credentialsId],
      ['consent_created_at', write.consentCreatedAt],
      ['consent_expires_at', write.consentExpiresAt],
      ['last_refreshed_at', write.lastRefreshedAt],
    ];
    for (const [name, value] of optional) {
      if (value === undefined) continue;
      sets.push(`#${name} = :${name}`);
      values[`:${name}`] = value;
    }
    if (write.statusReason === null) removes.push('status_reason', 'status_detail');
    if (write.refreshed) sets.push('refresh_count = if_not_exists(refresh_count, :zero) + :one');
    if (write.refreshed) values[':zero'] = 0;
    let condition = 'version = :v';
    if (leaseHolder) {
      condition += ' AND lease_holder = :h';
      values[':h'] = leaseHolder;
    }
    const names: Record<string, string> = {};
    for (const [name, value] of optional) if (value !== undefined) names[`#${name}`] = name;
    return this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: connectionKey(connectionId) },
          UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
          ConditionExpression: condition,
          ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }
}
