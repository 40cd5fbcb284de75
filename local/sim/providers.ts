/**
 * `GET /api/providers?clientId=&scopes=&country=` (auth server): the banks a client may offer.
 * The mock bank is the one the dialog signs in to; the others are listed as TrueLayer lists them,
 * so a picker has realistic entries to show.
 */
import type { ServerResponse } from 'node:http';
import { mockProvider } from './bank-data';
import type { SimRequest } from './http';
import { sendJson } from './http';

const assets = 'https://truelayer-provider-assets.s3.amazonaws.com';
const full = ['info', 'accounts', 'balance', 'transactions', 'cards', 'direct_debits', 'standing_orders', 'offline_access'];

const catalogue = [
  {
    provider_id: mockProvider.provider_id,
    display_name: mockProvider.display_name,
    country: 'uk',
    logo_url: mockProvider.logo_uri,
    scopes: full,
  },
  {
    provider_id: 'ob-monzo',
    display_name: 'Monzo',
    country: 'uk',
    logo_url: `${assets}/global/logos/monzo.svg`,
    scopes: ['info', 'accounts', 'balance', 'transactions', 'direct_debits', 'standing_orders', 'offline_access'],
  },
  { provider_id: 'ob-barclays', display_name: 'Barclays', country: 'uk', logo_url: `${assets}/global/logos/barclays.svg`, scopes: full },
  { provider_id: 'ob-lloyds', display_name: 'Lloyds', country: 'uk', logo_url: `${assets}/global/logos/lloyds.svg`, scopes: full },
  {
    provider_id: 'ob-transferwise',
    display_name: 'Wise',
    country: 'uk',
    logo_url: `${assets}/global/logos/transferwise.svg`,
    scopes: ['accounts', 'balance', 'transactions', 'offline_access'],
  },
  {
    provider_id: 'ob-revolut',
    display_name: 'Revolut',
    country: 'ie',
    logo_url: `${assets}/global/logos/revolut.svg`,
    scopes: ['info', 'accounts', 'balance', 'transactions', 'cards', 'offline_access'],
  },
  {
    provider_id: 'xs2a-deutsche-bank',
    display_name: 'Deutsche Bank',
    country: 'de',
    logo_url: `${assets}/de/logos/deutsche-bank.svg`,
    scopes: ['info', 'accounts', 'balance', 'transactions', 'offline_access'],
  },
  {
    provider_id: 'stet-credit-agricole',
    display_name: 'Crédit Agricole',
    country: 'fr',
    logo_url: `${assets}/fr/logos/credit-agricole.svg`,
    scopes: ['info', 'accounts', 'balance', 'transactions', 'offline_access'],
  },
];

/** Space-delimited lists, as the spec's `style: spaceDelimited` sends them (`+` or `%20`). */
const listParam = (url: URL, name: string): string[] => (url.searchParams.get(name) ?? '').split(/\s+/).filter((item) => item.length > 0);

export const handleProviders = (request: SimRequest, res: ServerResponse, nowMs: number): void => {
  const countries = listParam(request.url, 'country');
  const scopes = listParam(request.url, 'scopes');
  const listed = catalogue
    .filter((provider) => countries.length === 0 || countries.includes(provider.country))
    .filter((provider) => scopes.every((scope) => provider.scopes.includes(scope)))
    .map((provider) => ({
      ...provider,
      scopes: [...provider.scopes],
      availability: { recommended_status: 'healthy', updated_at: new Date(nowMs).toISOString() },
    }));
  sendJson(request.raw, res, 200, listed);
};
