/** `GET /api/providers`: the simulator's provider list, filtered as TrueLayer's spec describes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../local/sim/types';
import { startHarness } from './helpers';

let sim: RunningSimulator;

beforeAll(async () => {
  ({ sim } = await startHarness());
});

afterAll(async () => {
  await sim.close();
});

const providers = async (query: string) => {
  const response = await fetch(`${sim.url}/api/providers${query}`);
  expect(response.status).toBe(200);
  return (await response.json()) as { provider_id: string; display_name: string; logo_url: string; country: string; scopes: string[] }[];
};

describe('GET /api/providers', () => {
  it('lists the mock bank and real ones with the fields TrueLayer returns, with no auth', async () => {
    const all = await providers('');
    expect(all.map((p) => p.provider_id)).toContain('mock');
    expect(new Set(all.map((p) => p.country)).size).toBeGreaterThan(1);
    for (const provider of all)
      expect(provider).toMatchObject({
        provider_id: expect.any(String),
        display_name: expect.any(String),
        logo_url: expect.stringMatching(/^https:/),
        country: expect.stringMatching(/^[a-z]{2}$/),
        scopes: expect.any(Array),
      });
  });

  it('filters by space-separated countries and by the scopes a provider must all support', async () => {
    const uk = await providers('?country=uk');
    expect(uk.length).toBeGreaterThan(1);
    expect(uk.every((p) => p.country === 'uk')).toBe(true);
    const ukIe = await providers('?country=uk%20ie');
    expect(ukIe.length).toBeGreaterThan(uk.length);
    const withCards = await providers('?scopes=cards%20standing_orders');
    expect(withCards.length).toBeGreaterThan(0);
    expect(withCards.every((p) => p.scopes.includes('cards') && p.scopes.includes('standing_orders'))).toBe(true);
    expect(withCards.length).toBeLessThan((await providers('')).length);
  });
});
