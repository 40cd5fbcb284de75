/** TrueLayer's `GET /api/providers` (auth server, no token): the banks enabled for our client. */

import type { Clock } from '../clock';
import * as z from '../zod';
import type { ClientCredentialsSource } from './client-credentials';
import { clientHttp, type HttpCall, type TrueLayerHttp } from './http';

const providerSchema = z.object({
  provider_id: z.string(),
  display_name: z.string(),
  logo_url: z.optional(z.string()),
  country: z.string(),
  scopes: z.optional(z.array(z.string())),
});

const providersSchema = z.array(providerSchema);

export interface Provider {
  provider_id: string;
  display_name: string;
  logo_url: string | null;
  country: string;
  scopes: string[];
}

export class TrueLayerProvidersClient {
  private readonly authUrl: string;
  private readonly http: TrueLayerHttp;

  constructor(private readonly options: { authUrl: string; credentials: ClientCredentialsSource; clock: Clock; timeoutMs: number }) {
    this.authUrl = options.authUrl.replace(/\/+$/, '');
    this.http = clientHttp(options);
  }

  /** Providers enabled for our client_id, in the given countries (TrueLayer's codes: `uk`, `ie`, `de`, …). */
  async list(countries: readonly string[]): Promise<Provider[]> {
    const { clientId } = await this.options.credentials.get();
    const url = new URL(`${this.authUrl}/api/providers`);
    url.searchParams.set('clientId', clientId);
    if (countries.length > 0) url.searchParams.set('country', countries.join(' '));
    const call: HttpCall = {
      operation: 'providers',
      method: 'GET',
      url: url.toString(),
      headers: { accept: 'application/json' },
      retryMode: 'idempotent',
      sensitive: [],
    };
    const result = await this.http.send(call);
    if (!this.http.isSuccess(result)) throw this.http.errorFrom(call, result);
    return this.http.parseBody(call, result, providersSchema).map((item) => ({
      provider_id: item.provider_id,
      display_name: item.display_name,
      logo_url: item.logo_url ?? null,
      country: item.country,
      scopes: item.scopes ?? [],
    }));
  }
}
