/** Data API v1 reads: shapes from TrueLayer's spec, headers, consistent mock data, ranges, scopes, errors. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { RunningSimulator } from '../../local/sim/types';
import type { AdjustableClock } from '../../shared/clock';
import type { Tokens } from './helpers';
import { connect, dataGet, startHarness, subOf } from './helpers';

// ---- zod schemas written from data-api-v1.openapi.json (components.schemas) ----------------

/** TrueLayer mixes `2018-03-06T00:00:00`, `...+00:00` and `...Z`; a zone-less value is UTC. */
const timestampMs = (value: string): number => Date.parse(/(Z|[+-]\d{2}:\d{2})$/.test(value) ? value : `${value}Z`);
const datetime = z.string().refine((value) => !Number.isNaN(timestampMs(value)), 'not a datetime');
const currency = z.enum(['EUR', 'GBP', 'USD', 'AUD']);
// The spec's Me.scopes enum omits direct_debits and standing_orders, which TrueLayer grants all the same.
const scope = z.enum(['info', 'accounts', 'balance', 'cards', 'transactions', 'direct_debits', 'standing_orders', 'offline_access']);

const Me = z.object({
  client_id: z.string(),
  credentials_id: z.string(),
  consent_status: z.string(),
  consent_status_updated_at: datetime,
  consent_created_at: datetime,
  consent_expires_at: datetime,
  provider: z.object({ display_name: z.string(), logo_uri: z.string(), provider_id: z.string() }),
  scopes: z.array(scope),
  privacy_policy: z.string(),
});

const Info = z.object({
  full_name: z.string(),
  branch_id: z.string().optional(),
  emails: z.array(z.email()).optional(),
  phones: z.array(z.string()).optional(),
  update_timestamp: datetime,
});

const Account = z.object({
  update_timestamp: datetime,
  account_id: z.string(),
  account_type: z.enum(['TRANSACTION', 'SAVINGS', 'BUSINESS_TRANSACTION', 'BUSINESS_SAVINGS']),
  display_name: z.string(),
  currency,
  account_number: z.object({
    number: z.string().optional(),
    sort_code: z.string().optional(),
    swift_bic: z.string().optional(),
    iban: z.string().optional(),
    routing_number: z.string().optional(),
    bsb: z.string().optional(),
  }),
  provider: z.object({ provider_id: z.string(), logo_uri: z.string().optional(), display_name: z.string().optional() }),
});

const AccountBalance = z.object({
  currency,
  available: z.number().optional(),
  current: z.number(),
  overdraft: z.number().optional(),
  update_timestamp: datetime.optional(),
});

const TransactionCategory = z.enum([
  'ATM',
  'BILL_PAYMENT',
  'CASH',
  'CASHBACK',
  'CHEQUE',
  'CORRECTION',
  'CREDIT',
  'DIRECT_DEBIT',
  'DIVIDEND',
  'FEE_CHARGE',
  'INTEREST',
  'OTHER',
  'PURCHASE',
  'STANDING_ORDER',
  'TRANSFER',
  'DEBIT',
  'UNKNOWN',
]);

const transactionFields = {
  transaction_id: z.string(),
  normalised_provider_transaction_id: z.string().optional(),
  provider_transaction_id: z.string().optional(),
  timestamp: datetime,
  description: z.string(),
  amount: z.number(),
  currency,
  transaction_type: z.enum(['DEBIT', 'CREDIT']),
  transaction_category: TransactionCategory,
  transaction_classification: z.array(z.string()).max(2),
  merchant_name: z.string().optional(),
  running_balance: z.object({ amount: z.number(), currency }).optional(),
};

const AccountTransaction = z.object({
  ...transactionFields,
  meta: z
    .object({
      bank_transaction_id: z.string().optional(),
      provider_transaction_category: z.string().optional(),
      provider_reference: z.string().optional(),
    })
    .catchall(z.string())
    .optional(),
});

