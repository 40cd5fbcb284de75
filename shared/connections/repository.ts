/**
 * DynamoDB storage of connections and auth states: single-item conditional writes only (no
 * transactions), a `version` for optimistic concurrency, and the refresh lease fields.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { DependencyUnavailableError } from '../errors';
import { buildEvents, type ConnectionEvent } from '../lifecycle/events';
import { nextDueAt } from '../lifecycle/schedule';
import { connectionKey, dueShard, dueShards, FINISHED_RETENTION_MS, pendingKey, stateKey, tableDefinition, ttlAt } from '../table';
import type { AuthStateRecord } from './auth-state';
import type { ConnectionRecord, StatusReason, StoredStatus } from './connection';
import { type TransitionInput, type TransitionName, type TransitionResult, transition } from './state-machine';

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
  last_fetched_at: r.lastFetchedAt,
  last_error: r.lastError,
  expiry_notices: r.expiryNoticesSent,
  outbox: r.outbox,
  account_hashes: r.accountHashes,
  completion_code_hash: r.completionCodeHash,
  completion_expires_at: r.completionExpiresAt,
  completion_tries: r.completionTries,
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
  refreshOutcomeUnknownAt: str(i.refresh_outcome_unknown_at),
  version: num(i.version) ?? 0,
  leaseHolder: str(i.lease_holder),
  leaseExpiresAt: num(i.lease_expires_at),
  lastFetchedAt: str(i.last_fetched_at),
  lastError: i.last_error as ConnectionRecord['lastError'],
  expiryNoticesSent: Array.isArray(i.expiry_notices) ? (i.expiry_notices as number[]) : undefined,
  outbox: Array.isArray(i.outbox) ? (i.outbox as ConnectionEvent[]) : undefined,
  accountHashes: Array.isArray(i.account_hashes) ? (i.account_hashes as string[]) : undefined,
  completionCodeHash: str(i.completion_code_hash),
  completionExpiresAt: str(i.completion_expires_at),
  completionTries: num(i.completion_tries),
});

/** Where a page of a list starts: DynamoDB's LastEvaluatedKey, opaque to everyone but the repository. */
export type PageKey = Record<string, unknown>;

export interface Page {
  records: ConnectionRecord[];
  next?: PageKey | undefined;
}

/** What /me said about the consent, written once it is known. */
export interface ConsentDetails {
  provider?: ConnectionRecord['provider'];
  credentialsId?: string;
  consentCreatedAt?: string;
  consentExpiresAt?: string;
}

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
  /** Events reporting the change, appended to the outbox in the same write. */
  events?: ConnectionEvent[];
  /** A first authorization: the completion code's hash and deadline (status goes to `authorized`). */
  completion?: { codeHash: string; expiresAt: string };
}

export interface AppliedTransition {
  record: ConnectionRecord;
  result: TransitionResult;
  events: ConnectionEvent[];
}

/** What a status change may carry beyond the state machine's input. */
export interface TransitionWrite extends TransitionInput {
  newEventId: () => string;
  /** For `expiry_notice`: every notice now counted as sent. */
  noticesSent?: number[];
  /**
   * For `completed`: the completion code hash that must still be stored, unexpired, when the write
   * lands (a condition of the write), so a code works once even when two requests race.
   */
  completionCodeHash?: string;
  /** For `completed`: what /me said about the consent, written with the change. */
  details?: ConsentDetails;
}

const definedDetails = (details: ConsentDetails | undefined): Partial<ConnectionRecord> => {
  const out: Partial<ConnectionRecord> = {};
  if (details?.provider !== undefined) out.provider = details.provider;
  if (details?.credentialsId !== undefined) out.credentialsId = details.credentialsId;
  if (details?.consentCreatedAt !== undefined) out.consentCreatedAt = details.consentCreatedAt;
  if (details?.consentExpiresAt !== undefined) out.consentExpiresAt = details.consentExpiresAt;
  return out;
};

const detailFields = (details: ConsentDetails | undefined): Array<[string, unknown]> =>
  (
    [
      ['provider', details?.provider],
      ['credentials_id', details?.credentialsId],
      ['consent_created_at', details?.consentCreatedAt],
      ['consent_expires_at', details?.consentExpiresAt],
    ] as Array<[string, unknown]>
  ).filter(([, value]) => value !== undefined);

const isConditionFailure = (error: unknown): boolean =>
  error instanceof ConditionalCheckFailedException || (error instanceof Error && error.name === 'ConditionalCheckFailedException');

const throttling = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'LimitExceededException',
]);

