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
import { buildEvents, type ConnectionEvent } from '../lifecycle/events';
import { nextDueAt } from '../lifecycle/schedule';
import { connectionKey, dueShard, dueShards, stateKey, tableDefinition } from '../table';
import type { AuthStateRecord } from './auth-state';
import type { ConnectionRecord, StatusReason, StoredStatus } from './connection';
import { transition, type TransitionInput, type TransitionName, type TransitionResult } from './state-machine';

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
  version: r.version,
  lease_holder: r.leaseHolder,
  lease_expires_at: r.leaseExpiresAt,
  last_fetched_at: r.lastFetchedAt,
  last_error: r.lastError,
  expiry_notices: r.expiryNoticesSent,
  outbox: r.outbox,
  account_hashes: r.accountHashes,
});

const due = tableDefinition.dueIndex;

/** The due index attributes for a record as it will be after a write: SET them, or REMOVE them. */
const dueUpdate = (record: ConnectionRecord, now: number): { sets: string[]; removes: string[]; values: Record<string, unknown> } => {
  const dueAt = nextDueAt(record, now);
  if (dueAt === undefined) return { sets: [], removes: [due.partitionKey.name, due.sortKey.name], values: {} };
  return {
    sets: [`${due.partitionKey.name} = :dueShard`, `${due.sortKey.name} = :dueAt`],
    removes: [],
    values: { ':dueShard': dueShard(record.connectionId), ':dueAt': dueAt },
  };
};

const dueItemFields = (record: ConnectionRecord, now: number): Item => {
  const dueAt = nextDueAt(record, now);
  return dueAt === undefined ? {} : { [due.partitionKey.name]: dueShard(record.connectionId), [due.sortKey.name]: dueAt };
};

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
  version: num(i.version) ?? 0,
  leaseHolder: str(i.lease_holder),
  leaseExpiresAt: num(i.lease_expires_at),
  lastFetchedAt: str(i.last_fetched_at),
  lastError: i.last_error as ConnectionRecord['lastError'],
  expiryNoticesSent: Array.isArray(i.expiry_notices) ? (i.expiry_notices as number[]) : undefined,
  outbox: Array.isArray(i.outbox) ? (i.outbox as ConnectionEvent[]) : undefined,
  accountHashes: Array.isArray(i.account_hashes) ? (i.account_hashes as string[]) : undefined,
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
  /** Events reporting the change (activation), appended to the outbox in the same write. */
  events?: ConnectionEvent[];
}

