import { describe, expect, it } from 'vitest';
import { hashState, looksLikeState, newState } from '../../shared/connections/auth-state';

describe('auth state', () => {
  it('carries 32 random bytes, base64url', () => {
    const state = newState();
    expect(Buffer.from(state, 'base64url')).toHaveLength(32);
    expect(looksLikeState(state)).toBe(true);
  });

  it('is different every time', () => {
    expect(new Set(Array.from({ length: 100 }, () => newState())).size).toBe(100);
  });

  it('is stored only as a sha-256 hash that does not contain it', () => {
    const state = newState();
    const hash = hashState(state);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(state);
    expect(hashState(state)).toBe(hash);
  });

  it('rejects values we could not have issued', () => {
    for (const value of ['', 'short', 'x'.repeat(44), `${'a'.repeat(42)}/`, '<script>alert(1)</script>']) {
      expect(looksLikeState(value)).toBe(false);
    }
  });
});