const isUnavailable = (error: unknown): boolean => {
  const e = error as { name?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  return status === undefined || status >= 500 || Boolean(e.$retryable) || throttling.has(e.name ?? '');
};

/** The completion code `codeHash` is the one stored, and its deadline has not passed. */
const completionHolds = (record: ConnectionRecord, codeHash: string, now: number): boolean =>
  record.status === 'authorized' &&
  record.completionCodeHash === codeHash &&
  record.completionExpiresAt !== undefined &&
  Date.parse(record.completionExpiresAt) > now;

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
  /** An UpdateItem on this table whose condition may fail: false then, and nothing changed. */
  private conditionalUpdate(input: Omit<UpdateCommandInput, 'TableName'>): Promise<boolean> {
    return this.conditional(() => this.doc.send(new UpdateCommand({ TableName: this.table, ...input })));
  }

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
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          // An abandoned link leaves a row that TTL removes in time; the callback moves it on.
          Item: {
            ...toItem(record),
            ...dueItemFields(record, Date.parse(record.createdAt)),
            [tableDefinition.ttlAttribute]: ttlAt(Date.parse(record.authLinkExpiresAt) + FINISHED_RETENTION_MS),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  async get(connectionId: string): Promise<ConnectionRecord | undefined> {
    const out = await this.send(() =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: connectionKey(connectionId) }, ConsistentRead: true })),
    );
    return out.Item && out.Item.kind === 'connection' ? fromItem(out.Item) : undefined;
  }

  /** One page of the owner's connections, newest first, as the owner index projects them (no tokens). */
  async listByOwner(owner: string, page: { limit: number; start?: PageKey | undefined }): Promise<Page> {
    const out = await this.send(() =>
      this.doc.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: tableDefinition.ownerIndex.name,
          KeyConditionExpression: '#o = :o',
          ExpressionAttributeNames: { '#o': tableDefinition.ownerIndex.partitionKey.name },
          ExpressionAttributeValues: { ':o': owner },
          ScanIndexForward: false,
          Limit: page.limit,
          ...(page.start ? { ExclusiveStartKey: page.start } : {}),
        }),
      ),
    );
    const records = (out.Items ?? []).map(fromItem);
    // DynamoDB may hand back a key after the last item; a page that came back short of the limit is the last.
    return { records, next: out.LastEvaluatedKey && records.length === page.limit ? out.LastEvaluatedKey : undefined };
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
            code_verifier: state.codeVerifier,
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
          codeVerifier: str(i.code_verifier),
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
   * Bumps the version so an in-flight token write cannot land after it. A connection that leaves
   * `authorized` loses its completion code; one that ends gets a `ttl` (kept readable a while).
   */
  async transition(record: ConnectionRecord, name: TransitionName, input: TransitionWrite): Promise<AppliedTransition | undefined> {
    let current: ConnectionRecord | undefined = record;
    for (let attempt = 0; attempt < 5 && current; attempt += 1) {
      if (input.completionCodeHash !== undefined && !completionHolds(current, input.completionCodeHash, input.now)) return undefined;
      const updated: ConnectionRecord = { ...current, ...definedDetails(input.details) };
      const result = transition(updated, name, input);
      if (!result) return undefined;
      const events = buildEvents(current, result.events, input.now, input.newEventId);
      const next: ConnectionRecord = {
        ...updated,
        status: result.status,
        statusReason: result.reason,
        statusDetail: result.changesStatus ? result.detail : current.statusDetail,
        updatedAt: new Date(input.now).toISOString(),
        version: current.version + 1,
        ...(result.eraseTokens
          ? {
              tokens: undefined,
              accessTokenExpiresAt: undefined,
              leaseHolder: undefined,
              leaseExpiresAt: undefined,
              refreshOutcomeUnknownAt: undefined,
            }
          : {}),
        ...(result.status === 'authorized'
          ? {}
          : { completionCodeHash: undefined, completionExpiresAt: undefined, completionTries: undefined }),
        ...(input.noticesSent
          ? { expiryNoticesSent: [...new Set([...(current.expiryNoticesSent ?? []), ...input.noticesSent])].sort((a, b) => b - a) }
          : {}),
        outbox: [...(current.outbox ?? []), ...events],
      };
      if (await this.writeTransition(current, next, result, events, input)) return { record: next, result, events };
      current = await this.get(record.connectionId);
    }
    return undefined;
  }

  private async writeTransition(
    before: ConnectionRecord,
    next: ConnectionRecord,
    result: TransitionResult,
    events: ConnectionEvent[],
    input: TransitionWrite,
  ): Promise<boolean> {
    const { now } = input;
    const sets = ['#s = :s', 'updated_at = :u', 'version = version + :one'];
    const removes: string[] = [];
    const names: Record<string, string> = { '#s': 'status' };
    const values: Record<string, unknown> = { ':s': next.status, ':u': next.updatedAt, ':one': 1, ':v': before.version };
    for (const [name, value] of detailFields(input.details)) {
      sets.push(`#${name} = :${name}`);
      names[`#${name}`] = name;
      values[`:${name}`] = value;
    }
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
    if (result.eraseTokens)
      removes.push('tokens', 'access_token_expires_at', 'lease_holder', 'lease_expires_at', 'refresh_outcome_unknown_at');
    // Out of `authorized` (completed, or ended), the completion code is void.
    if (next.status !== 'authorized' && (before.completionCodeHash !== undefined || before.completionExpiresAt !== undefined)) {
      removes.push('completion_code_hash', 'completion_expires_at', 'completion_tries');
    }
    if (next.status === 'inactive' && result.changesStatus) {
      // A finished connection stays readable for a while, then TTL removes it.
      sets.push('#ttl = :ttl');
      names['#ttl'] = tableDefinition.ttlAttribute;
      values[':ttl'] = ttlAt(now + FINISHED_RETENTION_MS);
    } else if (next.status === 'active' && before.status !== 'active') {
      // An active connection lives until it ends: no ttl.
      removes.push('#ttl');
      names['#ttl'] = tableDefinition.ttlAttribute;
    }
    let condition = 'attribute_exists(pk) AND version = :v';
    if (input.completionCodeHash !== undefined) {
      condition += ' AND completion_code_hash = :ch AND completion_expires_at > :nowIso';
      values[':ch'] = input.completionCodeHash;
      values[':nowIso'] = new Date(now).toISOString();
    }
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
    return this.conditionalUpdate({
      Key: { pk: connectionKey(before.connectionId) },
      UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
      ConditionExpression: condition,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
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
    return this.conditionalUpdate({
      Key: { pk: connectionKey(record.connectionId) },
      UpdateExpression: `${sets.length ? `SET ${sets.join(', ')} ` : ''}REMOVE ${removes.join(', ')}`,
      ConditionExpression: 'outbox[0].event_id = :id AND version = :v',
      ExpressionAttributeValues: { ':id': eventId, ':v': record.version, ...dueChange.values },
    });
  }

  /** Rewrites the due time from the item as read (nothing else changes); false if it moved on. */
  async reschedule(record: ConnectionRecord, now: number): Promise<boolean> {
    const dueChange = dueUpdate(record, now);
    return this.conditionalUpdate({
      Key: { pk: connectionKey(record.connectionId) },
      UpdateExpression: [
        dueChange.sets.length ? `SET ${dueChange.sets.join(', ')}` : '',
        dueChange.removes.length ? `REMOVE ${dueChange.removes.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join(' '),
      ConditionExpression: 'version = :v',
      ExpressionAttributeValues: { ':v': record.version, ...dueChange.values },
    });
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
    await this.conditionalUpdate({
      Key: { pk: connectionKey(connectionId) },
      UpdateExpression: error ? 'SET last_error = :e' : 'SET last_fetched_at = :t',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: error ? { ':e': { code: error, at: nowIso } } : { ':t': nowIso },
    });
  }

  /** Stores the keyed hashes of a connection's accounts (never the numbers themselves). */
  async setAccountHashes(connectionId: string, hashes: string[]): Promise<void> {
    await this.conditionalUpdate({
      Key: { pk: connectionKey(connectionId) },
      UpdateExpression: 'SET account_hashes = :h',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':h': hashes },
    });
  }

  /**
   * Takes the refresh lease if nobody holds a live one and the version is still the one read.
   * One conditional update: the shape of Powertools' idempotency lock.
   */
  async acquireLease(connectionId: string, expectedVersion: number, holder: string, now: number, leaseMs: number): Promise<boolean> {
    return this.conditionalUpdate({
      Key: { pk: connectionKey(connectionId) },
      UpdateExpression: 'SET lease_holder = :h, lease_expires_at = :until',
      ConditionExpression: 'version = :v AND (attribute_not_exists(lease_expires_at) OR lease_expires_at <= :now)',
      ExpressionAttributeValues: { ':h': holder, ':until': now + leaseMs, ':v': expectedVersion, ':now': now },
    });
  }

  async releaseLease(connectionId: string, holder: string): Promise<void> {
    await this.conditionalUpdate({
      Key: { pk: connectionKey(connectionId) },
      UpdateExpression: 'REMOVE lease_holder, lease_expires_at',
      ConditionExpression: 'lease_holder = :h',
      ExpressionAttributeValues: { ':h': holder },
    });
  }

  /**
   * Records that a call spending the refresh token was sent and never answered, so the next attempt
   * knows a refusal of the stored token may mean TrueLayer rotated it. Only while the version is the
   * one the call was made from (a newer pair makes the question moot); the lease is left as it is.
   */
  async markRefreshOutcomeUnknown(connectionId: string, expectedVersion: number, atIso: string): Promise<boolean> {
    return this.conditionalUpdate({
      Key: { pk: connectionKey(connectionId) },
      UpdateExpression: 'SET refresh_outcome_unknown_at = :at',
      ConditionExpression: 'version = :v',
      ExpressionAttributeValues: { ':at': atIso, ':v': expectedVersion },
    });
  }

  /**
   * Writes a new token pair (and what came with it) in one conditional update: only if the version is
   * still the one read and, when a lease holder is given, the lease is still ours. Bumps the version,
   * drops the lease, and clears an unknown refresh outcome (the pair stored now is known good).
   */
  async writeTokens(record: ConnectionRecord, write: TokenWrite, now: number, leaseHolder?: string): Promise<boolean> {
    const nowIso = new Date(now).toISOString();
    const sets = ['tokens = :t', 'access_token_expires_at = :e', 'updated_at = :u', 'version = version + :one'];
    const removes = ['lease_holder', 'lease_expires_at', 'refresh_outcome_unknown_at'];
    const values: Record<string, unknown> = {
      ':t': write.tokens,
      ':e': write.accessTokenExpiresAt,
      ':u': nowIso,
      ':one': 1,
      ':v': record.version,
    };
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
      ...(write.completion
        ? { completionCodeHash: write.completion.codeHash, completionExpiresAt: write.completion.expiresAt, completionTries: 0 }
        : {}),
    };
    const dueChange = dueUpdate(after, now);
    sets.push(...dueChange.sets);
    removes.push(...dueChange.removes);
    Object.assign(values, dueChange.values);
    const names: Record<string, string> = {};
    if (write.completion) {
      sets.push('completion_code_hash = :ch', 'completion_expires_at = :ce', 'completion_tries = :zero', '#ttl = :ttl');
      values[':ch'] = write.completion.codeHash;
      values[':ce'] = write.completion.expiresAt;
      values[':zero'] = 0;
      values[':ttl'] = ttlAt(Date.parse(write.completion.expiresAt) + FINISHED_RETENTION_MS);
      names['#ttl'] = tableDefinition.ttlAttribute;
    } else if (write.status === 'active' && record.status !== 'active') {
      // Revived by a re-authentication: an active connection has no ttl.
      removes.push('#ttl');
      names['#ttl'] = tableDefinition.ttlAttribute;
    }
    let condition = 'version = :v';
    if (leaseHolder) {
      condition += ' AND lease_holder = :h';
      values[':h'] = leaseHolder;
    }
    for (const [name, value] of optional) if (value !== undefined) names[`#${name}`] = name;
    return this.conditionalUpdate({
      Key: { pk: connectionKey(record.connectionId) },
      UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
      ConditionExpression: condition,
      ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
      ExpressionAttributeValues: values,
    });
  }

  /**
   * What /me said, written after the tokens; never over a finished connection. Conditional on the
   * version read, since the due time written with it and the expiry notices follow the consent's
   * end (a new end gets its own notices); plain facts, so it leaves the version as it is. Re-reads
   * and retries if the item moved; the record as written, or undefined when it is gone or finished.
   */
  async writeConsentDetails(record: ConnectionRecord, details: ConsentDetails, now: number): Promise<ConnectionRecord | undefined> {
    const fields = detailFields(details);
    let current: ConnectionRecord | undefined = record;
    for (let attempt = 0; attempt < 3 && current && current.status !== 'inactive'; attempt += 1) {
      if (fields.length === 0) return current;
      const before: ConnectionRecord = current;
      const newConsent = details.consentExpiresAt !== undefined && details.consentExpiresAt !== before.consentExpiresAt;
      const after: ConnectionRecord = {
        ...before,
        ...definedDetails(details),
        updatedAt: new Date(now).toISOString(),
        ...(newConsent ? { expiryNoticesSent: undefined } : {}),
      };
      const names: Record<string, string> = { '#s': 'status' };
      const values: Record<string, unknown> = { ':u': after.updatedAt, ':inactive': 'inactive', ':v': before.version };
      const sets = ['updated_at = :u'];
      const removes: string[] = newConsent ? ['expiry_notices'] : [];
      for (const [name, value] of fields) {
        names[`#${name}`] = name;
        values[`:${name}`] = value;
        sets.push(`#${name} = :${name}`);
      }
      const dueChange = dueUpdate(after, now);
      sets.push(...dueChange.sets);
      removes.push(...dueChange.removes);
      Object.assign(values, dueChange.values);
      const written = await this.conditionalUpdate({
        Key: { pk: connectionKey(before.connectionId) },
        UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
        ConditionExpression: 'attribute_exists(pk) AND #s <> :inactive AND version = :v',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      });
      if (written) return after;
      current = await this.get(before.connectionId);
    }
    return undefined;
  }

  /**
   * Counts one wrong completion code; the new count, or undefined when the connection no longer
   * waits for completion (completed, revoked or lapsed meanwhile).
   */
  async countCompletionFailure(connectionId: string, nowIso: string): Promise<number | undefined> {
    try {
      const out = await this.send(() =>
        this.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: connectionKey(connectionId) },
            UpdateExpression: 'SET completion_tries = if_not_exists(completion_tries, :zero) + :one, updated_at = :u',
            ConditionExpression: '#s = :authorized AND attribute_exists(completion_code_hash)',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':u': nowIso, ':authorized': 'authorized' },
            ReturnValues: 'UPDATED_NEW',
          }),
        ),
      );
      return num(out.Attributes?.completion_tries);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /**
   * Takes one of the owner's pending slots (connections waiting for consent or completion) if fewer
   * than `max` are live. The slots live on one item per owner, rewritten under its version, so the
   * limit holds exactly even when requests race; lapsed slots are dropped on the way.
   */
  async reservePendingSlot(owner: string, connectionId: string, expiresAt: number, now: number, max: number): Promise<boolean> {
    const Key = { pk: pendingKey(owner) };
    for (let attempt = 0; attempt < 25; attempt += 1) {
      // Lost a race for the item: step aside a moment (jittered) so the writers spread out.
      if (attempt > 0) await sleep(5 + Math.random() * 20 * Math.min(attempt, 5));
      const out = await this.send(() => this.doc.send(new GetCommand({ TableName: this.table, Key, ConsistentRead: true })));
      const version = num(out.Item?.version);
      const slots: Record<string, number> = {};
      for (const [id, until] of Object.entries((out.Item?.slots ?? {}) as Record<string, unknown>)) {
        if (typeof until === 'number' && until > now) slots[id] = until;
      }
      if (Object.keys(slots).length >= max) return false;
      slots[connectionId] = expiresAt;
      const latest = Math.max(...Object.values(slots));
      const written = await this.conditional(() =>
        this.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              ...Key,
              kind: 'pending',
              slots,
              version: (version ?? 0) + 1,
              [tableDefinition.ttlAttribute]: ttlAt(latest + FINISHED_RETENTION_MS),
            },
            ConditionExpression: version === undefined ? 'attribute_not_exists(pk)' : 'version = :v',
            ...(version === undefined ? {} : { ExpressionAttributeValues: { ':v': version } }),
          }),
        ),
      );
      if (written) return true;
    }
    throw new DependencyUnavailableError('Too many connections are being created for this user at once; try again.');
  }

  /** Moves a slot's expiry (the link was used: now the completion deadline counts), if it is still held. */
  async extendPendingSlot(owner: string, connectionId: string, expiresAt: number): Promise<boolean> {
    return this.conditionalUpdate({
      Key: { pk: pendingKey(owner) },
      UpdateExpression: 'SET slots.#id = :until, version = version + :one, #ttl = :ttl',
      ConditionExpression: 'attribute_exists(slots.#id)',
      ExpressionAttributeNames: { '#id': connectionId, '#ttl': tableDefinition.ttlAttribute },
      ExpressionAttributeValues: { ':until': expiresAt, ':one': 1, ':ttl': ttlAt(expiresAt + FINISHED_RETENTION_MS) },
    });
  }

  /** Frees a slot once the connection no longer waits (completed, refused, revoked). */
  async releasePendingSlot(owner: string, connectionId: string): Promise<void> {
    await this.conditionalUpdate({
      Key: { pk: pendingKey(owner) },
      UpdateExpression: 'REMOVE slots.#id SET version = version + :one',
      ConditionExpression: 'attribute_exists(slots.#id)',
      ExpressionAttributeNames: { '#id': connectionId },
      ExpressionAttributeValues: { ':one': 1 },
    });
  }
}
