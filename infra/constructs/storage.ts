/**
 * The connections table and the key it is encrypted with, both built from shared/table.ts (keys,
 * indexes and their projections), so the deployed table follows every change the local one sees.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import type { GlobalSecondaryIndexProps } from 'aws-cdk-lib/aws-dynamodb';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { tableDefinition } from '../../shared/table';
import { serviceName } from '../names';

const attributeType = { S: AttributeType.STRING, N: AttributeType.NUMBER, B: AttributeType.BINARY } as const;

type KeyDefinition = { name: string; type: keyof typeof attributeType };
/** A secondary index as shared/table.ts may describe it: today the owner index; more may follow. */
interface IndexDefinition {
  name: string;
  partitionKey: KeyDefinition;
  sortKey?: KeyDefinition;
  /** Absent: ALL. Either our own shape, DynamoDB's (`{ProjectionType, NonKeyAttributes}`), or the list of included attributes. */
  projection?:
    | { type: 'ALL' | 'KEYS_ONLY' | 'INCLUDE'; attributes?: readonly string[] }
    | { ProjectionType: 'ALL' | 'KEYS_ONLY' | 'INCLUDE'; NonKeyAttributes?: readonly string[] }
    | readonly string[];
}

/** A table definition as shared/table.ts writes it: keys, TTL, and `*Index` entries. */
export interface TableDefinitionLike {
  partitionKey: KeyDefinition;
  ttlAttribute: string;
}

/** Every `*Index` entry of the table definition, in order. */
export const indexDefinitions = (definition: TableDefinitionLike = tableDefinition): IndexDefinition[] =>
  Object.entries(definition as unknown as Record<string, unknown>)
    .filter(
      ([key, value]) => key.endsWith('Index') && typeof value === 'object' && value !== null && 'name' in value && 'partitionKey' in value,
    )
    .map(([, value]) => value as IndexDefinition);

const projectionOf = (index: IndexDefinition): Pick<GlobalSecondaryIndexProps, 'projectionType' | 'nonKeyAttributes'> => {
  const projection = index.projection;
  // An array is the list of attributes to include beside the keys.
  if (Array.isArray(projection)) return { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: [...projection] };
  const described = projection as
    | {
        type?: string;
        attributes?: readonly string[];
        nonKeyAttributes?: readonly string[];
        ProjectionType?: string;
        NonKeyAttributes?: readonly string[];
      }
    | undefined;
  const type = described?.type ?? described?.ProjectionType ?? 'ALL';
  if (type === 'ALL') return { projectionType: ProjectionType.ALL };
  if (type === 'KEYS_ONLY') return { projectionType: ProjectionType.KEYS_ONLY };
  if (type !== 'INCLUDE') throw new Error(`unknown projection type ${type} in shared/table.ts`);
  return {
    projectionType: ProjectionType.INCLUDE,
    nonKeyAttributes: [...(described?.attributes ?? described?.nonKeyAttributes ?? described?.NonKeyAttributes ?? [])],
  };
};

export class Storage extends Construct {
  readonly table: Table;
  /** Encrypts the table at rest; DynamoDB uses it on the functions' behalf. */
  readonly tableKey: Key;
  /** Index names, for the `index/<name>` ARNs a query grant needs. */
  readonly indexNames: string[];

  constructor(scope: Construct, id: string, props: { definition?: TableDefinitionLike } = {}) {
    super(scope, id);
    const definition = props.definition ?? tableDefinition;
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
    const indexes = indexDefinitions(definition);
    for (const index of indexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey.name, type: attributeType[index.partitionKey.type] },
        ...(index.sortKey ? { sortKey: { name: index.sortKey.name, type: attributeType[index.sortKey.type] } } : {}),
        ...projectionOf(index),
      });
    }
    this.indexNames = indexes.map((index) => index.name);
  }
}
