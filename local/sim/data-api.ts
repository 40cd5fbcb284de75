/** Data API v1 reads under `/data/v1` (`{results, status}` envelopes), with TrueLayer's token, scope and rate rules. */
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { MockBank } from './bank-data';
import type { SimContext } from './context';
import type { SimError } from './errors';
import { dataErrors, tlError } from './errors';
import type { SimRequest } from './http';
import { bearerToken, headerValue, sendJson } from './http';
import { mockErrorFor } from './mock-users';
import { uuid } from './random';
import type { Scope } from './scopes';
import type { Credential } from './store';

type Resource = 'none' | 'account' | 'card';

interface ReadInput {
  bank: MockBank;
  credential: Credential;
  accountId: string;
  nowMs: number;
  range: { fromMs: number; toMs: number };
}

interface DataRoute {
  /** The path as TrueLayer's spec writes it; also the key of `/__sim/stats`. */
  template: string;
  pattern: RegExp;
  scopes: Scope[];
  resource: Resource;
  /** Reads served by the bank count towards the unattended 4-a-day limit; `/me` is TrueLayer's own. */
  bankCall: boolean;
  dateRange: boolean;
  read(input: ReadInput): unknown[];
}

const accountKind = (input: ReadInput): 'current' | 'savings' => input.bank.accountKind(input.accountId) ?? 'current';

const route = (
  template: string,
  scopes: Scope[],
  read: DataRoute['read'],
  options: { dateRange?: boolean; bankCall?: boolean } = {},
): DataRoute => {
  const resource: Resource = template.includes('/cards/{account_id}')
    ? 'card'
    : template.includes('/accounts/{account_id}')
      ? 'account'
      : 'none';
  const pattern = new RegExp(`^${template.replace('{account_id}', '([^/]+)')}/?$`);
  return { template, pattern, scopes, resource, bankCall: options.bankCall ?? true, dateRange: options.dateRange ?? false, read };
};

const meJson = (credential: Credential): Record<string, unknown> => ({
  client_id: credential.clientId,
  credentials_id: credential.credentialsId,
  consent_status: 'Authorised',
  consent_status_updated_at: new Date(credential.consentCreatedAt).toISOString(),
  consent_created_at: new Date(credential.consentCreatedAt).toISOString(),
  consent_expires_at: new Date(credential.consentExpiresAt).toISOString(),
  provider: {
    display_name: 'Mock',
    logo_uri: 'https://truelayer-provider-assets.s3.amazonaws.com/global/logos/mock.svg',
    provider_id: 'mock',
  },
  scopes: [...credential.scopes],
  privacy_policy: 'Feb2019',
});

const routes: readonly DataRoute[] = [
  route('/data/v1/me', [], ({ credential }) => [meJson(credential)], { bankCall: false }),
  route('/data/v1/info', ['info'], ({ bank, nowMs }) => [bank.info(nowMs)]),
  route('/data/v1/accounts', ['accounts'], ({ bank, nowMs }) => bank.accounts(nowMs)),
  route('/data/v1/accounts/{account_id}', ['accounts'], ({ bank, nowMs, accountId }) =>
    bank.accounts(nowMs).filter((account) => account.account_id === accountId),
  ),
  route('/data/v1/accounts/{account_id}/balance', ['accounts', 'balance'], (input) => [
    input.bank.accountBalance(accountKind(input), input.nowMs),
  ]),
  route(
    '/data/v1/accounts/{account_id}/transactions',
    ['accounts', 'transactions'],
    (input) => input.bank.transactions(accountKind(input), input.nowMs, input.range),
    { dateRange: true },
  ),
  route('/data/v1/accounts/{account_id}/transactions/pending', ['accounts', 'transactions'], (input) =>
    input.bank.pendingTransactions(accountKind(input), input.nowMs),
  ),
  route('/data/v1/accounts/{account_id}/standing_orders', ['accounts', 'standing_orders'], (input) =>
    input.bank.standingOrders(accountKind(input), input.nowMs),
  ),
  route('/data/v1/accounts/{account_id}/direct_debits', ['accounts', 'direct_debits'], (input) =>
    input.bank.directDebits(accountKind(input), input.nowMs),
  ),
  route('/data/v1/cards', ['cards'], ({ bank, nowMs }) => bank.cards(nowMs)),
  route('/data/v1/cards/{account_id}', ['cards'], ({ bank, nowMs }) => bank.cards(nowMs)),
  route('/data/v1/cards/{account_id}/balance', ['cards', 'balance'], ({ bank, nowMs }) => [bank.cardBalance(nowMs)]),
  route(
    '/data/v1/cards/{account_id}/transactions',
    ['cards', 'transactions'],
    ({ bank, nowMs, range }) => bank.transactions('card', nowMs, range),
    { dateRange: true },
  ),
  route('/data/v1/cards/{account_id}/transactions/pending', ['cards', 'transactions'], ({ bank, nowMs }) =>
    bank.pendingTransactions('card', nowMs),
  ),
];

