import { describe, expect, it } from 'vitest';
import { type ConnectionRecord, effectiveStatus, toView } from '../../shared/connections/connection';

const t0 = Date.parse('2026-01-01T00:00:00Z');
const day = 86_400_000;

const record = (over: Partial<ConnectionRecord> = {}): ConnectionRecord => ({
  connectionId: '00000000-0000-4000-8000-000000000001',
  owner: 'alice',
  status: 'active',
  scopes: ['accounts'],
  providers: 'uk-ob-all',
  responseMode: 'query',
  redirectUri: 'http://127.0.0.1:3000/callback',
  createdAt: new Date(t0).toISOString(),
  updatedAt: new Date(t0).toISOString(),
  authLinkExpiresAt: new Date(t0 + 600_000).toISOString(),
  consentExpiresAt: new Date(t0 + 90 * day).toISOString(),
  tokens: 'v1.x',
  refreshCount: 0,
  version: 1,
  ...over,
});

describe('connection lifecycle', () => {
  it('is active while the consent lasts', () => {
    expect(effectiveStatus(record(), t0 + 89 * day)).toEqual({ status: 'active' });
  });

  it('reads inactive (consent_expired) once consent_expires_at has passed, before anything wrote it down', () => {
    expect(effectiveStatus(record(), t0 + 91 * day)).toEqual({ status: 'inactive', reason: 'consent_expired' });
  });

  it('keeps a stored inactive status and its reason', () => {
    expect(effectiveStatus(record({ status: 'inactive', statusReason: 'revoked' }), t0)).toEqual({ status: 'inactive', reason: 'revoked' });
  });

  it('reads an unused auth link past its expiry as inactive (authorization_expired)', () => {
    const pending = record({ status: 'authorization_required', consentExpiresAt: undefined, tokens: undefined });
    expect(effectiveStatus(pending, t0 + 60_000).status).toBe('authorization_required');
    expect(effectiveStatus(pending, t0 + 601_000)).toEqual({ status: 'inactive', reason: 'authorization_expired' });
  });

  it('shows no token material in the public view', () => {
    const view = toView(record(), t0);
    expect(JSON.stringify(view)).not.toContain('v1.x');
    expect(view).toMatchObject({ connection_id: record().connectionId, status: 'active', consent_expires_at: record().consentExpiresAt });
  });
});
