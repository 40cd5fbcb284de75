/** The auth dialog at `/`: link checks, the sign-in page, and how the browser is sent back. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../local/sim/types';
import { authLink, codeFrom, openDialog, parseForm, redirectUri, signIn, startHarness, submitDialog } from './helpers';

let sim: RunningSimulator;

beforeAll(async () => {
  ({ sim } = await startHarness({ extraRedirectUris: ['http://127.0.0.1:4321/callback'] }));
});

afterAll(async () => {
  await sim.close();
});

const redirectedTo = (response: Response): URL => {
  expect(response.status).toBe(302);
  return new URL(response.headers.get('location') ?? '');
};

describe('the sign-in page', () => {
  it('labels the Username and Password fields and offers Allow and Deny', async () => {
    const { response, html } = await openDialog(authLink(sim));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html).toMatch(/<label for="username">Username<\/label>/);
    expect(html).toMatch(/<input[^>]*id="username"/);
    expect(html).toMatch(/<label for="password">Password<\/label>/);
    expect(html).toMatch(/<input[^>]*type="password"[^>]*id="password"/);
    expect(html).toMatch(/<button[^>]*>Allow<\/button>/);
    expect(html).toMatch(/<button[^>]*>Deny<\/button>/);
  });

  it('offers the mock bank as the provider choice', async () => {
    const { html } = await openDialog(authLink(sim));
    expect(html).toMatch(/<label for="provider-mock">Mock Bank<\/label>/);
    expect(parseForm(html).fields.provider_id).toBe('mock');
  });

  it('forbids framing', async () => {
    const { response } = await openDialog(authLink(sim));
    expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('shows the page when providers is left out (TrueLayer default covers the mock bank)', async () => {
    const { response } = await openDialog(authLink(sim, { providers: undefined }));
    expect(response.status).toBe(200);
  });

  it.each(['uk-cs-mock', 'mock', 'uk-ob-all', 'uk-oauth-all'])('shows the mock bank for providers=%s', async (providers) => {
    const { response } = await openDialog(authLink(sim, { providers }));
    expect(response.status).toBe(200);
  });
});

describe('links that cannot be trusted to redirect', () => {
  it('shows an error page without redirecting for an unknown client_id', async () => {
    const { response, html } = await openDialog(authLink(sim, { client_id: 'someone-else' }));
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(html).toContain('Unknown client_id');
  });

  it('shows an error page for a missing client_id', async () => {
    const { response } = await openDialog(authLink(sim, { client_id: undefined }));
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  it('shows an error page without redirecting for an unregistered redirect_uri', async () => {
    const { response, html } = await openDialog(authLink(sim, { redirect_uri: 'https://evil.example/callback', scope: 'nonsense' }));
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(html).toContain('is not registered');
  });

  it('matches redirect_uri exactly (a trailing slash is another URI)', async () => {
    const { response } = await openDialog(authLink(sim, { redirect_uri: `${redirectUri}/` }));
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  it('shows an error page for a missing redirect_uri', async () => {
    const { response } = await openDialog(authLink(sim, { redirect_uri: undefined }));
    expect(response.status).toBe(400);
  });

  it('escapes what it echoes from the link', async () => {
    const { html } = await openDialog(authLink(sim, { redirect_uri: 'https://x.example/"><script>alert(1)</script>' }));
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('accepts redirect URIs given at start (extraRedirectUris)', async () => {
    const { response } = await openDialog(authLink(sim, { redirect_uri: 'http://127.0.0.1:4321/callback' }));
    expect(response.status).toBe(200);
  });

  it('accepts redirect URIs registered later (addRedirectUris)', async () => {
    const late = 'http://127.0.0.1:5555/callback';
    expect((await openDialog(authLink(sim, { redirect_uri: late }))).response.status).toBe(400);
    sim.addRedirectUris('sandbox-local', [late]);
    expect((await openDialog(authLink(sim, { redirect_uri: late }))).response.status).toBe(200);
  });
});

describe('bad parameters with a valid redirect_uri', () => {
  const errorOf = async (overrides: Record<string, string | undefined>): Promise<URL> =>
    redirectedTo((await openDialog(authLink(sim, overrides))).response);

  it('redirects with invalid_request, a description and the state when response_type is not code', async () => {
    const back = await errorOf({ response_type: 'token' });
    expect(`${back.origin}${back.pathname}`).toBe(redirectUri);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('error_description')).toContain('response_type');
    expect(back.searchParams.get('state')).toBe('state-123');
  });

  it('redirects with invalid_request when scope is missing', async () => {
    expect((await errorOf({ scope: undefined })).searchParams.get('error')).toBe('invalid_request');
  });

  it('redirects with invalid_scope for an unknown scope', async () => {
    const back = await errorOf({ scope: 'accounts payments' });
    expect(back.searchParams.get('error')).toBe('invalid_scope');
    expect(back.searchParams.get('error_description')).toContain('payments');
  });

  it('redirects with invalid_scope when balance comes without accounts or cards', async () => {
    expect((await errorOf({ scope: 'info balance' })).searchParams.get('error')).toBe('invalid_scope');
  });

  it('redirects with invalid_scope when transactions comes without accounts or cards', async () => {
    expect((await errorOf({ scope: 'transactions offline_access' })).searchParams.get('error')).toBe('invalid_scope');
  });

  it('redirects with invalid_scope when standing_orders comes without accounts', async () => {
    expect((await errorOf({ scope: 'cards standing_orders' })).searchParams.get('error')).toBe('invalid_scope');
  });

  it('redirects with invalid_scope when direct_debits comes without accounts', async () => {
    expect((await errorOf({ scope: 'cards direct_debits' })).searchParams.get('error')).toBe('invalid_scope');
  });

  it('accepts balance and transactions with cards alone', async () => {
    expect((await openDialog(authLink(sim, { scope: 'cards balance transactions' }))).response.status).toBe(200);
  });

  it('redirects with invalid_request when providers do not include the mock bank', async () => {
    const back = await errorOf({ providers: 'ob-monzo' });
    expect(back.searchParams.get('error')).toBe('invalid_request');
  });

  it('redirects with invalid_request when provider_id is not covered by providers', async () => {
    const back = await errorOf({ providers: 'ob-monzo', provider_id: 'mock' });
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('error_description')).toContain('provider_id');
  });

  it('redirects with invalid_request for an unknown provider_id', async () => {
    expect((await errorOf({ provider_id: 'ob-monzo' })).searchParams.get('error')).toBe('invalid_request');
  });

  it('accepts provider_id=mock covered by providers', async () => {
    expect((await openDialog(authLink(sim, { provider_id: 'mock', providers: 'uk-cs-mock' }))).response.status).toBe(200);
  });

  it('redirects with invalid_request for an unknown response_mode', async () => {
    expect((await errorOf({ response_mode: 'fragment' })).searchParams.get('error')).toBe('invalid_request');
  });

  it('posts the error back for form_post links', async () => {
    const { response, html } = await openDialog(authLink(sim, { response_mode: 'form_post', scope: 'accounts nonsense' }));
    expect(response.status).toBe(200);
    const form = parseForm(html);
    expect(form).toMatchObject({ action: redirectUri, method: 'post' });
    expect(form.fields).toMatchObject({ error: 'invalid_scope', state: 'state-123' });
  });
});

describe('signing in', () => {
  it('sends the browser to redirect_uri with a code and the state on Allow', async () => {
    const back = redirectedTo(await signIn(sim, authLink(sim)));
    expect(`${back.origin}${back.pathname}`).toBe(redirectUri);
    expect(back.searchParams.get('code')).toMatch(/^[0-9A-F]{64}$/);
    expect(back.searchParams.get('state')).toBe('state-123');
  });

  it('keeps the query string already in redirect_uri', async () => {
    const withQuery = 'http://127.0.0.1:3000/callback?tenant=a';
    sim.addRedirectUris('sandbox-local', [withQuery]);
    const back = redirectedTo(await signIn(sim, authLink(sim, { redirect_uri: withQuery })));
    expect(back.searchParams.get('tenant')).toBe('a');
    expect(back.searchParams.get('code')).not.toBeNull();
  });

  it('sends error=access_denied and the state on Deny', async () => {
    const { html } = await openDialog(authLink(sim));
    const back = redirectedTo(await submitDialog(sim, html, { action: 'deny' }));
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe('state-123');
    expect(back.searchParams.get('code')).toBeNull();
  });

  it('shows an error on the page, without redirecting, for a wrong password', async () => {
    const { html } = await openDialog(authLink(sim));
    const response = await submitDialog(sim, html, { username: 'john', password: 'wrong', action: 'allow' });
    expect(response.status).toBe(200);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.text()).toContain('Wrong username or password');
  });

  it('lets the user try again on the same page after a wrong password', async () => {
    const { html } = await openDialog(authLink(sim));
    const retryPage = await (await submitDialog(sim, html, { username: 'john', password: 'nope', action: 'allow' })).text();
    const response = await submitDialog(sim, retryPage, { username: 'john', password: 'doe', action: 'allow' });
    expect(codeFrom(response)).toMatch(/^[0-9A-F]{64}$/);
  });

  it('refuses to use a sign-in page twice', async () => {
    const { html } = await openDialog(authLink(sim));
    codeFrom(await submitDialog(sim, html, { username: 'john', password: 'doe', action: 'allow' }));
    const again = await submitDialog(sim, html, { username: 'john', password: 'doe', action: 'allow' });
    expect(again.status).toBe(400);
    expect(again.headers.get('location')).toBeNull();
  });

  it.each([
    ['john', 'doe'],
    ['john', 'eternal'],
    ['john1', 'doe1'],
    ['john100', 'doe100'],
    ['error.account_permanently_locked', 'error'],
    ['error.account_temporarily_locked', 'error'],
    ['error.internal_error', 'error'],
    ['error.provider_error', 'error'],
    ['error.user_input_required', 'error'],
    ['error.wrong_credentials', 'error'],
  ])('lets the mock user %s / %s sign in', async (username, password) => {
    expect(codeFrom(await signIn(sim, authLink(sim), { username, password }))).toMatch(/^[0-9A-F]{64}$/);
  });

  it.each([
    ['john101', 'doe101'],
    ['john5', 'doe6'],
    ['error.unknown', 'error'],
    ['jane', 'doe'],
  ])('refuses %s / %s', async (username, password) => {
    const response = await signIn(sim, authLink(sim), { username, password });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('Wrong username or password');
  });
});

describe('response_mode=form_post', () => {
  it('answers Allow with a page that posts code, state and scope to redirect_uri', async () => {
    const response = await signIn(sim, authLink(sim, { response_mode: 'form_post', scope: 'info accounts offline_access' }));
    expect(response.status).toBe(200);
    const html = await response.text();
    const form = parseForm(html);
    expect(form).toMatchObject({ action: redirectUri, method: 'post' });
    expect(form.fields.code).toMatch(/^[0-9A-F]{64}$/);
    expect(form.fields.state).toBe('state-123');
    expect(form.fields.scope).toBe('info accounts offline_access');
    expect(html).toMatch(/<script nonce="[^"]+">document\.forms\[0\]\.submit\(\);<\/script>/);
  });

  it('answers Deny with a page that posts error=access_denied and the state', async () => {
    const { html } = await openDialog(authLink(sim, { response_mode: 'form_post' }));
    const response = await submitDialog(sim, html, { action: 'deny' });
    expect(parseForm(await response.text()).fields).toMatchObject({ error: 'access_denied', state: 'state-123' });
  });

  it('escapes the state it writes into the page', async () => {
    const state = '"><script>alert(1)</script>';
    const response = await signIn(sim, authLink(sim, { response_mode: 'form_post', state }));
    const html = await response.text();
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(parseForm(html).fields.state).toBe(state);
  });
});
