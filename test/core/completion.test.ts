/** The pure parts of the completion step: codes, their lapse in the computed status, and the return_url they travel in. */
import { describe, expect, it } from 'vitest';
import { codeChallengeS256, newCodeVerifier } from '../../shared/connections/auth-state';
import {
  completionCodeMatches,
  hashCompletionCode,
  looksLikeCompletionCode,
  newCompletionCode,
} from '../../shared/connections/completion-code';
import { type ConnectionRecord, effectiveStatus, isUnconfirmed, toView } from '../../shared/connections/connection';
import { returnUrlWith } from '../../shared/connections/return-url';

const t0 = Date.parse('2026-01-01T00:00:00Z');
const authorized = (overrides: Partial<ConnectionRecord> = {}): ConnectionRecord => ({
  connectionId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  owner: 'alice',
  status: 'authorized',
  scopes: ['accounts'],
  providers: 'uk-cs-mock',
  responseMode: 'query',
  redirectUri: 'https://api.example.com/callback',
  createdAt: new Date(t0).toISOString(),
  updatedAt: new Date(t0).toISOString(),
  authLinkExpiresAt: new Date(t0 + 600_000).toISOString(),
  completionCodeHash: hashCompletionCode('x'),
  completionExpiresAt: new Date(t0 + 600_000).toISOString(),
  refreshCount: 0,
  version: 1,
  ...overrides,
});

describe('completion codes', () => {
  it('are 32 random bytes in base64url, different each time, stored only as a sha256', () => {
    const a = newCompletionCode();
    expect(looksLikeCompletionCode(a)).toBe(true);
    expect(a).not.toBe(newCompletionCode());
    expect(hashCompletionCode(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashCompletionCode(a)).not.toContain(a);
  });

  it('match only their own hash, and never a missing one', () => {
    const code = newCompletionCode();
    expect(completionCodeMatches(code, hashCompletionCode(code))).toBe(true);
    expect(completionCodeMatches(newCompletionCode(), hashCompletionCode(code))).toBe(false);
    expect(completionCodeMatches(code, undefined)).toBe(false);
    expect(completionCodeMatches(code, 'abc')).toBe(false);
  });
});

describe('an authorized connection', () => {
  it('reads authorized, with its completion deadline, until the deadline', () => {
    expect(effectiveStatus(authorized(), t0 + 599_999)).toEqual({ status: 'authorized' });
    expect(toView(authorized(), t0)).toMatchObject({ status: 'authorized', completion_expires_at: new Date(t0 + 600_000).toISOString() });
  });

  it('reads inactive (not_confirmed) from the deadline on, before anything is written', () => {
    expect(isUnconfirmed(authorized(), t0 + 600_000)).toBe(true);
    expect(effectiveStatus(authorized(), t0 + 600_000)).toEqual({ status: 'inactive', reason: 'not_confirmed' });
    expect(toView(authorized(), t0 + 600_000)).not.toHaveProperty('completion_expires_at');
  });

  it('an active one never lapses this way', () => {
    expect(isUnconfirmed(authorized({ status: 'active' }), t0 + 10 * 600_000)).toBe(false);
  });
});

describe('PKCE', () => {
  it('makes a 43-character verifier and its S256 challenge (base64url of its SHA-256)', () => {
    const verifier = newCodeVerifier();
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(codeChallengeS256(verifier)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(codeChallengeS256(verifier)).not.toBe(codeChallengeS256(newCodeVerifier()));
    expect(codeChallengeS256('dBjftJeZ4CVP-mJ92K9mTyGJ_aM6fDLhmE4eK-Xr5Jk')).toBe('F52ouMgEDyDTy9pqzTuJKBf7OjWahsKSG_Cph9L-v4s');
  });
});

describe('returnUrlWith', () => {
  it("adds our parameters and keeps the app's own", () => {
    const url = new URL(
      returnUrlWith('https://app.example.com/bank/?tab=2#top', { connection_id: 'c1', status: 'authorized', completion_code: 'k' }),
    );
    expect(Object.fromEntries(url.searchParams)).toEqual({ tab: '2', connection_id: 'c1', status: 'authorized', completion_code: 'k' });
    expect(url.hash).toBe('#top');
  });

  it('drops connection_id, status, error and completion_code already present, however often', () => {
    const planted = 'https://app.example.com/bank/?status=active&status=x&error=e&completion_code=evil&connection_id=other&keep=1';
    const url = new URL(returnUrlWith(planted, { connection_id: 'c1', error: 'access_denied' }));
    expect([...url.searchParams]).toEqual([
      ['keep', '1'],
      ['connection_id', 'c1'],
      ['error', 'access_denied'],
    ]);
  });
});
