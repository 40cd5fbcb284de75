import { describe, expect, it } from 'vitest';
import { dataPathTemplates, parseDataPath, validateDateRange } from '../../shared/truelayer/data-paths';

const cases = [
  { path: 'me', template: '/data/v1/me', kind: 'me', dates: false, scopes: [] },
  { path: 'info', template: '/data/v1/info', kind: 'info', dates: false, scopes: ['info'] },
  { path: 'accounts', template: '/data/v1/accounts', kind: 'list', dates: false, scopes: ['accounts'] },
  { path: 'accounts/acc-1', template: '/data/v1/accounts/{account_id}', kind: 'account', dates: false, scopes: ['accounts'] },
  {
    path: 'accounts/acc-1/balance',
    template: '/data/v1/accounts/{account_id}/balance',
    kind: 'account',
    dates: false,
    scopes: ['accounts', 'balance'],
  },
  {
    path: 'accounts/acc-1/transactions',
    template: '/data/v1/accounts/{account_id}/transactions',
    kind: 'account',
    dates: true,
    scopes: ['accounts', 'transactions'],
  },
  {
    path: 'accounts/acc-1/transactions/pending',
    template: '/data/v1/accounts/{account_id}/transactions/pending',
    kind: 'account',
    dates: true,
    scopes: ['accounts', 'transactions'],
  },
  {
    path: 'accounts/acc-1/standing_orders',
    template: '/data/v1/accounts/{account_id}/standing_orders',
    kind: 'account',
    dates: false,
    scopes: ['accounts', 'standing_orders'],
  },
  {
    path: 'accounts/acc-1/direct_debits',
    template: '/data/v1/accounts/{account_id}/direct_debits',
    kind: 'account',
    dates: false,
    scopes: ['accounts', 'direct_debits'],
  },
  { path: 'cards', template: '/data/v1/cards', kind: 'list', dates: false, scopes: ['cards'] },
  { path: 'cards/acc-1', template: '/data/v1/cards/{account_id}', kind: 'card', dates: false, scopes: ['cards'] },
  {
    path: 'cards/acc-1/balance',
    template: '/data/v1/cards/{account_id}/balance',
    kind: 'card',
    dates: false,
    scopes: ['cards', 'balance'],
  },
  {
    path: 'cards/acc-1/transactions',
    template: '/data/v1/cards/{account_id}/transactions',
    kind: 'card',
    dates: true,
    scopes: ['cards', 'transactions'],
  },
  {
    path: 'cards/acc-1/transactions/pending',
    template: '/data/v1/cards/{account_id}/transactions/pending',
    kind: 'card',
    dates: true,
    scopes: ['cards', 'transactions'],
  },
] as const;

describe('data paths', () => {
  it('cover exactly the fourteen Data v1 GETs', () => {
    expect(dataPathTemplates).toHaveLength(14);
    expect([...dataPathTemplates].sort()).toEqual(cases.map((c) => c.template).sort());
  });

  it.each(cases)('parses $path', (c) => {
    const parsed = parseDataPath(c.path);
    expect(parsed).toEqual({
      path: c.path,
      template: c.template,
      kind: c.kind,
      supportsDateRange: c.dates,
      requiredScopes: [...c.scopes],
      ...(c.template.includes('{account_id}') ? { accountId: 'acc-1' } : {}),
    });
  });

  it('accepts ids of letters, digits, underscores and dashes up to 128 long', () => {
    const id = `Ab_9-${'x'.repeat(123)}`;
    expect(parseDataPath(`accounts/${id}/balance`)?.accountId).toBe(id);
  });

  it.each([
    ['traversal', 'accounts/../balance'],
    ['traversal inside a longer path', 'accounts/../../connect/token'],
    ['a dot segment', 'accounts/./balance'],
    ['a dotted id', 'accounts/a.b/balance'],
    ['an encoded slash', 'accounts/abc%2Fdef/balance'],
    ['an encoded slash in lower case', 'accounts/abc%2fdef'],
    ['an encoded dot-dot', 'accounts/%2E%2E/balance'],
    ['a query in the path', 'accounts/abc/transactions?from=2024-01-01'],
    ['a query smuggled in the id', 'accounts/abc?x=1'],
    ['a fragment', 'accounts/abc#frag'],
    ['an unknown path', 'payments'],
    ['an unknown sub-path', 'accounts/abc/statements'],
    ['a batch endpoint', 'batch/results'],
    ['the extend endpoint', 'connections/extend'],
    ['an overlong id', `accounts/${'a'.repeat(129)}`],
    ['an empty id', 'accounts//balance'],
    ['a trailing slash', 'accounts/'],
    ['a leading slash', '/accounts'],
    ['a double leading prefix', 'data/v1/accounts'],
    ['an empty path', ''],
    ['a space in the id', 'accounts/a b'],
    ['a backslash', 'accounts/a\\b'],
    ['upper-case endpoint names', 'Accounts'],
    ['a unicode id', 'accounts/ａｂｃ'],
    ['extra segments', 'cards/abc/transactions/pending/more'],
  ])('rejects %s', (_label, proxy) => {
    expect(parseDataPath(proxy)).toBeUndefined();
  });
});

describe('date range', () => {
  const transactions = parseDataPath('accounts/a/transactions');
  const balance = parseDataPath('accounts/a/balance');
  if (!transactions || !balance) throw new Error('fixture paths must parse');

  it('accepts dates and date-times on a transaction path', () => {
    expect(validateDateRange(transactions, { from: '2024-01-01', to: '2024-01-31' })).toEqual([]);
    expect(validateDateRange(transactions, { from: '2024-01-01T00:00:00Z' })).toEqual([]);
  });

  it('accepts no dates at all on any path', () => {
    expect(validateDateRange(balance, {})).toEqual([]);
  });

  it('refuses dates on a path that takes none', () => {
    expect(validateDateRange(balance, { from: '2024-01-01' })).toEqual([expect.stringMatching(/only to transaction paths/)]);
  });

  it.each(['2024-02-30', '01/02/2024', '2024-1-1', '2024-01-01T10:00'])('refuses the malformed date %s', (value) => {
    expect(validateDateRange(transactions, { to: value })).toEqual([expect.stringMatching(/"to" must be a date/)]);
  });

  it('refuses from after to', () => {
    expect(validateDateRange(transactions, { from: '2024-02-01', to: '2024-01-01' })).toEqual(['"from" must not be after "to".']);
  });
});
