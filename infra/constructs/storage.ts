/**
 * The connections table and the key it is encrypted with, built from shared/table.ts (keys, TTL,
 * `secondaryIndexes` with their projections), which the local table is created from too.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { secondaryIndexes, tableDefinition } from '../../shared/table';
import { serviceName } from '../names';

const attributeType = { S: AttributeType.STRING, N: AttributeType.NUMBER } as const;
const projectionType = { ALL: ProjectionType.ALL, KEYS_ONLY: ProjectionType.KEYS_ONLY, INCLUDE: ProjectionType.INCLUDE } as const;

export class Storage extends Construct {
  readonly table: Table;
  /** Encrypts the table at rest; DynamoDB uses it on the functions' behalf. */
  readonly tableKey: Key;
  /** Index names, for the `index/<name>` ARNs a query grant needs. */
  readonly indexNames: string[];

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const definition = tableDefinition;
    this.tableKey = new Key(this, 'TableKey', {
      description: `${serviceName}: DynamoDB table encryption at rest`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table = new Table(this, 'Table', {
      partitionKey: { name: definition.partitionKey.name, type: attributeType[definition.partitionKey.type] },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.tableKey,
      timeToLiveAttribute: definition.ttlAttribute,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of secondaryIndexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey.name, type: attributeType[index.partitionKey.type] },
        sortKey: { name: index.sortKey.name, type: attributeType[index.sortKey.type] },
        projectionType: projectionType[index.projection],
        ...(index.projection === 'INCLUDE' ? { nonKeyAttributes: [...(index.nonKeyAttributes ?? [])] } : {}),
      });
    }
    this.indexNames = secondaryIndexes.map((index) => index.name);
  }
}
