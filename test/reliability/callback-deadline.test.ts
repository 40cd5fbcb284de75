/**
 * The callback never spends a code and then loses the tokens: they are stored before /me is asked,
 * and /me runs only on what is left of the invocation, so a /me that hangs cannot push the callback
 * past API Gateway's limit (the local gateway answers 503 at its integration timeout, as an HTTP API
 * does, here scaled down from 29 s to 5 s).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { functionSpecs } from '../../functions/routes';
import { connectionKey } from '../../shared/table';
import { TestApi } from '../support/flow';

let api: TestApi;

beforeAll(async () => {
  // A per-attempt timeout longer than the gateway's: only the request's deadline can stop /me in time.
  api = await TestApi.start({ gatewayTimeoutMs: 5_000, env: { TRUELAYER_TIMEOUT_MS: '120000' } });
});
afterAll(async () => api.close());

it('answers 302 with a completion code while /me hangs, with the tokens stored; the completion reads /me later', {
  timeout: 90_000,
}, async () => {
  // The function may run on past the gateway (token calls must not be cut short): the answer may not.
  expect(functionSpecs.callback.timeoutSeconds * 1000).toBeGreaterThan(5_000);
  const created = await api.createConnection('alice');
  const step = await api.authorize(created.auth_link);
  await api.simFault({ path: '/data/v1/me', delay_ms: 100_000, times: 1 });

  const callback = await api.deliverCallback(step);
  // A 503 here would be the gateway giving up on the function.
  expect(callback.status, callback.text).toBe(302);
  const target = new URL(callback.headers.get('location')!);
  expect(target.searchParams.get('status')).toBe('authorized');
  const completionCode = target.searchParams.get('completion_code')!;
  expect(completionCode).toMatch(/^[A-Za-z0-9_-]{43}$/);

  const doc = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: api.stack.dynamoEndpoint,
      region: 'eu-west-2',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  );
  const stored = (
    await doc.send(
      new GetCommand({ TableName: api.stack.tableName, Key: { pk: connectionKey(created.connection_id) }, ConsistentRead: true }),
    )
  ).Item;
  expect(stored).toMatchObject({ status: 'authorized', tokens: expect.stringMatching(/^v1\./) });
  expect(stored?.consent_expires_at).toBeUndefined();
  expect((await api.simStats()).token.authorization_code).toBe(1);

  // /me answers again: the owner's completion fills in what the callback had no time for.
  const completed = await api.complete('alice', created.connection_id, completionCode);
  expect(completed.status).toBe(200);
  expect(completed.body).toMatchObject({ status: 'active', provider: { provider_id: 'mock' }, consent_expires_at: expect.any(String) });
});
