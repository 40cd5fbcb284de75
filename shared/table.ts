/**
 * The one definition of the service's DynamoDB table, read by the CDK stack and by the local
 * stack's embedded DynamoDB, so the two cannot drift.
 *
 * Item kinds (all in one table, keyed by `pk`):
 * - connection: `pk = "conn#<connection_id>"`, carries `gsi_owner` (the user's `sub`) and
 *   `created_at`, so it appears in the owner index;
 * - auth state: `pk = "state#<sha256(state) hex>"`, with `ttl` (epoch seconds) for TTL deletion;
 *   it has no `gsi_owner`, so it never appears in the owner index;
 * - pending slots: `pk = "pending#<owner>"`, the owner's connections still waiting for consent or
 *   completion (a map of connection id to expiry), so the per-user limit holds under concurrency;
 * - unattended budget: `pk = "unattended#<connection_id>#<sha256(endpoint + account) hex>"`, the
 *   times of the calls sent upstream in the last 24 hours and a `version`, with `ttl`;
 * - cached response: `pk = "cache#<connection_id>#<sha256(path + query) hex>"`, the last good
 *   answer encrypted like tokens, with `ttl` (7 days). Neither carries `gsi_owner`, and neither
 *   holds an account id in clear: the hashes stand for the path.
 *
 * A connection carries `ttl` while it waits (the link, then the completion, plus the retention
 * below) and again once it is finished (inactive), so abandoned rows are removed; an active one has none.
 *
 * The due index is sparse: a connection carries `gsi_due` (one of a few shard names, from a hash of
 * its id) and `due_at` (epoch ms) only while the lifecycle worker has work for it, so a run queries
 * each shard for `due_at <= now` and reads nothing else. Sharding spreads the index's writes.
 */
export const tableDefinition = {
  partitionKey: { name: 'pk', type: 'S' },
  ttlAttribute: 'ttl',
  ownerIndex: {
    name: 'by-owner',
    partitionKey: { name: 'gsi_owner', type: 'S' },
    sortKey: { name: 'created_at', type: 'S' },
    /**
     * The index projects only what a list shows (INCLUDE), never the token blob: a leaked query on
     * it cannot carry tokens, and the index stays small.
     */
    projection: 'INCLUDE',
    nonKeyAttributes: [
      'connection_id',
      'status',
      'status_reason',
      'status_detail',
      'scopes',
      'provider',
      'updated_at',
      'auth_link_expires_at',
      'completion_expires_at',
      'consent_expires_at',
      'return_url',
      // The view's bookkeeping and what next_action is decided from.
      'last_refreshed_at',
      'last_fetched_at',
      'last_error',
    ],
  },
  dueIndex: {
    name: 'by-due',
    partitionKey: { name: 'gsi_due', type: 'S' },
    sortKey: { name: 'due_at', type: 'N' },
    /** The worker reads the item itself (consistently) before acting: the index holds keys only. */
    projection: 'KEYS_ONLY',
    shards: 4,
  },
} as const;

/** The due index shard of a connection: stable, spread evenly over `dueIndex.shards`. */
export const dueShard = (connectionId: string): string => {
  let hash = 0;
  for (let i = 0; i < connectionId.length; i += 1) hash = (hash * 31 + connectionId.charCodeAt(i)) >>> 0;
  return `due#${hash % tableDefinition.dueIndex.shards}`;
};

export const dueShards = (): string[] => Array.from({ length: tableDefinition.dueIndex.shards }, (_, i) => `due#${i}`);

/** How long a finished (inactive) or abandoned connection stays readable before TTL removes it. */
export const FINISHED_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/** A `ttl` attribute value (epoch seconds) for a time in epoch ms. */
export const ttlAt = (ms: number): number => Math.ceil(ms / 1000);

export const connectionKey = (connectionId: string): string => `conn#${connectionId}`;
export const stateKey = (stateHash: string): string => `state#${stateHash}`;
export const pendingKey = (owner: string): string => `pending#${owner}`;
export const unattendedBudgetKey = (connectionId: string, endpointHash: string): string => `unattended#${connectionId}#${endpointHash}`;
export const cachedResponseKey = (connectionId: string, requestHash: string): string => `cache#${connectionId}#${requestHash}`;

/** A secondary index as the table definition describes it. */
export interface SecondaryIndex {
  name: string;
  partitionKey: { name: string; type: 'S' | 'N' };
  sortKey: { name: string; type: 'S' | 'N' };
  projection: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
  nonKeyAttributes?: readonly string[];
}

/** Every secondary index, in order: the local table and the CDK stack both build exactly these. */
export const secondaryIndexes: readonly SecondaryIndex[] = [tableDefinition.ownerIndex, tableDefinition.dueIndex];

/** The CreateTable input used by the local stack (CDK builds the same table from `secondaryIndexes`). */
export const createTableInput = (tableName: string) => ({
  TableName: tableName,
  BillingMode: 'PAY_PER_REQUEST' as const,
  AttributeDefinitions: [
    { AttributeName: tableDefinition.partitionKey.name, AttributeType: tableDefinition.partitionKey.type },
    ...secondaryIndexes.flatMap((index) => [
      { AttributeName: index.partitionKey.name, AttributeType: index.partitionKey.type },
      { AttributeName: index.sortKey.name, AttributeType: index.sortKey.type },
    ]),
  ],
  KeySchema: [{ AttributeName: tableDefinition.partitionKey.name, KeyType: 'HASH' as const }],
  GlobalSecondaryIndexes: secondaryIndexes.map((index) => ({
    IndexName: index.name,
    KeySchema: [
      { AttributeName: index.partitionKey.name, KeyType: 'HASH' as const },
      { AttributeName: index.sortKey.name, KeyType: 'RANGE' as const },
    ],
    Projection: {
      ProjectionType: index.projection,
      ...(index.projection === 'INCLUDE' ? { NonKeyAttributes: [...(index.nonKeyAttributes ?? [])] } : {}),
    },
  })),
});
