/** TrueLayer's auth server: the auth link, code exchange, refresh and revocation. */
import type { Clock } from '../clock';
import type { ClientCredentialsSource } from './client-credentials';
import { clientHttp, type HttpCall, type TrueLayerHttp, type UpstreamTelemetry } from './http';
import type { RetryPolicy } from './retry';
import { type TokenResponse, tokenResponseSchema } from './schemas';
import { parseScopeString, uniqueScopes, validateScopes } from './scopes';

export interface TokenSet {
  accessToken: string;
  refreshToken: string | undefined;
  /** Epoch ms: the clock's time when the request was sent plus `expires_in`, so it errs early. */
  expiresAt: number;
  scopes: string[];
}

export const tokenSetFrom = (
  response: Pick<TokenResponse, 'access_token' | 'expires_in' | 'refresh_token' | 'scope'>,
  sentAt: number,
): TokenSet => ({
  accessToken: response.access_token,
  refreshToken: response.refresh_token,
  expiresAt: sentAt + response.expires_in * 1000,
  scopes: parseScopeString(response.scope),
});

export interface AuthLinkRequest {
  redirectUri: string;
  scopes: string[];
  state: string;
  providers: string;
  providerId?: string;
  responseMode?: 'query' | 'form_post';
  /** PKCE (RFC 7636) S256 challenge: the code then only redeems with its verifier. */
  codeChallenge?: string;
}

export interface TrueLayerAuthClientOptions {
  /** e.g. https://auth.truelayer.com (a trailing slash is ignored). */
  authUrl: string;
  credentials: ClientCredentialsSource;
  clock: Clock;
  /** Per attempt. */
  timeoutMs: number;
  retry?: Partial<RetryPolicy>;
  /** Counts and traces each call (shared/telemetry.ts). */
  telemetry?: UpstreamTelemetry;
}

const isHttpUrl = (value: string): boolean => {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
};

const formHeaders = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };

export class TrueLayerAuthClient {
  private readonly authUrl: string;
  private readonly credentials: ClientCredentialsSource;
  private readonly http: TrueLayerHttp;

  constructor(options: TrueLayerAuthClientOptions) {
    this.authUrl = options.authUrl.replace(/\/+$/, '');
    this.credentials = options.credentials;
    this.http = clientHttp(options);
  }

  /**
   * The auth dialog link. Every value is URL-encoded (a `redirect_uri` with its own query survives),
   * with spaces as `%20` as TrueLayer documents. Throws a TypeError for input the caller should
   * have validated (unknown scopes, a relative redirect URI, an empty state).
   */
  async authLink(request: AuthLinkRequest): Promise<string> {
    const scopes = uniqueScopes(request.scopes);
    const problems = validateScopes(scopes);
    if (problems.length > 0) throw new TypeError(problems.join(' '));
    if (!isHttpUrl(request.redirectUri)) throw new TypeError('redirectUri must be an absolute http(s) URL');
    if (request.state.length === 0) throw new TypeError('state must not be empty');
    if (request.providers.trim().length === 0) throw new TypeError('providers must not be empty');
    const { clientId } = await this.credentials.get();
    const params = new URLSearchParams();
    params.set('response_type', 'code');
    params.set('client_id', clientId);
    params.set('redirect_uri', request.redirectUri);
    params.set('scope', scopes.join(' '));
    params.set('state', request.state);
    params.set('providers', request.providers.trim());
    if (request.providerId) params.set('provider_id', request.providerId);
    // TrueLayer documents only `form_post`; query delivery is its default, so it is left implicit.
    if (request.responseMode === 'form_post') params.set('response_mode', 'form_post');
    if (request.codeChallenge) {
      params.set('code_challenge', request.codeChallenge);
      params.set('code_challenge_method', 'S256');
    }
    // URLSearchParams writes a space as `+` and a literal `+` as `%2B`, so this swap is exact.
    return `${this.authUrl}/?${params.toString().replace(/\+/g, '%20')}`;
  }

  /**
   * `POST /connect/token` with `grant_type=authorization_code`. `deadline` (epoch ms, real time)
   * bounds the call, retries included, below the client's own per-attempt timeout.
   */
  async exchangeCode(input: {
    code: string;
    redirectUri: string;
    codeVerifier?: string | undefined;
    deadline?: number | undefined;
  }): Promise<TokenSet> {
    const { clientId, clientSecret } = await this.credentials.get();
    const form = new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uri: input.redirectUri,
      code: input.code,
    });
    if (input.codeVerifier) form.set('code_verifier', input.codeVerifier);
    return this.token(form, [input.code, clientSecret, ...(input.codeVerifier ? [input.codeVerifier] : [])], input.deadline);
  }

  /** `POST /connect/token` with `grant_type=refresh_token`. The answer may carry a new refresh token. */
  async refresh(refreshToken: string, options: { deadline?: number | undefined } = {}): Promise<TokenSet> {
    const { clientId, clientSecret } = await this.credentials.get();
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: clientId,
      client_secret: clientSecret,
      refresh_token: refreshToken,
    });
    return this.token(form, [refreshToken, clientSecret], options.deadline);
  }

  /** `DELETE /api/delete`: TrueLayer deletes the connection the access token belongs to. */
  async revoke(accessToken: string): Promise<void> {
    const call: HttpCall = {
      operation: 'revoke',
      method: 'DELETE',
      url: `${this.authUrl}/api/delete`,
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      retryMode: 'unprocessed-only',
      sensitive: [accessToken],
    };
    const result = await this.http.send(call);
    if (!this.http.isSuccess(result)) throw this.http.errorFrom(call, result);
  }

  private async token(form: URLSearchParams, sensitive: string[], deadline: number | undefined): Promise<TokenSet> {
    const call: HttpCall = {
      operation: 'token',
      method: 'POST',
      url: `${this.authUrl}/connect/token`,
      headers: formHeaders,
      body: form.toString(),
      retryMode: 'unprocessed-only',
      sensitive,
      ...(deadline === undefined ? {} : { deadline }),
    };
    const sentAt = this.http.clock.now();
    const result = await this.http.send(call);
    if (!this.http.isSuccess(result)) throw this.http.errorFrom(call, result);
    return tokenSetFrom(this.http.parseBody(call, result, tokenResponseSchema), sentAt);
  }
}