const CardTransaction = z.object({
  ...transactionFields,
  meta: z
    .object({ provider_transaction_category: z.string().optional(), cardNumber: z.string().optional(), location: z.string().optional() })
    .optional(),
});

// The spec types the *_amount fields as strings, yet its own example (and TrueLayer) sends numbers.
const StandingOrder = z.object({
  frequency: z
    .string()
    .regex(/^(EvryDay|EvryWorkgDay|IntrvlDay:\d{2}|IntrvlMnthDay:\d{2}:\d{2}|IntrvlWkDay:\d{2}:\d{2}|QtrDay|WkInMnthDay:\d{2}:\d{2})$/),
  status: z.enum(['Active', 'Inactive']).optional(),
  timestamp: datetime,
  currency: currency.optional(),
  meta: z.object({ provider_account_id: z.string() }).optional(),
  next_payment_date: datetime.optional(),
  next_payment_amount: z.number().optional(),
  first_payment_date: datetime.optional(),
  first_payment_amount: z.number().optional(),
  final_payment_date: datetime.optional(),
  final_payment_amount: z.number().optional(),
  payee: z.string().optional(),
  reference: z.string().optional(),
});

const DirectDebit = z.object({
  direct_debit_id: z.string(),
  timestamp: datetime,
  name: z.string(),
  status: z.enum(['Active', 'Inactive']).optional(),
  previous_payment_timestamp: datetime.optional(),
  previous_payment_amount: z.number().optional(),
  currency: currency.optional(),
  meta: z.object({
    provider_mandate_identification: z.string(),
    provider_account_id: z.string(),
    provider_direct_debit_id: z.string().optional(),
  }),
});

const Card = z.object({
  account_id: z.string(),
  card_network: z.string(),
  card_type: z.string(),
  currency,
  display_name: z.string(),
  partial_card_number: z.string().regex(/^\d{4}$/),
  name_on_card: z.string(),
  valid_from: z.string().regex(/^\d{4}-\d{2}$/),
  valid_to: z.string().regex(/^\d{4}-\d{2}$/),
  update_timestamp: datetime,
  provider: z.object({ provider_id: z.string() }),
});

// The spec types `available` as a string; its example (and every other balance) uses a number.
const CardBalance = z.object({
  available: z.number().optional(),
  currency: currency.optional(),
  current: z.number(),
  credit_limit: z.number().optional(),
  last_statement_balance: z.number().optional(),
  last_statement_date: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .optional(),
  payment_due: z.number().optional(),
  payment_due_date: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .optional(),
  update_timestamp: datetime.optional(),
});

const envelope = <T extends z.ZodType>(item: T) => z.object({ results: z.array(item), status: z.literal('Succeeded') });

// ---- setup ----------------------------------------------------------------------------------

let sim: RunningSimulator;
let clock: AdjustableClock;
let tokens: Tokens;
const ids = { current: '', savings: '', card: '' };

beforeAll(async () => {
  ({ sim, clock } = await startHarness());
  tokens = await connect(sim);
  const accounts = (await dataGet(sim, '/accounts', tokens.access_token)).body.results as { account_id: string; account_type: string }[];
  ids.current = accounts.find((account) => account.account_type === 'TRANSACTION')?.account_id ?? '';
  ids.savings = accounts.find((account) => account.account_type === 'SAVINGS')?.account_id ?? '';
  ids.card = ((await dataGet(sim, '/cards', tokens.access_token)).body.results as { account_id: string }[])[0]?.account_id ?? '';
});

afterAll(async () => {
  await sim.close();
});

const get = (path: string) => dataGet(sim, path, tokens.access_token);
const cents = (amount: number): number => Math.round(amount * 100);
type Transaction = z.infer<typeof AccountTransaction>;
const utcDate = (timestamp: string): string => new Date(timestampMs(timestamp)).toISOString().slice(0, 10);

// ---- every endpoint against its schema ------------------------------------------------------

