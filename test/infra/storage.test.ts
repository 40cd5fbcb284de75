/** The Storage construct follows the table definition: every `*Index` entry, with the projection it names. */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { Storage } from '../../infra/constructs/storage';
import type { TableDefinitionLike } from '../../infra/constructs/storage';
import { tableDefinition } from '../../shared/table';

const indexesOf = (definition?: TableDefinitionLike) => {
  const stack = new Stack(new App(), 'StorageTest');
  new Storage(stack, 'Storage', definition ? { definition } : {});
  const [table] = Object.values(Template.fromStack(stack).findResources('AWS::DynamoDB::Table'));
  return (table?.Properties as { GlobalSecondaryIndexes: { IndexName: string; Projection: unknown; KeySchema: unknown[] }[] })
    .GlobalSecondaryIndexes;
};

describe('Storage', () => {
  it('builds the indexes of shared/table.ts', () => {
    expect(indexesOf().map((index) => index.IndexName)).toEqual([tableDefinition.ownerIndex.name, tableDefinition.dueIndex.name]);
  });

  it('takes a narrower projection and a further index from the definition, without an infra edit', () => {
    const indexes = indexesOf({
      ...tableDefinition,
      ownerIndex: { ...tableDefinition.ownerIndex, projection: { type: 'INCLUDE', attributes: ['status', 'provider'] } },
      dueIndex: {
        name: 'by-due',
        partitionKey: { name: 'gsi_due', type: 'S' },
        sortKey: { name: 'due_at', type: 'N' },
        projection: { type: 'KEYS_ONLY' },
      },
    } as never);
    expect(indexes).toEqual([
      expect.objectContaining({
        IndexName: 'by-owner',
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['status', 'provider'] },
      }),
      expect.objectContaining({ IndexName: 'by-due', Projection: { ProjectionType: 'KEYS_ONLY' } }),
    ]);
  });
});
