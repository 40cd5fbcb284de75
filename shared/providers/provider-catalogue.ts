/**
 * GET /providers: the banks to offer in a picker, from TrueLayer's `/api/providers`, remembered for
 * an hour per container (the list changes rarely, and a picker is shown often).
 */
import type { Clock } from '../clock';
import { mapUpstreamError } from '../connections/upstream-errors';
import { ValidationError } from '../errors';
import type { Provider, TrueLayerProvidersClient } from '../truelayer/providers-client';

export const providerCacheMs = 60 * 60 * 1000;

/** TrueLayer writes the United Kingdom `uk`; ISO 3166 says `gb`. Both are accepted. */
const toTrueLayerCountry = (code: string): string => (code === 'gb' ? 'uk' : code);

/** `?country=gb` or a list (`gb,ie` or `gb ie`); absent means every country. */
export const parseCountries = (value: string | undefined): string[] => {
  if (value === undefined || value.trim() === '') return [];
  const codes = value
    .toLowerCase()
    .split(/[\s,]+/)
    .filter((code) => code.length > 0);
  if (codes.length > 20 || !codes.every((code) => /^[a-z]{2}$/.test(code))) {
    throw new ValidationError('"country" must be two-letter country codes (e.g. gb, ie, de), separated by commas.');
  }
  return [...new Set(codes.map(toTrueLayerCountry))].sort();
};

export class ProviderCatalogue {
  private readonly cached = new Map<string, { at: number; providers: Promise<Provider[]> }>();

  constructor(private readonly options: { client: Pick<TrueLayerProvidersClient, 'list'>; clock: Clock }) {}

  async list(country: string | undefined): Promise<{ providers: Provider[] }> {
    const countries = parseCountries(country);
    const key = countries.join(' ');
    const now = this.options.clock.now();
    const hit = this.cached.get(key);
    if (hit && now - hit.at < providerCacheMs) return { providers: await hit.providers };
    // Concurrent requests share one upstream call; a failure is not remembered.
    const providers = this.options.client.list(countries).catch((error: unknown) => {
      this.cached.delete(key);
      throw mapUpstreamError(error);
    });
    this.cached.set(key, { at: now, providers });
    return { providers: await providers };
  }
}