const endpoints: [string, (accountIds: typeof ids) => string, z.ZodType, number][] = [
  ['me', () => '/me', Me, 1],
  ['info', () => '/info', Info, 1],
  ['accounts', () => '/accounts', Account, 2],
  ['account', (a) => `/accounts/${a.current}`, Account, 1],
  ['current account balance', (a) => `/accounts/${a.current}/balance`, AccountBalance, 1],
  ['savings account balance', (a) => `/accounts/${a.savings}/balance`, AccountBalance, 1],
  ['account transactions', (a) => `/accounts/${a.current}/transactions`, AccountTransaction, 300],
  ['account pending transactions', (a) => `/accounts/${a.current}/transactions/pending`, AccountTransaction, 1],
  ['standing orders', (a) => `/accounts/${a.current}/standing_orders`, StandingOrder, 1],
  ['direct debits', (a) => `/accounts/${a.current}/direct_debits`, DirectDebit, 1],
  ['cards', () => '/cards', Card, 1],
  ['card', (a) => `/cards/${a.card}`, Card, 1],
  ['card balance', (a) => `/cards/${a.card}/balance`, CardBalance, 1],
  ['card transactions', (a) => `/cards/${a.card}/transactions`, CardTransaction, 100],
  ['card pending transactions', (a) => `/cards/${a.card}/transactions/pending`, CardTransaction, 0],
];

