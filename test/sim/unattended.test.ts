/** The unattended limit: without X-PSU-IP, four calls a day per connection, endpoint and account. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../local/sim/types';
import type { AdjustableClock } from '../../shared/clock';
import type { Tokens } from './helpers';
import { connect, dataGet, day, refresh, startHarness } from './helpers';

let sim: RunningSimulator;
let clock: AdjustableClock;

beforeAll(async () => {
  ({ sim, clock } = await startHarness());
});

afterAll(async () => {
  await sim.close();
});

const accountIds = async (tokens: Tokens): Promise<{ current: string; savings: string }> => {
  const accounts = (await dataGet(sim, '/accounts', tokens.access_token)).body.results as { account_id: string; account_type: string }[];
  return {
    current: accounts.find((account) => account.account_type === 'TRANSACTION')?.account_id ?? '',
    savings: accounts.find((account) => account.account_type === 'SAVINGS')?.account_id ?? '',
  };
};

const unattended = (path: string, tokens: Tokens) => dataGet(sim, path, tokens.access_token, { attended: false });

const useUp = async (path: string, tokens: Tokens): Promise<void> => {
  for (let call = 0; call < 4; call += 1) expect((await unattended(path, tokens)).status).toBe(200);
};

describe('without X-PSU-IP', () => {
  it('answers the 5th call to an endpoint within 24 hours with 429 provider_request_limit_exceeded', async () => {
    const tokens = await connect(sim);
    const { current } = await accountIds(tokens);
    await useUp(`/accounts/${current}/balance`, tokens);
    const fifth = await unattended(`/accounts/${current}/balance`, tokens);
    expect(fifth.status).toBe(429);
    expect(fifth.body).toEqual({
      error: 'provider_request_limit_exceeded',
      error_description: 'Maximum number of requests per user allowed by provider exceeded.',
      error_details: {},
    });
  });

  it('counts another account separately', async () => {
    const tokens = await connect(sim);
    const { current, savings } = await accountIds(tokens);
    await useUp(`/accounts/${current}/transactions`, tokens);
    expect((await unattended(`/accounts/${current}/transactions`, tokens)).status).toBe(429);
    expect((await unattended(`/accounts/${savings}/transactions`, tokens)).status).toBe(200);
  });

  it('counts another endpoint separately', async () => {
    const tokens = await connect(sim);
    const { current } = await accountIds(tokens);
    await useUp(`/accounts/${current}/balance`, tokens);
    expect((await unattended(`/accounts/${current}/direct_debits`, tokens)).status).toBe(200);
  });

  it('counts another connection separately', async () => {
    const first = await connect(sim);
    await useUp('/info', first);
    const second = await connect(sim);
    expect((await unattended('/info', second)).status).toBe(200);
  });

  it('allows calls again once 24 hours have passed', async () => {
    let tokens = await connect(sim);
    await useUp('/cards', tokens);
    expect((await unattended('/cards', tokens)).status).toBe(429);
    clock.advance(day + 1);
    tokens = (await refresh(sim, tokens.refresh_token ?? '')).body as Tokens;
    expect((await unattended('/cards', tokens)).status).toBe(200);
  });

  it('does not limit /me, which TrueLayer answers without the bank', async () => {
    const tokens = await connect(sim);
    for (let call = 0; call < 6; call += 1) expect((await unattended('/me', tokens)).status).toBe(200);
  });
});

describe('with X-PSU-IP', () => {
  it('has no limit, even after the unattended allowance is used up', async () => {
    const tokens = await connect(sim);
    await useUp('/accounts', tokens);
    expect((await unattended('/accounts', tokens)).status).toBe(429);
    for (let call = 0; call < 6; call += 1)
      expect((await dataGet(sim, '/accounts', tokens.access_token, { attended: true })).status).toBe(200);
  });
});

describe('reset', () => {
  it('clears the unattended-call counts with the other counts', async () => {
    const tokens = await connect(sim);
    await useUp('/info', tokens);
    sim.reset();
    expect((await unattended('/info', tokens)).status).toBe(200);
  });
});
