/** TrueLayer's Data API v1: the fourteen GETs, `/me`, and extending a connection. */
import { isIP } from 'node:net';
import type { Clock } from '../clock';
import type * as z from '../zod';
import { type TokenSet, tokenSetFrom } from './auth-client';
import type { ClientCredentialsSource } from './client-credentials';
import { type DataPath, parseDataPath } from './data-paths';
import { clientHttp, type HttpCall, type TrueLayerHttp, type UpstreamTelemetry } from './http';
import type { RetryPolicy } from './retry';
import { dataResponseSchema, extendResponseSchema, meResponseSchema } from './schemas';

export interface DataResponse {
  status: number;
  body: unknown;
  /** Only `content-type`, `cache-control` and `x-tl-correlation-id`, lower-cased, when TrueLayer sent them. */
  headers: Record<string, string>;
}

export interface Me {
  credentialsId: string;
  consentCreatedAt?: string;
  consentExpiresAt?: string;
  provider?: { providerId: string; displayName?: string; logoUri?: string };
  scopes: string[];
}

export type ExtendResult = { action: 'no_action_needed'; tokens: TokenSet } | { action: 'authentication_needed'; userInputLink: string };

export interface ExtendInput {
  refreshToken: string;
  redirectUri: string;
  user: { id?: string; name: string; email?: string; phone?: string };
  state?: string;
  responseMode?: 'query' | 'form_post';
  /** Epoch ms (real time): the call, retries included, ends by then. */
  deadline?: number | undefined;
  /** PKCE S256 challenge for the re-authentication link, when one is needed. */
  codeChallenge?: string;
}

export interface TrueLayerDataClientOptions {
  /** e.g. https://api.truelayer.com (without `/data/v1`; a trailing slash is ignored). */
  apiUrl: string;
  credentials: ClientCredentialsSource;
  clock: Clock;
  /** Per attempt. */
  timeoutMs: number;
  /** Per attempt of an extend, which spends the refresh token like a refresh does. Default `timeoutMs`. */
  tokenTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Counts and traces each call (shared/telemetry.ts). */
  telemetry?: UpstreamTelemetry;
}

const passedHeaders = ['content-type', 'cache-control', 'x-tl-correlation-id'] as const;

export class TrueLayerDataClient {
  private readonly apiUrl: string;
  private readonly credentials: ClientCredentialsSource;
  private readonly http: TrueLayerHttp;
  private readonly tokenTimeoutMs: number;

  constructor(options: TrueLayerDataClientOptions) {
    this.tokenTimeoutMs = options.tokenTimeoutMs ?? options.timeoutMs;
    this.apiUrl = options.apiUrl.replace(/\/+$/, '');
    this.credentials = options.credentials;
    this.http = clientHttp(options);
  }

