/** TrueLayer Data API v1 scopes and the combinations TrueLayer accepts. */

export const dataScopes = [
  'info',
  'accounts',
  'balance',
  'cards',
  'transactions',
  'direct_debits',
  'standing_orders',
  'offline_access',
] as const;

export type DataScope = (typeof dataScopes)[number];

export const isDataScope = (value: string): value is DataScope => (dataScopes as readonly string[]).includes(value);

/** A scope that grants nothing alone: it needs at least one of `anyOf` beside it. */
export const scopeDependencies: Readonly<Partial<Record<DataScope, readonly DataScope[]>>> = {
  balance: ['accounts', 'cards'],
  transactions: ['accounts', 'cards'],
  direct_debits: ['accounts'],
  standing_orders: ['accounts'],
};

const orList = (items: readonly string[]): string =>
  items.length <= 1
    ? items.join('')
    : `${items
        .slice(0, -1)
        .map((item) => `"${item}"`)
        .join(', ')} or "${items[items.length - 1]}"`;

/** Problems with a requested scope list, as sentences that say what to fix; empty when it is valid. */
export const validateScopes = (scopes: readonly string[]): string[] => {
  const problems: string[] = [];
  if (scopes.length === 0) {
    problems.push(`At least one scope is needed; choose from: ${dataScopes.join(', ')}.`);
    return problems;
  }
  const unknown = [...new Set(scopes.filter((scope) => !isDataScope(scope)))];
  for (const scope of unknown) {
    problems.push(`"${scope.slice(0, 40)}" is not a TrueLayer Data API scope; choose from: ${dataScopes.join(', ')}.`);
  }
  const present = new Set(scopes);
  for (const [scope, anyOf] of Object.entries(scopeDependencies) as [DataScope, readonly DataScope[]][]) {
    if (present.has(scope) && !anyOf.some((needed) => present.has(needed))) {
      const needs = anyOf.length === 1 ? `"${anyOf[0]}"` : `at least one of ${orList(anyOf)}`;
      problems.push(`The "${scope}" scope needs ${needs} as well.`);
    }
  }
  return problems;
};

/** Splits TrueLayer's space-separated `scope` string. */
export const parseScopeString = (scope: string | undefined): string[] => (scope ?? '').split(/\s+/).filter((item) => item.length > 0);

/** Keeps the first occurrence of each scope, in order. */
export const uniqueScopes = (scopes: readonly string[]): string[] => [...new Set(scopes)];
