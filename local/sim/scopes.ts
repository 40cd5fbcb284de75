/**
 * Data API v1 scopes and what each needs (balance, transactions: accounts or cards; standing_orders,
 * direct_debits: accounts). Written apart from the service's own validator (shared/truelayer/scopes.ts)
 * on purpose: the simulator stands in for TrueLayer, so a mistake in the service's rules must meet
 * TrueLayer's rules here, not a copy of itself.
 */

export const knownScopes = [
  'info',
  'accounts',
  'balance',
  'cards',
  'transactions',
  'direct_debits',
  'standing_orders',
  'offline_access',
] as const;

export type Scope = (typeof knownScopes)[number];

export type ScopeCheck = { ok: true; scopes: Scope[] } | { ok: false; error: 'invalid_request' | 'invalid_scope'; description: string };

/** Parses a space-separated scope string and enforces TrueLayer's dependencies between scopes. */
export const parseScopes = (raw: string | undefined): ScopeCheck => {
  if (raw === undefined || raw.trim() === '')
    return { ok: false, error: 'invalid_request', description: 'The scope parameter is required.' };
  const requested = raw.split(/\s+/).filter((item) => item.length > 0);
  const unknown = requested.filter((item) => !(knownScopes as readonly string[]).includes(item));
  if (unknown.length > 0) return { ok: false, error: 'invalid_scope', description: `Unknown scope: ${unknown.join(', ')}.` };
  const scopes = [...new Set(requested)] as Scope[];
  const has = (scope: Scope): boolean => scopes.includes(scope);
  for (const scope of ['balance', 'transactions'] as const) {
    if (has(scope) && !has('accounts') && !has('cards'))
      return { ok: false, error: 'invalid_scope', description: `The ${scope} scope needs accounts or cards.` };
  }
  for (const scope of ['direct_debits', 'standing_orders'] as const) {
    if (has(scope) && !has('accounts')) return { ok: false, error: 'invalid_scope', description: `The ${scope} scope needs accounts.` };
  }
  if (scopes.every((scope) => scope === 'offline_access'))
    return { ok: false, error: 'invalid_scope', description: 'Ask for at least one data scope besides offline_access.' };
  return { ok: true, scopes };
};
