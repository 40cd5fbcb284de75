/** `john`/`busy`: 50,000 transactions over any two years on the current account, the same on every read. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../local/sim/types';
import { connect, dataGet, startHarness } from './helpers';

let sim: RunningSimulator;

beforeAll(async () => {
  ({ sim } = await startHarness());
});

afterAll(async () => {
  await sim.close();
});

const day = (msAgo: number) => new Date(Date.now() - msAgo).toISOString().slice(0, 10);

describe('john/busy', () => {
  it('has 50,000 transactions in two years on the current account, about 68 a day, and an ordinary savings account', async () => {
    const tokens = await connect(sim, { username: 'john', password: 'busy' });
    const accounts = (await dataGet(sim, '/accounts', tokens.access_token)).body.results as { account_id: string; account_type: string }[];
    const current = accounts.find((account) => account.account_type === 'TRANSACTION')?.account_id ?? '';
    const savings = accounts.find((account) => account.account_type === 'SAVINGS')?.account_id ?? '';
    const all = (await dataGet(sim, `/accounts/${current}/transactions`, tokens.access_token)).body.results as {
      normalised_provider_transaction_id: string;
    }[];
    expect(all.length).toBeGreaterThanOrEqual(49_999);
    expect(all.length).toBeLessThanOrEqual(50_001);
    expect(new Set(all.map((t) => t.normalised_provider_transaction_id)).size).toBe(all.length);
    const week = (
      await dataGet(sim, `/accounts/${current}/transactions?from=${day(20 * 86_400_000)}&to=${day(14 * 86_400_000)}`, tokens.access_token)
    ).body.results;
    expect(week.length).toBeGreaterThan(7 * 60);
    expect(week.length).toBeLessThan(7 * 75);
    const again = (
      await dataGet(sim, `/accounts/${current}/transactions?from=${day(20 * 86_400_000)}&to=${day(14 * 86_400_000)}`, tokens.access_token)
    ).body.results;
    expect(again).toEqual(week);
    const saved = (await dataGet(sim, `/accounts/${savings}/transactions`, tokens.access_token)).body.results;
    expect(saved.length).toBeLessThan(1_000);
  });

  it('is a different bank from john/doe: other account ids', async () => {
    const busy = await connect(sim, { username: 'john', password: 'busy' });
    const plain = await connect(sim, { username: 'john', password: 'doe' });
    const ids = async (token: string) =>
      ((await dataGet(sim, '/accounts', token)).body.results as { account_id: string }[]).map((a) => a.account_id);
    expect(await ids(busy.access_token)).not.toEqual(await ids(plain.access_token));
  });
});
