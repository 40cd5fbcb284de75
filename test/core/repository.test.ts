/** How the repository reports DynamoDB failures: an outage is a 503, a refusal is not dressed up as one. */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDynamo, startDynamo } from '../../local/dynamo';
import { ConnectionRepository } from '../../shared/connections/repository';
import { DependencyUnavailableError } from '../../shared/errors';

let dynamo: RunningDynamo;
beforeAll(async () => {
  dynamo = await startDynamo({ port: 0, tableName: 'repo-test' });
});
afterAll(async () => dynamo.close());

const id = '00000000-0000-4000-8000-000000000009';

describe('connection repository failures', () => {
  it('answers an unreachable store as DependencyUnavailableError (503)', async () => {
    const client = new DynamoDBClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'eu-west-2',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    const repository = new ConnectionRepository({ client, tableName: 'repo-test' });
    await expect(repository.get(id)).rejects.toMatchObject({ name: 'DependencyUnavailableError', status: 503 });
  });

  it('keeps a request DynamoDB refuses (here a missing table) as the SDK error, not a 503', async () => {
    const repository = new ConnectionRepository({ client: dynamo.client(), tableName: 'no-such-table' });
    const error = await repository.get(id).catch((caught: unknown) => caught);
    expect(error).not.toBeInstanceOf(DependencyUnavailableError);
    expect((error as Error).name).toBe('ResourceNotFoundException');
  });

  it('reads nothing for an unknown id', async () => {
    const repository = new ConnectionRepository({ client: dynamo.client(), tableName: 'repo-test' });
    expect(await repository.get(id)).toBeUndefined();
  });
});

describe('status changes', () => {
  it('never write over a revoke', async () => {
    const repository = new ConnectionRepository({ client: dynamo.client(), tableName: 'repo-test' });
    const now = new Date().toISOString();
    const connectionId = '00000000-0000-4000-8000-00000000000a';
    await repository.create({
      connectionId,
      owner: 'alice',
      status: 'active',
      scopes: ['accounts'],
      providers: 'uk-cs-mock',
      responseMode: 'query',
      redirectUri: 'http://127.0.0.1:3000/callback',
      createdAt: now,
      updatedAt: now,
      authLinkExpiresAt: now,
      refreshCount: 0,
      version: 0,
    });
    const input = { now: Date.parse(now), newEventId: () => crypto.randomUUID() };
    const stale = (await repository.get(connectionId))!;
    const revoked = await repository.transition(stale, 'revoked', input);
    expect(revoked?.record).toMatchObject({ status: 'inactive', statusReason: 'revoked' });
    expect(revoked?.events.map((event) => event.type)).toEqual(['connection.revoked']);
    // Decided on the stale read, re-read, refused: a revoke is final.
    expect(await repository.transition(stale, 'refresh_refused', { ...input, detail: 'invalid_grant' })).toBeUndefined();
    expect(await repository.get(connectionId)).toMatchObject({ status: 'inactive', statusReason: 'revoked' });
    // Repeating the revoke changes nothing and emits nothing more.
    expect(await repository.transition(stale, 'revoked', input)).toBeUndefined();
    expect((await repository.get(connectionId))?.outbox).toHaveLength(1);
  });
});
