import { describe, expect, it } from 'vitest';
import { type AuthLinkRequest, TrueLayerAuthClient } from '../../shared/truelayer/auth-client';
import { fixedClock, testCredentials } from './fixture-server';

const client = new TrueLayerAuthClient({
  authUrl: 'https://auth.truelayer-sandbox.com/',
  credentials: testCredentials,
  clock: fixedClock(),
  timeoutMs: 1000,
});

const request: AuthLinkRequest = {
  redirectUri: 'https://app.example.com/callback',
  scopes: ['info', 'accounts', 'balance', 'offline_access'],
  state: 'state-value-123',
  providers: 'uk-ob-all uk-oauth-all uk-cs-mock',
};

describe('auth link', () => {
  it('is the root path of the auth host', async () => {
    const url = new URL(await client.authLink(request));
    expect(url.origin).toBe('https://auth.truelayer-sandbox.com');
    expect(url.pathname).toBe('/');
  });

  it('carries every required parameter with its value', async () => {
    const url = new URL(await client.authLink(request));
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('client_id')).toBe('sandbox-fixture');
    expect(url.searchParams.get('redirect_uri')).toBe('https://app.example.com/callback');
    expect(url.searchParams.get('scope')).toBe('info accounts balance offline_access');
    expect(url.searchParams.get('state')).toBe('state-value-123');
    expect(url.searchParams.get('providers')).toBe('uk-ob-all uk-oauth-all uk-cs-mock');
  });

  it('encodes spaces as %20, never as +', async () => {
    const link = await client.authLink(request);
    expect(link).toContain('scope=info%20accounts%20balance%20offline_access');
    expect(link).toContain('providers=uk-ob-all%20uk-oauth-all%20uk-cs-mock');
    expect(link).not.toContain('+');
  });

  it('keeps a redirect_uri with its own query and fragment characters intact', async () => {
    const redirectUri = 'https://app.example.com/cb?tenant=a&next=/x%2By+z#frag';
    const url = new URL(await client.authLink({ ...request, redirectUri }));
    expect(url.searchParams.get('redirect_uri')).toBe(redirectUri);
    expect(url.searchParams.get('tenant')).toBeNull();
    expect(url.hash).toBe('');
  });

  it('keeps a state with reserved characters intact', async () => {
    const state = 'a+b/c=d&e?f g';
    const url = new URL(await client.authLink({ ...request, state }));
    expect(url.searchParams.get('state')).toBe(state);
  });

  it('adds provider_id and response_mode=form_post only when asked', async () => {
    const plain = new URL(await client.authLink(request));
    expect(plain.searchParams.has('provider_id')).toBe(false);
    expect(plain.searchParams.has('response_mode')).toBe(false);
    const full = new URL(await client.authLink({ ...request, providerId: 'ob-monzo', responseMode: 'form_post' }));
    expect(full.searchParams.get('provider_id')).toBe('ob-monzo');
    expect(full.searchParams.get('response_mode')).toBe('form_post');
  });

  it('leaves response_mode out for query delivery, TrueLayer default', async () => {
    const url = new URL(await client.authLink({ ...request, responseMode: 'query' }));
    expect(url.searchParams.has('response_mode')).toBe(false);
  });

  it('lists a scope requested twice only once', async () => {
    const url = new URL(await client.authLink({ ...request, scopes: ['accounts', 'balance', 'accounts'] }));
    expect(url.searchParams.get('scope')).toBe('accounts balance');
  });

  it('refuses scopes TrueLayer would refuse', async () => {
    await expect(client.authLink({ ...request, scopes: ['balance'] })).rejects.toThrow(/"balance" scope needs/);
    await expect(client.authLink({ ...request, scopes: ['accounts', 'payments'] })).rejects.toThrow(
      /"payments" is not a TrueLayer Data API scope/,
    );
  });

  it('refuses a relative redirect URI', async () => {
    await expect(client.authLink({ ...request, redirectUri: '/callback' })).rejects.toThrow(TypeError);
  });

  it('refuses an empty state', async () => {
    await expect(client.authLink({ ...request, state: '' })).rejects.toThrow(TypeError);
  });
});