export interface AppliedTransition {
  record: ConnectionRecord;
  result: TransitionResult;
  events: ConnectionEvent[];
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
    const item = { ...toItem(record), ...dueItemFields(record, Date.parse(record.createdAt)) };
    await this.send(() => this.doc.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' })));
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
   * Makes the status change the state machine decides for `name`, with the events it reports
   * appended to the outbox in the same write. Conditional on the version read, so the change is
   * decided on what is stored; when the item moved on, it is re-read and decided again. Undefined
   * when the change does not apply (e.g. the connection was revoked meanwhile) or the item is gone.
   * Bumps the version so an in-flight token write cannot land after it.
   */
  async transition(
    record: ConnectionRecord,
    name: TransitionName,
    input: TransitionInput & { newEventId: () => string; noticesSent?: number[] },
  ): Promise<AppliedTransition | undefined> {
    let current: ConnectionRecord | undefined = record;
    for (let attempt = 0; attempt < 5 && current; attempt += 1) {
      const result = transition(current, name, input);
      if (!result) return undefined;
      const events = buildEvents(current, result.events, input.now, input.newEventId);
      const next: ConnectionRecord = {
        ...current,
        status: result.status,
        statusReason: result.reason,
        statusDetail: result.changesStatus ? result.detail : current.statusDetail,
        updatedAt: new Date(input.now).toISOString(),
        version: current.version + 1,
        ...(result.eraseTokens ? { tokens: undefined, accessTokenExpiresAt: undefined, leaseHolder: undefined, leaseExpiresAt: undefined } : {}),
        ...(input.noticesSent ? { expiryNoticesSent: [...new Set([...(current.expiryNoticesSent ?? []), ...input.noticesSent])].sort((a, b) => b - a) } : {}),
        outbox: [...(current.outbox ?? []), ...events],
      };
      if (await this.writeTransition(current, next, result, events, input.now)) return { record: next, result, events };
      current = await this.get(record.connectionId);
    }
    return undefined;
  }

  private async writeTransition(before: ConnectionRecord, next: ConnectionRecord, result: TransitionResult, events: ConnectionEvent[], now: number): Promise<boolean> {
    const sets = ['#s = :s', 'updated_at = :u', 'version = version + :one'];
    const removes: string[] = [];
    const values: Record<string, unknown> = { ':s': next.status, ':u': next.updatedAt, ':one': 1, ':v': before.version };
    if (next.statusReason) {
      sets.push('status_reason = :r');
      values[':r'] = next.statusReason;
    } else removes.push('status_reason');
    if (result.changesStatus) {
      if (next.statusDetail) {
        sets.push('status_detail = :d');
        values[':d'] = next.statusDetail;
      } else removes.push('status_detail');
    }
    if (result.eraseTokens) removes.push('tokens', 'access_token_expires_at', 'lease_holder', 'lease_expires_at');
    if (next.expiryNoticesSent !== before.expiryNoticesSent && next.expiryNoticesSent) {
      sets.push('expiry_notices = :notices');
      values[':notices'] = next.expiryNoticesSent;
    }
    if (events.length) {
      sets.push('outbox = list_append(if_not_exists(outbox, :empty), :events)');
      values[':empty'] = [];
      values[':events'] = events;
    }
    const dueChange = dueUpdate(next, now);
    sets.push(...dueChange.sets);
    removes.push(...dueChange.removes);
    Object.assign(values, dueChange.values);
    return this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: connectionKey(before.connectionId) },
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: 'attribute_exists(pk) AND version = :v',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  /**
   * Drops the first outbox event once it is published: only if it is still first, and only if the
   * item is still the version read, since the due time written with it is computed from that.
   */
  async removePublished(record: ConnectionRecord, eventId: string, now: number): Promise<boolean> {
    const rest = (record.outbox ?? []).slice(1);
    const dueChange = dueUpdate({ ...record, outbox: rest }, now);
    const sets = dueChange.sets;
    const removes = ['outbox[0]', ...dueChange.removes];
    return this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: connectionKey(record.connectionId) },
          UpdateExpression: `${sets.length ? `SET ${sets.join(', ')} ` : ''}REMOVE ${removes.join(', ')}`,
          ConditionExpression: 'outbox[0].event_id = :id AND version = :v',
          ExpressionAttributeValues: { ':id': eventId, ':v': record.version, ...dueChange.values },
        }),
      ),
    );
  }

  /** Rewrites the due time from the item as read (nothing else changes); false if it moved on. */
  async reschedule(record: ConnectionRecord, now: number): Promise<boolean> {
    const dueChange = dueUpdate(record, now);
    return this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: connectionKey(record.connectionId) },
          UpdateExpression: [dueChange.sets.length ? `SET ${dueChange.sets.join(', ')}` : '', dueChange.removes.length ? `REMOVE ${dueChange.removes.join(', ')}` : '']
            .filter(Boolean)
            .join(' '),
          ConditionExpression: 'version = :v',
          ExpressionAttributeValues: { ':v': record.version, ...dueChange.values },
        }),
      ),
    );
  }

  /** Ids of connections due at or before `now`, from every shard of the sparse due index. */
  async dueConnectionIds(now: number, limit = Number.POSITIVE_INFINITY): Promise<{ ids: string[]; itemsRead: number }> {
    const ids: string[] = [];
    let itemsRead = 0;
    for (const shard of dueShards()) {
      let start: Record<string, unknown> | undefined;
      do {
        const out = await this.send(() =>
          this.doc.send(
            new QueryCommand({
              TableName: this.table,
              IndexName: due.name,
              KeyConditionExpression: '#p = :p AND #d <= :now',
              ExpressionAttributeNames: { '#p': due.partitionKey.name, '#d': due.sortKey.name },
              ExpressionAttributeValues: { ':p': shard, ':now': now },
              ExclusiveStartKey: start,
            }),
          ),
        );
        itemsRead += out.Items?.length ?? 0;
        for (const item of out.Items ?? []) ids.push(String(item.pk).slice('conn#'.length));
        start = out.LastEvaluatedKey;
      } while (start && ids.length < limit);
    }
    return { ids, itemsRead };
  }

  /** The earliest due time after `after` (exclusive) and at or before `until`, if any. */
  async nextDueTime(after: number, until: number): Promise<number | undefined> {
    if (after + 1 > until) return undefined;
    let earliest: number | undefined;
    for (const shard of dueShards()) {
      const out = await this.send(() =>
        this.doc.send(
          new QueryCommand({
            TableName: this.table,
            IndexName: due.name,
            KeyConditionExpression: '#p = :p AND #d BETWEEN :after AND :until',
            ExpressionAttributeNames: { '#p': due.partitionKey.name, '#d': due.sortKey.name },
            ExpressionAttributeValues: { ':p': shard, ':after': after + 1, ':until': until },
            Limit: 1,
          }),
        ),
      );
      const first = out.Items?.[0]?.[due.sortKey.name];
      if (typeof first === 'number' && (earliest === undefined || first < earliest)) earliest = first;
    }
    return earliest;
  }

  /** Notes a Data API answer or failure for the view; plain bookkeeping, no version change. */
  async noteFetch(connectionId: string, nowIso: string, error?: string): Promise<void> {
    await this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: connectionKey(connectionId) },
          UpdateExpression: error ? 'SET last_error = :e' : 'SET last_fetched_at = :t',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: error ? { ':e': { code: error, at: nowIso } } : { ':t': nowIso },
        }),
      ),
    );
  }

  /** Stores the keyed hashes of a connection's accounts (never the numbers themselves). */
  async setAccountHashes(connectionId: string, hashes: string[]): Promise<void> {
    await this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: connectionKey(connectionId) },
          UpdateExpression: 'SET account_hashes = :h',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':h': hashes },
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
   * Writes a new token pair (and what came with it) in one conditional update: only if the version is
   * still the one read and, when a lease holder is given, the lease is still ours. Bumps the version
   * and drops the lease.
   */
  async writeTokens(record: ConnectionRecord, write: TokenWrite, now: number, leaseHolder?: string): Promise<boolean> {
    const nowIso = new Date(now).toISOString();
    const sets = ['tokens = :t', 'access_token_expires_at = :e', 'updated_at = :u', 'version = version + :one'];
    const removes = ['lease_holder', 'lease_expires_at'];
    const values: Record<string, unknown> = { ':t': write.tokens, ':e': write.accessTokenExpiresAt, ':u': nowIso, ':one': 1, ':v': record.version };
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
    // A new consent gets its own expiry notices.
    const newConsent = write.consentExpiresAt !== undefined && write.consentExpiresAt !== record.consentExpiresAt;
    if (newConsent) removes.push('expiry_notices');
    if (write.events?.length) {
      sets.push('outbox = list_append(if_not_exists(outbox, :empty), :events)');
      values[':empty'] = [];
      values[':events'] = write.events;
    }
    const after: ConnectionRecord = {
      ...record,
      tokens: write.tokens,
      status: write.status ?? record.status,
      consentExpiresAt: write.consentExpiresAt ?? record.consentExpiresAt,
      lastRefreshedAt: write.lastRefreshedAt ?? record.lastRefreshedAt,
      expiryNoticesSent: newConsent ? undefined : record.expiryNoticesSent,
      outbox: [...(record.outbox ?? []), ...(write.events ?? [])],
    };
    const dueChange = dueUpdate(after, now);
    sets.push(...dueChange.sets);
    removes.push(...dueChange.removes);
    Object.assign(values, dueChange.values);
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
          Key: { pk: connectionKey(record.connectionId) },
          UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
          ConditionExpression: condition,
          ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }
}