/** The spec's path template of a Data API read (the key of `/__sim/stats`), if the path is one. */
export const matchDataTemplate = (path: string): string | undefined => routes.find((item) => item.pattern.test(path))?.template;

// ---- from/to ------------------------------------------------------------------------------

const dayMs = 86_400_000;
const dateOnly = /^\d{4}-\d{2}-\d{2}$/;
const dateTime = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?)(Z|[+-]\d{2}:?\d{2})?$/i;

/** `YYYY-MM-DD` (the whole day, so both ends are inclusive) or a full datetime (UTC when it has no zone). */
const parseBound = (value: string, end: boolean): number | undefined => {
  if (dateOnly.test(value)) {
    const start = Date.parse(`${value}T00:00:00Z`);
    if (Number.isNaN(start) || new Date(start).toISOString().slice(0, 10) !== value) return undefined;
    return end ? start + dayMs - 1 : start;
  }
  const match = dateTime.exec(value);
  if (match === null) return undefined;
  const [, date, time, zone] = match;
  const ms = Date.parse(`${date}T${time}${zone ?? 'Z'}`);
  if (Number.isNaN(ms) || new Date(Date.parse(`${date}T00:00:00Z`)).toISOString().slice(0, 10) !== date) return undefined;
  return ms;
};

const rangeQuerySchema = z.object({ from: z.string().optional(), to: z.string().optional() });

const parseRange = (url: URL, nowMs: number): { fromMs: number; toMs: number } | SimError => {
  const query = rangeQuerySchema.parse({ from: url.searchParams.get('from') ?? undefined, to: url.searchParams.get('to') ?? undefined });
  const fromMs = query.from === undefined ? 0 : parseBound(query.from, false);
  const toMs = query.to === undefined ? nowMs : parseBound(query.to, true);
  if (fromMs === undefined) return dataErrors.invalidDateRange('from is not a date (YYYY-MM-DD) or a datetime');
  if (toMs === undefined) return dataErrors.invalidDateRange('to is not a date (YYYY-MM-DD) or a datetime');
  if (fromMs > toMs) return dataErrors.invalidDateRange('from is after to');
  if (fromMs > nowMs) return dataErrors.invalidDateRange('from is in the future');
  // A `to` in the future is cut to now: "until today" is the everyday way to ask for recent history.
  return { fromMs, toMs: Math.min(toMs, nowMs) };
};

// ---- the handler --------------------------------------------------------------------------

export interface DataApi {
  handle(request: SimRequest, res: ServerResponse): Promise<boolean>;
}

/** The connection behind a bearer access token: its signature, expiry and subject checked. */
export const resolveAccessToken = async (
  ctx: SimContext,
  request: SimRequest,
): Promise<{ credential: Credential; jti: string } | SimError> => {
  const token = bearerToken(request.headers);
  if (token === undefined) return dataErrors.unauthorized('missing or malformed bearer token');
  const verified = await ctx.signer.verify(token, ctx.store.now());
  if (!verified.ok)
    return verified.reason === 'expired' ? dataErrors.invalidToken(verified.expiredAtMs) : dataErrors.unauthorized('invalid access token');
  const credential = ctx.store.credentials.get(verified.claims.sub);
  if (credential === undefined) return dataErrors.unauthorized('unknown credentials');
  return { credential, jti: verified.claims.jti };
};

