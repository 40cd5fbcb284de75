/** The deployed table is the local one: CDK builds its indexes from the same list the local stack creates them from. */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { Storage } from '../../infra/constructs/storage';
import { createTableInput, tableDefinition } from '../../shared/table';

interface DeployedIndex {
  IndexName: string;
  KeySchema: { AttributeName: string; KeyType: string }[];
  Projection: { ProjectionType: string; NonKeyAttributes?: string[] };
}

const deployedIndexes = (): DeployedIndex[] => {
  const stack = new Stack(new App(), 'StorageTest');
  new Storage(stack, 'Storage');
  const [table] = Object.values(Template.fromStack(stack).findResources('AWS::DynamoDB::Table'));
  return (table?.Properties as { GlobalSecondaryIndexes: DeployedIndex[] }).GlobalSecondaryIndexes;
};

describe('Storage', () => {
  it('deploys exactly the indexes the local table has: names, keys and projections', () => {
    const local = createTableInput('t').GlobalSecondaryIndexes;
    expect(deployedIndexes()).toEqual(
      local.map((index) => ({ IndexName: index.IndexName, KeySchema: index.KeySchema, Projection: index.Projection })),
    );
  });

  it('keeps the token blob out of the owner index, and projects keys only into the due index', () => {
    const [owner, due] = deployedIndexes();
    expect(owner).toMatchObject({ IndexName: tableDefinition.ownerIndex.name, Projection: { ProjectionType: 'INCLUDE' } });
    expect(owner?.Projection.NonKeyAttributes).not.toContain('tokens');
    expect(owner?.Projection.NonKeyAttributes).toContain('status');
    expect(due).toMatchObject({ IndexName: tableDefinition.dueIndex.name, Projection: { ProjectionType: 'KEYS_ONLY' } });
  });
});