  /**
   * One Data API GET, retried on 5xx, timeouts and network errors (reads are idempotent). A 2xx is
   * returned with TrueLayer's body as is; anything else throws a TrueLayerError. `from`/`to` are
   * sent only on the paths that take them.
   */
  async get(
    path: DataPath,
    options: { accessToken: string; query?: { from?: string; to?: string }; psuIp?: string; deadline?: number },
  ): Promise<DataResponse> {
    // Re-parsed so a hand-built DataPath cannot smuggle anything into the URL.
    const checked = parseDataPath(path.path);
    if (!checked) throw new TypeError('not a TrueLayer Data API v1 path');
    const url = new URL(`${this.apiUrl}/data/v1/${checked.path}`);
    if (checked.supportsDateRange) {
      if (options.query?.from !== undefined) url.searchParams.set('from', options.query.from);
      if (options.query?.to !== undefined) url.searchParams.set('to', options.query.to);
    }
    const call = {
      ...this.dataCall(checked.kind === 'me' ? 'me' : 'data', url.toString(), options.accessToken, options.psuIp),
      ...(options.deadline ? { deadline: options.deadline } : {}),
    };
    const result = await this.http.send(call);
    if (!this.http.isSuccess(result)) throw this.http.errorFrom(call, result);
    const body = this.http.parseBody(call, result, dataResponseSchema);
    const headers: Record<string, string> = {};
    for (const name of passedHeaders) {
      const value = result.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    return { status: result.status, body, headers };
  }

  /** `GET /data/v1/me`: the connection's credentials id, consent dates, provider and granted scopes. */
  async me(accessToken: string, options: { psuIp?: string; deadline?: number } = {}): Promise<Me> {
    const call = {
      ...this.dataCall('me', `${this.apiUrl}/data/v1/me`, accessToken, options.psuIp),
      ...(options.deadline ? { deadline: options.deadline } : {}),
    };
    const result = await this.http.send(call);
    if (!this.http.isSuccess(result)) throw this.http.errorFrom(call, result);
    // The schema requires at least one result, so the first is always there.
    const item = this.http.parseBody(call, result, meResponseSchema).results[0] as z.infer<typeof meResponseSchema>['results'][number];
    const me: Me = { credentialsId: item.credentials_id, scopes: item.scopes ?? [] };
    if (item.consent_created_at !== undefined) me.consentCreatedAt = item.consent_created_at;
    if (item.consent_expires_at !== undefined) me.consentExpiresAt = item.consent_expires_at;
    if (item.provider) {
      me.provider = { providerId: item.provider.provider_id };
      if (item.provider.display_name !== undefined) me.provider.displayName = item.provider.display_name;
      if (item.provider.logo_uri !== undefined) me.provider.logoUri = item.provider.logo_uri;
    }
    return me;
  }

  /**
   * `POST /data/v1/connections/extend`, telling TrueLayer the user reconfirmed consent in our app.
   * `no_action_needed` returns new tokens (their `scopes` are empty: TrueLayer's answer lists none,
   * the connection keeps the ones it had). `reconfirmation_of_consent_needed`, documented but not
   * served, is reported as `authentication_needed`: either way the user must follow the link.
   */
  async extend(input: ExtendInput): Promise<ExtendResult> {
    const { clientId, clientSecret } = await this.credentials.get();
    const user: Record<string, string> = { name: input.user.name };
    if (input.user.id !== undefined) user.id = input.user.id;
    if (input.user.email !== undefined) user.email = input.user.email;
    if (input.user.phone !== undefined) user.phone = input.user.phone;
    const body: Record<string, unknown> = {
      user_has_reconfirmed_consent: true,
      client_id: clientId,
      client_secret: clientSecret,
      user,
      refresh_token: input.refreshToken,
      redirect_uri: input.redirectUri,
    };
    if (input.state !== undefined) body.state = input.state;
    if (input.codeChallenge !== undefined) {
      body.code_challenge = input.codeChallenge;
      body.code_challenge_method = 'S256';
    }
    // TrueLayer's schema allows only `form_post`; GET delivery is its default.
    if (input.responseMode === 'form_post') body.response_mode = 'form_post';
    const call: HttpCall = {
      operation: 'extend',
      method: 'POST',
      url: `${this.apiUrl}/data/v1/connections/extend`,
      headers: { 'content-type': 'application/json', accept: 'application/json, application/problem+json' },
      body: JSON.stringify(body),
      retryMode: 'unprocessed-only',
      sensitive: [input.refreshToken, clientSecret],
      timeoutMs: this.tokenTimeoutMs,
      ...(input.deadline === undefined ? {} : { deadline: input.deadline }),
    };
    const sentAt = this.http.clock.now();
    const result = await this.http.send(call);
    if (!this.http.isSuccess(result)) throw this.http.errorFrom(call, result);
    const parsed = this.http.parseBody(call, result, extendResponseSchema);
    if (parsed.action_needed === 'no_action_needed') return { action: 'no_action_needed', tokens: tokenSetFrom(parsed, sentAt) };
    return { action: 'authentication_needed', userInputLink: parsed.user_input_link };
  }

  private dataCall(operation: 'data' | 'me', url: string, accessToken: string, psuIp: string | undefined): HttpCall {
    const headers: Record<string, string> = { authorization: `Bearer ${accessToken}`, accept: 'application/json' };
    if (psuIp !== undefined) {
      if (isIP(psuIp) === 0) throw new TypeError('psuIp must be an IPv4 or IPv6 address');
      // Marks the call as user-present, lifting the bank's four-unattended-calls-a-day limit.
      headers['x-psu-ip'] = psuIp;
    }
    return { operation, method: 'GET', url, headers, retryMode: 'idempotent', sensitive: [accessToken] };
  }
}
