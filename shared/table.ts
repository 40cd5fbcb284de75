/**
 * The one definition of the service's DynamoDB table, read by the CDK stack and by the local
 * stack's embedded DynamoDB, so the two cannot drift.
 *
 * Item kinds (all in one table, keyed by `pk`):
 * - connection: `pk = "conn#<connection_id>"`, carries `gsi_owner` (the user's `sub`) and
 *   `created_at`, so it appears in the owner index;
 * - auth state: `pk = "state#<sha256(state) hex>"`, with `ttl` (epoch seconds) for TTL deletion;
 *   it has no `gsi_owner`, so it never appears in the owner index;
 * - unattended budget: `pk = "unattended#<connection_id>#<sha256(endpoint + account) hex>"`, the
 *   times of the calls sent upstream in the last 24 hours and a `version`, with `ttl`;
 * - cached response: `pk = "cache#<connection_id>#<sha256(path + query) hex>"`, the last good
 *   answer encrypted like tokens, with `ttl` (7 days). Neither carries `gsi_owner`, and neither
 *   holds an account id in clear: the hashes stand for the path.
 */
export const tableDefinition = {
  partitionKey: { name: 'pk', type: 'S' },
  ttlAttribute: 'ttl',
  ownerIndex: {
    name: 'by-owner',
    partitionKey: { name: 'gsi_owner', type: 'S' },
    sortKey: { name: 'created_at', type: 'S' },
  },
} as const;

export const connectionKey = (connectionId: string): string => `conn#${connectionId}`;
export const stateKey = (stateHash: string): string => `state#${stateHash}`;
export const unattendedBudgetKey = (connectionId: string, endpointHash: string): string => `unattended#${connectionId}#${endpointHash}`;
export const cachedResponseKey = (connectionId: string, requestHash: string): string => `cache#${connectionId}#${requestHash}`;

/** The CreateTable input used by the local stack (CDK builds the same shape from `tableDefinition`). */
export const createTableInput = (tableName: string) => ({
  TableName: tableName,
  BillingMode: 'PAY_PER_REQUEST' as const,
  AttributeDefinitions: [
    { AttributeName: tableDefinition.partitionKey.name, AttributeType: tableDefinition.partitionKey.type },
    { AttributeName: tableDefinition.ownerIndex.partitionKey.name, AttributeType: tableDefinition.ownerIndex.partitionKey.type },
    { AttributeName: tableDefinition.ownerIndex.sortKey.name, AttributeType: tableDefinition.ownerIndex.sortKey.type },
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
  ],
});
