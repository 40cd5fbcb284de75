/**
 * The one definition of the service's DynamoDB table, read by the CDK stack and by the local
 * stack's embedded DynamoDB, so the two cannot drift.
 *
 * Item kinds (all in one table, keyed by `pk`):
 * - connection: `pk = "conn#<connection_id>"`, carries `gsi_owner` (the user's `sub`) and
 *   `created_at`, so it appears in the owner index;
 * - auth state: `pk = "state#<sha256(state) hex>"`, with `ttl` (epoch seconds) for TTL deletion;
 *   it has no `gsi_owner`, so it never appears in the owner index.
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

export const connectionKey = (connectionId: string): string => `conn#${connectionId}`;
export const stateKey = (stateHash: string): string => `state#${stateHash}`;

/** The CreateTable input used by the local stack (CDK builds the same shape from `tableDefinition`). */
export const createTableInput = (tableName: string) => ({
  TableName: tableName,
  BillingMode: 'PAY_PER_REQUEST' as const,
  AttributeDefinitions: [
    { AttributeName: tableDefinition.partitionKey.name, AttributeType: tableDefinition.partitionKey.type },
    { AttributeName: tableDefinition.ownerIndex.partitionKey.name, AttributeType: tableDefinition.ownerIndex.partitionKey.type },
    { AttributeName: tableDefinition.ownerIndex.sortKey.name, AttributeType: tableDefinition.ownerIndex.sortKey.type },
    { AttributeName: tableDefinition.dueIndex.partitionKey.name, AttributeType: tableDefinition.dueIndex.partitionKey.type },
    { AttributeName: tableDefinition.dueIndex.sortKey.name, AttributeType: tableDefinition.dueIndex.sortKey.type },
  ],
  KeySchema: [{ AttributeName: tableDefinition.partitionKey.name, KeyType: 'HASH' as const }],
  GlobalSecondaryIndexes: [
    {
      IndexName: tableDefinition.ownerIndex.name,
      KeySchema: [
        { AttributeName: tableDefinition.ownerIndex.partitionKey.name, KeyType: 'HASH' as const },
        { AttributeName: tableDefinition.ownerIndex.sortKey.name, KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: 'ALL' as const },
    },
    {
      IndexName: tableDefinition.dueIndex.name,
      KeySchema: [
        { AttributeName: tableDefinition.dueIndex.partitionKey.name, KeyType: 'HASH' as const },
        { AttributeName: tableDefinition.dueIndex.sortKey.name, KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: tableDefinition.dueIndex.projection },
    },
  ],
});
