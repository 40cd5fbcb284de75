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
import { setTimeout as sleep } from 'node:timers/promises';
import { DependencyUnavailableError } from '../errors';
import { connectionKey, FINISHED_RETENTION_MS, pendingKey, stateKey, tableDefinition, ttlAt } from '../table';
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
  completion_code_hash: r.completionCodeHash,
  completion_expires_at: r.completionExpiresAt,
  completion_tries: r.completionTries,
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
  /** A first authorization: the completion code's hash and deadline (status goes to `authorized`). */
  completion?: { codeHash: string; expiresAt: string };
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
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          // An abandoned link leaves a row that TTL removes in time; the callback moves it on.
          Item: { ...toItem(record), [tableDefinition.ttlAttribute]: ttlAt(Date.parse(record.authLinkExpiresAt) + FINISHED_RETENTION_MS) },
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
    if (change.status === 'inactive') {
      // A finished connection stays readable for a while, then TTL removes it; its completion code is void.
      sets.push('#ttl = :ttl');
      values[':ttl'] = ttlAt(Date.parse(nowIso) + FINISHED_RETENTION_MS);
      removes.push('completion_code_hash', 'completion_expires_at', 'completion_tries');
    }
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
          ExpressionAttributeNames: { '#s': 'status', ...(change.status === 'inactive' ? { '#ttl': tableDefinition.ttlAttribute } : {}) },
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
    if (write.completion) {
      sets.push('completion_code_hash = :ch', 'completion_expires_at = :ce', 'completion_tries = :zero', '#ttl = :ttl');
      values[':ch'] = write.completion.codeHash;
      values[':ce'] = write.completion.expiresAt;
      values[':zero'] = 0;
      values[':ttl'] = ttlAt(Date.parse(write.completion.expiresAt) + FINISHED_RETENTION_MS);
    }
    let condition = 'version = :v';
    if (leaseHolder) {
      condition += ' AND lease_holder = :h';
      values[':h'] = leaseHolder;
    }
    const names: Record<string, string> = write.completion ? { '#ttl': tableDefinition.ttlAttribute } : {};
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

  /** What /me said, written after the tokens; never over a finished connection. */
  async writeConsentDetails(connectionId: string, details: ConsentDetails, nowIso: string): Promise<boolean> {
    const fields: Array<[string, unknown]> = [
      ['provider', details.provider],
      ['credentials_id', details.credentialsId],
      ['consent_created_at', details.consentCreatedAt],
      ['consent_expires_at', details.consentExpiresAt],
    ];
    const present = fields.filter(([, value]) => value !== undefined);
    if (present.length === 0) return true;
    const names: Record<string, string> = { '#s': 'status' };
    const values: Record<string, unknown> = { ':u': nowIso, ':inactive': 'inactive' };
    for (const [name, value] of present) {
      names[`#${name}`] = name;
      values[`:${name}`] = value;
    }
    return this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: connectionKey(connectionId) },
          UpdateExpression: `SET ${present.map(([name]) => `#${name} = :${name}`).join(', ')}, updated_at = :u`,
          ConditionExpression: 'attribute_exists(pk) AND #s <> :inactive',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
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
   * The owner's completion: `authorized` → `active`, only while the same code hash is stored and
   * unexpired, so a code works once even when two requests race. Clears the code and the ttl.
   */
  async activate(connectionId: string, codeHash: string, now: number, details: ConsentDetails = {}): Promise<boolean> {
    const names: Record<string, string> = { '#s': 'status', '#ttl': tableDefinition.ttlAttribute };
    const values: Record<string, unknown> = {
      ':active': 'active',
      ':authorized': 'authorized',
      ':h': codeHash,
      ':u': new Date(now).toISOString(),
      ':now': new Date(now).toISOString(),
      ':one': 1,
    };
    const sets = ['#s = :active', 'updated_at = :u', 'version = version + :one'];
    for (const [name, value] of Object.entries({
      provider: details.provider,
      credentials_id: details.credentialsId,
      consent_created_at: details.consentCreatedAt,
      consent_expires_at: details.consentExpiresAt,
    })) {
      if (value === undefined) continue;
      names[`#${name}`] = name;
      values[`:${name}`] = value;
      sets.push(`#${name} = :${name}`);
    }
    return this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: connectionKey(connectionId) },
          UpdateExpression: `SET ${sets.join(', ')} REMOVE completion_code_hash, completion_expires_at, completion_tries, status_reason, status_detail, #ttl`,
          ConditionExpression: '#s = :authorized AND completion_code_hash = :h AND completion_expires_at > :now',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
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
            Item: { ...Key, kind: 'pending', slots, version: (version ?? 0) + 1, [tableDefinition.ttlAttribute]: ttlAt(latest + FINISHED_RETENTION_MS) },
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
    return this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pendingKey(owner) },
          UpdateExpression: 'SET slots.#id = :until, version = version + :one, #ttl = :ttl',
          ConditionExpression: 'attribute_exists(slots.#id)',
          ExpressionAttributeNames: { '#id': connectionId, '#ttl': tableDefinition.ttlAttribute },
          ExpressionAttributeValues: { ':until': expiresAt, ':one': 1, ':ttl': ttlAt(expiresAt + FINISHED_RETENTION_MS) },
        }),
      ),
    );
  }

  /** Frees a slot once the connection no longer waits (completed, refused, revoked). */
  async releasePendingSlot(owner: string, connectionId: string): Promise<void> {
    await this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pendingKey(owner) },
          UpdateExpression: 'REMOVE slots.#id SET version = version + :one',
          ConditionExpression: 'attribute_exists(slots.#id)',
          ExpressionAttributeNames: { '#id': connectionId },
          ExpressionAttributeValues: { ':one': 1 },
        }),
      ),
    );
  }
}
