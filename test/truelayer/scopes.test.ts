import { describe, expect, it } from 'vitest';
import { dataScopes, parseScopeString, validateScopes } from '../../shared/truelayer/scopes';

describe('scopes', () => {
  it('knows the eight Data v1 scopes', () => {
    expect([...dataScopes].sort()).toEqual([
      'accounts',
      'balance',
      'cards',
      'direct_debits',
      'info',
      'offline_access',
      'standing_orders',
      'transactions',
    ]);
  });

  it('accepts all eight together', () => {
    expect(validateScopes([...dataScopes])).toEqual([]);
  });

  it('accepts balance and transactions with cards alone', () => {
    expect(validateScopes(['cards', 'balance', 'transactions'])).toEqual([]);
  });

  it('accepts info alone', () => {
    expect(validateScopes(['info'])).toEqual([]);
  });

  it('refuses an empty list', () => {
    expect(validateScopes([])).toEqual([expect.stringMatching(/At least one scope/)]);
  });

  it.each(['balance', 'transactions'])('refuses %s without accounts or cards', (scope) => {
    expect(validateScopes(['info', scope])).toEqual([`The "${scope}" scope needs at least one of "accounts" or "cards" as well.`]);
  });

  it.each(['direct_debits', 'standing_orders'])('refuses %s without accounts, even with cards', (scope) => {
    expect(validateScopes(['cards', scope])).toEqual([`The "${scope}" scope needs "accounts" as well.`]);
  });

  it('names an unknown scope and lists the valid ones', () => {
    const [problem] = validateScopes(['accounts', 'payments']);
    expect(problem).toContain('"payments"');
    expect(problem).toContain('offline_access');
  });

  it('reports every problem at once', () => {
    expect(validateScopes(['bogus', 'balance', 'direct_debits'])).toHaveLength(3);
  });

  it('splits TrueLayer scope strings on any whitespace', () => {
    expect(parseScopeString(' info  accounts\tbalance ')).toEqual(['info', 'accounts', 'balance']);
    expect(parseScopeString(undefined)).toEqual([]);
  });
});
