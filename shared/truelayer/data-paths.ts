/**
 * The fourteen Data API v1 GETs a client may reach through the proxy, and nothing else: a path
 * that is not exactly one of them is refused before anything is sent to TrueLayer.
 */

export type DataPathKind = 'account' | 'card' | 'me' | 'info' | 'list';

export interface DataPath {
  /** The proxied path, e.g. `accounts/abc/balance`. */
  path: string;
  /** TrueLayer's path template, e.g. `/data/v1/accounts/{account_id}/balance`. */
  template: string;
  accountId?: string;
  kind: DataPathKind;
  supportsDateRange: boolean;
  requiredScopes: string[];
}

interface DataPathSpec {
  /** Segments after `/data/v1/`; `{account_id}` marks the id. */
  segments: readonly string[];
  kind: DataPathKind;
  supportsDateRange: boolean;
  requiredScopes: readonly string[];
}

const id = '{account_id}';

// TrueLayer's OpenAPI declares from/to on all four transaction endpoints, pending ones included.
const specs: readonly DataPathSpec[] = [
  { segments: ['me'], kind: 'me', supportsDateRange: false, requiredScopes: [] },
  { segments: ['info'], kind: 'info', supportsDateRange: false, requiredScopes: ['info'] },
  { segments: ['accounts'], kind: 'list', supportsDateRange: false, requiredScopes: ['accounts'] },
  { segments: ['accounts', id], kind: 'account', supportsDateRange: false, requiredScopes: ['accounts'] },
  { segments: ['accounts', id, 'balance'], kind: 'account', supportsDateRange: false, requiredScopes: ['accounts', 'balance'] },
  { segments: ['accounts', id, 'transactions'], kind: 'account', supportsDateRange: true, requiredScopes: ['accounts', 'transactions'] },
  {
    segments: ['accounts', id, 'transactions', 'pending'],
    kind: 'account',
    supportsDateRange: true,
    requiredScopes: ['accounts', 'transactions'],
  },
  {
    segments: ['accounts', id, 'standing_orders'],
    kind: 'account',
    supportsDateRange: false,
    requiredScopes: ['accounts', 'standing_orders'],
  },
  { segments: ['accounts', id, 'direct_debits'], kind: 'account', supportsDateRange: false, requiredScopes: ['accounts', 'direct_debits'] },
  { segments: ['cards'], kind: 'list', supportsDateRange: false, requiredScopes: ['cards'] },
  { segments: ['cards', id], kind: 'card', supportsDateRange: false, requiredScopes: ['cards'] },
  { segments: ['cards', id, 'balance'], kind: 'card', supportsDateRange: false, requiredScopes: ['cards', 'balance'] },
  { segments: ['cards', id, 'transactions'], kind: 'card', supportsDateRange: true, requiredScopes: ['cards', 'transactions'] },
  { segments: ['cards', id, 'transactions', 'pending'], kind: 'card', supportsDateRange: true, requiredScopes: ['cards', 'transactions'] },
];

const templateOf = (spec: DataPathSpec): string => `/data/v1/${spec.segments.join('/')}`;

/** The fourteen templates, as TrueLayer's spec (and the simulator's stats) write them. */
export const dataPathTemplates: readonly string[] = specs.map(templateOf);

/** Account and card ids: letters, digits, `_` and `-` only, so no `..`, `/`, `%`, `?` or `#` can reach TrueLayer. */
export const accountIdPattern = /^[A-Za-z0-9_-]{1,128}$/;

const maxPathLength = 256;

export const parseDataPath = (proxy: string): DataPath | undefined => {
  if (typeof proxy !== 'string' || proxy.length === 0 || proxy.length > maxPathLength) return undefined;
  const segments = proxy.split('/');
  for (const spec of specs) {
    if (spec.segments.length !== segments.length) continue;
    let accountId: string | undefined;
    const matches = spec.segments.every((expected, index) => {
      const actual = segments[index] as string;
      if (expected === id) {
        if (!accountIdPattern.test(actual)) return false;
        accountId = actual;
        return true;
      }
      return actual === expected;
    });
    if (!matches) continue;
    const parsed: DataPath = {
      path: proxy,
      template: templateOf(spec),
      kind: spec.kind,
      supportsDateRange: spec.supportsDateRange,
      requiredScopes: [...spec.requiredScopes],
    };
    if (accountId !== undefined) parsed.accountId = accountId;
    return parsed;
  }
  return undefined;
};

export interface DateRangeQuery {
  from?: string;
  to?: string;
}

// YYYY-MM-DD as TrueLayer documents, or a full ISO 8601 date-time as its spec's `format: datetime` allows.
const datePattern = /^\d{4}-\d{2}-\d{2}$/;
const dateTimePattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

const isValidDate = (value: string): boolean => {
  if (!datePattern.test(value) && !dateTimePattern.test(value)) return false;
  const day = value.slice(0, 10);
  const parsed = new Date(`${day}T00:00:00Z`);
  // Rejects impossible days such as 2024-02-30, which Date would roll over.
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === day && !Number.isNaN(Date.parse(value));
};

/** Problems with `from`/`to` for a data path, as sentences that say what to fix; empty when valid. */
export const validateDateRange = (path: DataPath, query: DateRangeQuery): string[] => {
  const problems: string[] = [];
  const given = (['from', 'to'] as const).filter((name) => query[name] !== undefined);
  if (given.length === 0) return problems;
  if (!path.supportsDateRange) {
    problems.push(`"from" and "to" apply only to transaction paths, not to "${path.path}".`);
    return problems;
  }
  for (const name of given) {
    const value = query[name] as string;
    if (!isValidDate(value)) problems.push(`"${name}" must be a date as YYYY-MM-DD (or an ISO 8601 date-time).`);
  }
  if (problems.length === 0 && query.from !== undefined && query.to !== undefined && Date.parse(query.from) > Date.parse(query.to)) {
    problems.push('"from" must not be after "to".');
  }
  return problems;
};