describe.each(endpoints)('%s', (_name, path, schema, atLeast) => {
  it('matches TrueLayer’s schema inside the {results, status} envelope', async () => {
    const response = await get(path(ids));
    expect(response.status).toBe(200);
    const parsed = envelope(schema).safeParse(response.body);
    expect(parsed.error?.issues ?? []).toEqual([]);
    expect(response.body.results.length).toBeGreaterThanOrEqual(atLeast);
  });

  it('carries TrueLayer’s response headers', async () => {
    const { headers } = await get(path(ids));
    expect(headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(headers.get('x-tl-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(headers.get('x-credentials-id')).toBe(subOf(tokens.access_token));
    expect(headers.get('cache-control')).toMatch(/^max-age=\d+$/);
    expect(headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none';");
    expect(headers.get('x-content-type-options')).toBe('nosniff');
    expect(headers.get('x-frame-options')).toBe('deny');
    expect(headers.get('x-xss-protection')).toBe('1; mode=block');
    expect(headers.get('referrer-policy')).toBe('no-referrer');
  });
});

describe('the mock bank', () => {
  it('has a current account, a savings account and a credit card', async () => {
    expect(ids.current).not.toBe('');
    expect(ids.savings).not.toBe('');
    const card = (await get('/cards')).body.results[0];
    expect(card).toMatchObject({ card_type: 'CREDIT', provider: { provider_id: 'mock' } });
  });

  it('describes the connection in /me: client, credentials, 90-day consent, mock provider, scopes', async () => {
    const me = (await get('/me')).body.results[0];
    expect(me).toMatchObject({
      client_id: 'sandbox-local',
      credentials_id: subOf(tokens.access_token),
      consent_status: 'Authorised',
      provider: { provider_id: 'mock' },
      privacy_policy: 'Feb2019',
    });
    expect(Date.parse(me.consent_expires_at) - Date.parse(me.consent_created_at)).toBe(90 * 24 * 3600 * 1000);
    expect(me.scopes).toEqual(tokens.scope.split(' '));
  });

  it('names the user in /info', async () => {
    expect((await get('/info')).body.results[0].full_name).toBe('John Doe');
  });

  it('serves hundreds of transactions over two years up to now, newest first', async () => {
    const results = (await get(`/accounts/${ids.current}/transactions`)).body.results as Transaction[];
    const times = results.map((item) => timestampMs(item.timestamp));
    expect(results.length).toBeGreaterThan(300);
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(times[0]).toBeLessThanOrEqual(clock.now());
    expect(clock.now() - (times[times.length - 1] ?? 0)).toBeGreaterThan(700 * 24 * 3600 * 1000);
  });

  it('mixes the three timestamp formats (no zone, +00:00, Z)', async () => {
    const stamps = ((await get(`/accounts/${ids.current}/transactions`)).body.results as Transaction[]).map((item) => item.timestamp);
    expect(stamps.some((stamp) => /T\d{2}:\d{2}:\d{2}$/.test(stamp))).toBe(true);
    expect(stamps.some((stamp) => stamp.endsWith('+00:00'))).toBe(true);
    expect(stamps.some((stamp) => stamp.endsWith('Z'))).toBe(true);
  });

  it('categorises and classifies transactions and names merchants', async () => {
    const results = (await get(`/accounts/${ids.current}/transactions`)).body.results as Transaction[];
    const categories = new Set(results.map((item) => item.transaction_category));
    for (const category of ['PURCHASE', 'DIRECT_DEBIT', 'STANDING_ORDER', 'CREDIT', 'FEE_CHARGE']) expect(categories).toContain(category);
    expect(results.some((item) => item.transaction_classification.length === 2)).toBe(true);
    expect(results.filter((item) => item.merchant_name !== undefined).length).toBeGreaterThan(100);
  });

  it.each(['current', 'savings'] as const)(
    'keeps the %s account’s running balances consistent with amounts and the balance',
    async (kind) => {
      const results = (await get(`/accounts/${ids[kind]}/transactions`)).body.results as Transaction[];
      for (let index = 0; index + 1 < results.length; index += 1) {
        const newer = results[index] as Transaction;
        const older = results[index + 1] as Transaction;
        expect(cents(newer.running_balance?.amount ?? NaN) - cents(newer.amount)).toBe(cents(older.running_balance?.amount ?? NaN));
      }
      const balance = (await get(`/accounts/${ids[kind]}/balance`)).body.results[0];
      expect(balance.current).toBe(results[0]?.running_balance?.amount);
    },
  );

  it('keeps the card’s running balances consistent with amounts (debits positive) and the balance', async () => {
    const results = (await get(`/cards/${ids.card}/transactions`)).body.results as Transaction[];
    for (let index = 0; index + 1 < results.length; index += 1) {
      const newer = results[index] as Transaction;
      const older = results[index + 1] as Transaction;
      expect(cents(newer.running_balance?.amount ?? NaN) - cents(newer.amount)).toBe(cents(older.running_balance?.amount ?? NaN));
      expect(newer.transaction_type).toBe(newer.amount > 0 ? 'DEBIT' : 'CREDIT');
    }
    expect((await get(`/cards/${ids.card}/balance`)).body.results[0].current).toBe(results[0]?.running_balance?.amount);
  });

  it('counts pending transactions and the overdraft in the available balance', async () => {
    const balance = (await get(`/accounts/${ids.current}/balance`)).body.results[0];
    const pending = (await get(`/accounts/${ids.current}/transactions/pending`)).body.results as Transaction[];
    expect(pending.length).toBeGreaterThan(0);
    expect(pending.every((item) => item.running_balance === undefined)).toBe(true);
    const pendingCents = pending.reduce((sum, item) => sum + cents(item.amount), 0);
    expect(cents(balance.available)).toBe(cents(balance.current) + pendingCents + cents(balance.overdraft));
  });

  it('gives the same user the same accounts and history on another connection and another simulator', async () => {
    const to = new Date(clock.now() - 3 * 24 * 3600 * 1000).toISOString().slice(0, 10);
    const from = new Date(clock.now() - 60 * 24 * 3600 * 1000).toISOString().slice(0, 10);
    const history = `/accounts/${ids.current}/transactions?from=${from}&to=${to}`;
    const { sim: twin } = await startHarness();
    try {
      const twinTokens = await connect(twin);
      expect(subOf(twinTokens.access_token)).not.toBe(subOf(tokens.access_token));
      const ours = (await get('/accounts')).body.results.map(({ update_timestamp: _, ...rest }: Record<string, unknown>) => rest);
      const theirs = (await dataGet(twin, '/accounts', twinTokens.access_token)).body.results.map(
        ({ update_timestamp: _, ...rest }: Record<string, unknown>) => rest,
      );
      expect(theirs).toEqual(ours);
      expect((await dataGet(twin, history, twinTokens.access_token)).body.results).toEqual((await get(history)).body.results);
    } finally {
      await twin.close();
    }
  });

  it('gives another mock user other accounts', async () => {
    const other = await connect(sim, { username: 'john7', password: 'doe7' });
    const theirs = (await dataGet(sim, '/accounts', other.access_token)).body.results.map(
      (account: { account_id: string }) => account.account_id,
    );
    expect(theirs).toHaveLength(2);
    expect(theirs).not.toContain(ids.current);
  });

  it('compresses with gzip when the client accepts it', async () => {
    const response = await fetch(`${sim.url}/data/v1/accounts`, {
      headers: { authorization: `Bearer ${tokens.access_token}`, 'x-psu-ip': '203.0.113.7', 'accept-encoding': 'gzip' },
    });
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(((await response.json()) as { results: unknown[] }).results).toHaveLength(2);
  });
});

describe('transaction date ranges', () => {
  const list = async (query: string): Promise<Transaction[]> => {
    const response = await get(`/accounts/${ids.current}/transactions${query}`);
    expect(response.status).toBe(200);
    return response.body.results as Transaction[];
  };

  it('takes from and to as YYYY-MM-DD, both days included', async () => {
    const all = await list('');
    const day = utcDate(all[20]?.timestamp ?? '');
    const expected = all.filter((item) => utcDate(item.timestamp) === day);
    const ranged = await list(`?from=${day}&to=${day}`);
    expect(ranged.length).toBeGreaterThan(0);
    expect(ranged).toEqual(expected);
  });

  it('takes full datetimes, both ends included', async () => {
    const all = await list('');
    const target = all[30] as Transaction;
    const instant = new Date(timestampMs(target.timestamp)).toISOString();
    const ranged = await list(`?from=${encodeURIComponent(instant)}&to=${encodeURIComponent(instant)}`);
    expect(ranged.map((item) => item.transaction_id)).toContain(target.transaction_id);
    expect(ranged.every((item) => timestampMs(item.timestamp) === timestampMs(target.timestamp))).toBe(true);
  });

  it('takes from alone, up to now', async () => {
    const from = new Date(clock.now() - 10 * 24 * 3600 * 1000).toISOString().slice(0, 10);
    const ranged = await list(`?from=${from}`);
    expect(ranged.length).toBeGreaterThan(0);
    expect(ranged.every((item) => timestampMs(item.timestamp) >= Date.parse(`${from}T00:00:00Z`))).toBe(true);
  });

  it('cuts a future to at now', async () => {
    const tomorrow = new Date(clock.now() + 24 * 3600 * 1000).toISOString().slice(0, 10);
    expect((await list(`?to=${tomorrow}`)).length).toBe((await list('')).length);
  });

  it.each([
    ['from after to', '?from=2025-05-10&to=2025-05-01'],
    ['an unparseable from', '?from=last-tuesday'],
    ['an unparseable to', '?from=2025-05-01&to=2025/05/10'],
    ['a day that does not exist', '?from=2025-02-30'],
  ])('answers 400 invalid_date_range for %s', async (_case, query) => {
    const response = await get(`/accounts/${ids.current}/transactions${query}`);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: 'invalid_date_range', error_description: 'Invalid date range provided.' });
  });

  it('answers 400 invalid_date_range for a from in the future', async () => {
    const tomorrow = new Date(clock.now() + 24 * 3600 * 1000).toISOString().slice(0, 10);
    const response = await get(`/accounts/${ids.current}/transactions?from=${tomorrow}`);
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_date_range');
  });

  it('applies ranges to card transactions too', async () => {
    const response = await get(`/cards/${ids.card}/transactions?from=2025-05-10&to=2025-05-01`);
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_date_range');
  });
});

describe('scopes', () => {
  it('answers 403 insufficient_scope for cards without the cards scope', async () => {
    const narrow = await connect(sim, { scope: 'info accounts balance offline_access' });
    const response = await dataGet(sim, '/cards', narrow.access_token);
    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({ error: 'insufficient_scope', error_details: { missing_scopes: ['cards'] } });
  });

  it('answers 403 insufficient_scope for transactions without the transactions scope', async () => {
    const narrow = await connect(sim, { scope: 'accounts balance' });
    expect((await dataGet(sim, `/accounts/${ids.current}/transactions`, narrow.access_token)).status).toBe(403);
  });

  it('answers 403 insufficient_scope for accounts when only cards were granted', async () => {
    const cardsOnly = await connect(sim, { scope: 'cards balance' });
    expect((await dataGet(sim, '/accounts', cardsOnly.access_token)).status).toBe(403);
    expect((await dataGet(sim, `/cards/${ids.card}/balance`, cardsOnly.access_token)).status).toBe(200);
  });

  it('serves /me with any scope', async () => {
    const narrow = await connect(sim, { scope: 'info' });
    expect((await dataGet(sim, '/me', narrow.access_token)).status).toBe(200);
  });
});

describe('unknown resources', () => {
  it('answers 404 account_not_found for an unknown account id', async () => {
    const response = await get('/accounts/not-an-account/balance');
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ error: 'account_not_found', error_description: 'account not found', error_details: {} });
  });

  it('answers 404 account_not_found for a card id used as an account', async () => {
    expect((await get(`/accounts/${ids.card}`)).status).toBe(404);
  });

  it('answers 404 account_not_found for an account id used on /cards', async () => {
    const response = await get(`/cards/${ids.current}`);
    expect(response.status).toBe(404);
    expect(response.body.error).toBe('account_not_found');
  });

  it('answers 404 account_not_found for another user’s account', async () => {
    const other = await connect(sim, { username: 'john9', password: 'doe9' });
    expect((await dataGet(sim, `/accounts/${ids.current}`, other.access_token)).status).toBe(404);
  });

  it('answers 404 JSON for a path that is not in the Data API', async () => {
    const response = await get('/accounts/x/beneficiaries');
    expect(response.status).toBe(404);
    expect(response.body.error).toBe('not_found');
  });
});

