/**
 * The worker's guarantees, on the local stack's real parts (embedded DynamoDB, simulator): two runs
 * at once do each thing once, and one item failing neither stops the run nor leaves the due list.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionServices } from '../../shared/connections/services';
import { runLifecycle } from '../../shared/lifecycle/worker';
import { connectionKey } from '../../shared/table';
import { tableClient } from '../reliability/helpers';
import { TestApi } from '../support/flow';

const day = 86_400;
let api: TestApi;
let services: ConnectionServices;

beforeAll(async () => {
  api = await TestApi.start();
  await api.call('GET', '/connections', { sub: 'warm-up' });
  // The lifecycle function's own dependencies: the local stack runs its handler in this process.
  services = (await import('../../functions/lifecycle')).dependencies().services;
});
afterAll(async () => api.close());

describe('two runs at once', () => {
  it('refresh once and send each notice once', async () => {
    const id = await api.connect('concurrent');
    await api.simReset();
    // The raw clock moves without running the worker; the two runs below are the only ones.
    api.advance(25 * day + 60);
    const [first, second] = await Promise.all([runLifecycle(services), runLifecycle(services)]);
    expect(first.failures).toEqual([]);
    expect(second.failures).toEqual([]);
    expect((await api.simStats()).token.refresh_token).toBe(1);
    expect(
      (await api.call('GET', `/connections/${id}/accounts`, { sub: 'concurrent', headers: { 'x-psu-ip': '203.0.113.7' } })).status,
    ).toBe(200);

    api.advance(51 * day);
    await Promise.all([runLifecycle(services), runLifecycle(services), runLifecycle(services)]);
    const notices = (await api.events(id)).filter((event) => event.type === 'connection.expiring');
    expect(notices.map((event) => event.data.days_left)).toEqual([14]);
  });
});

describe('a failing item', () => {
  it('is reported and stays due, while the others are done', async () => {
    const broken = await api.connect('broken');
    const fine = await api.connect('fine');
    // A token blob that can never decrypt: its keep-alive fails every time.
    await tableClient(api.stack).send(
      new UpdateCommand({
        TableName: api.stack.tableName,
        Key: { pk: connectionKey(broken) },
        UpdateExpression: 'SET tokens = :t',
        ExpressionAttributeValues: { ':t': 'v1.garbage' },
      }),
    );
    await api.simReset();
    api.advance(25 * day + 60);
    const run = await runLifecycle(services);
    expect(run.failures).toEqual([{ connection_id: broken, error: expect.any(String) }]);
    expect((await api.simStats()).token.refresh_token).toBeGreaterThanOrEqual(1);
    const fineView = await api.call('GET', `/connections/${fine}`, { sub: 'fine' });
    expect(Date.parse(fineView.body.last_refreshed_at)).toBeGreaterThan(api.stack.clock.now() - 120_000);
    // Retried next run.
    const next = await runLifecycle(services);
    expect(next.failures.map((failure) => failure.connection_id)).toContain(broken);
  });
});