export const isSimError = (value: unknown): value is SimError =>
  typeof value === 'object' && value !== null && 'status' in value && 'body' in value;

export const createDataApi = (ctx: SimContext): DataApi => {
  /** Token rules in TrueLayer's order: revoked or lapsed consent (403) before staleness (401). */
  const checkCredential = (credential: Credential, jti: string): SimError | undefined => {
    if (credential.revokedAt !== undefined) return dataErrors.accessDenied('the connection was revoked');
    if (ctx.store.isConsentOver(credential)) return dataErrors.accessDenied('consent expired');
    if (jti !== credential.accessJti) return dataErrors.unauthorized('a newer access token has been issued for this connection');
    return undefined;
  };

  return {
    async handle(request, res) {
      const matched = routes.map((item) => ({ item, match: item.pattern.exec(request.path) })).find(({ match }) => match !== null);
      if (matched === undefined || matched.match === null) return false;
      const { item } = matched;
      const accountId = matched.match[1] === undefined ? '' : decodeURIComponent(matched.match[1]);
      const correlationId = uuid();
      const headers: Record<string, string> = {
        'x-tl-correlation-id': correlationId,
        'x-request-id': correlationId,
        'cache-control': 'max-age=0',
      };
      const fail = (error: SimError): true => {
        sendJson(request.raw, res, error.status, error.body, { headers: { ...headers, ...error.headers }, gzip: true });
        return true;
      };
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return fail({
          ...tlError(405, 'method_not_allowed', `${request.method} is not allowed here; the Data API reads are GETs.`),
          headers: { allow: 'GET' },
        });
      }

      const authorized = await resolveAccessToken(ctx, request);
      if (isSimError(authorized)) {
        return fail(authorized.status === 401 ? { ...authorized, headers: { 'www-authenticate': 'Bearer' } } : authorized);
      }
      const { credential } = authorized;
      headers['x-credentials-id'] = credential.credentialsId;
      const stale = checkCredential(credential, authorized.jti);
      if (stale !== undefined) return fail(stale);

      if (item.bankCall && credential.errorCode !== undefined) return fail(mockErrorFor(credential.errorCode));
      const missing = item.scopes.filter((scope) => !credential.scopes.includes(scope));
      if (missing.length > 0) {
        return fail({
          ...tlError(403, 'insufficient_scope', `The access token lacks the scope this endpoint needs: ${missing.join(', ')}.`, {
            required_scopes: item.scopes,
            missing_scopes: missing,
          }),
          headers: { 'www-authenticate': `Bearer error="insufficient_scope", scope="${item.scopes.join(' ')}"` },
        });
      }

      const nowMs = ctx.store.now();
      const bank = ctx.banks.forUser(credential.username, credential.busy === true);
      if (item.resource === 'account' && bank.accountKind(accountId) === undefined) return fail(dataErrors.accountNotFound());
      if (item.resource === 'card' && !bank.isCard(accountId)) return fail(dataErrors.accountNotFound());
      let range = { fromMs: 0, toMs: nowMs };
      if (item.dateRange) {
        const parsed = parseRange(request.url, nowMs);
        if (isSimError(parsed)) return fail(parsed);
        range = parsed;
      }
      if (item.bankCall && headerValue(request.headers, 'x-psu-ip') === undefined) {
        const key = `${credential.credentialsId}|${item.template}|${accountId}`;
        if (!ctx.store.takeUnattendedCall(key)) return fail(dataErrors.unattendedLimit());
      }

      const results = item.read({ bank, credential, accountId, nowMs, range });
      headers['last-modified'] = new Date(nowMs).toUTCString();
      sendJson(request.raw, res, 200, { results, status: 'Succeeded' }, { headers, gzip: true });
      return true;
    },
  };
};