describe('bearer tokens', () => {
  it('answers 401 unauthorized without a bearer token', async () => {
    const response = await dataGet(sim, '/accounts', undefined);
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('unauthorized');
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('answers 401 unauthorized for a token that is not a JWT', async () => {
    const response = await dataGet(sim, '/accounts', 'not-a-token');
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('unauthorized');
  });

  it('answers 401 unauthorized for a token signed by someone else', async () => {
    const { sim: stranger } = await startHarness();
    try {
      const foreign = await connect(stranger);
      const response = await dataGet(sim, '/me', foreign.access_token);
      expect(response.status).toBe(401);
      expect(response.body.error).toBe('unauthorized');
    } finally {
      await stranger.close();
    }
  });
});

describe('mock error users', () => {
  it.each([
    ['account_permanently_locked', 403],
    ['account_temporarily_locked', 403],
    ['internal_error', 500],
    ['provider_error', 503],
    ['user_input_required', 403],
    ['wrong_credentials', 401],
  ])('error.%s fails every bank read with that code (%i)', async (code, status) => {
    const errorTokens = await connect(sim, { username: `error.${code}`, password: 'error' });
    for (const path of ['/accounts', '/info', '/cards']) {
      const response = await dataGet(sim, path, errorTokens.access_token);
      expect(response.status).toBe(status);
      expect(response.body).toMatchObject({ error: code, error_description: expect.any(String) });
    }
  });

  it('still serves /me to an error user (TrueLayer answers it, not the bank)', async () => {
    const errorTokens = await connect(sim, { username: 'error.provider_error', password: 'error' });
    expect((await dataGet(sim, '/me', errorTokens.access_token)).status).toBe(200);
  });
});
