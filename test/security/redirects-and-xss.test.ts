/**
 * The browser-facing edges: `return_url` cannot be made an open redirect, and whatever arrives on
 * the callback (TrueLayer's error parameters, or anyone's crafted link) is never reflected as markup.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, scanTable, tableClient } from '../reliability/helpers';
import type { ApiResponse } from '../support/flow';
import { TestApi } from '../support/flow';

let api: TestApi;
let doc: DynamoDBDocumentClient;
let port: number;
let allowedOrigin: string;

beforeAll(async () => {
  api = await TestApi.start();
  doc = tableClient(api.stack);
  port = Number(new URL(api.stack.apiUrl).port);
  allowedOrigin = `http://127.0.0.1:${port}`;
});
afterAll(async () => api.close());

describe('return_url', () => {
  const attempts = (): string[] => [
    'https://evil.example/',
    'http://evil.example/',
    '//evil.example/',
    '///evil.example/',
    '/\\evil.example/',
    'evil.example',
    '/relative/path',
    `http://127.0.0.1:${port}@evil.example/`,
    `http://evil.example@127.0.0.1:${port}/`,
    `http://user:secret@127.0.0.1:${port}/`,
    `http://127.0.0.1:${port}\\@evil.example/`,
    `http://evil.example\\.127.0.0.1:${port}/`,
    'http:\\\\evil.example\\',
    `http:/\\evil.example/`,
    'javascript:alert(document.cookie)',
    `JavaScript:alert(1)//${allowedOrigin}/`,
    `javascript://127.0.0.1:${port}/%0aalert(1)`,
    'data:text/html,<script>alert(1)</script>',
    `vbscript:msgbox(1)`,
    `http://127.0.0.1:${port}.evil.example/`,
    `http://127.0.0.1.evil.example:${port}/`,
    `http://localhost.evil.example:${port}/`,
    `http://127.0.0.1%2eevil.example:${port}/`,
    `http://ｅｖｉｌ.example/`,
    `http://xn--80ak6aa92e.com/`,
    `http://127.0.0.1:${port + 1}/`,
    `https://127.0.0.1:${port}/`,
    `http://[::1]:${port}/`,
    `ftp://127.0.0.1:${port}/`,
    `\thttp://evil.example/`,
    ` ${allowedOrigin}/`,
    `${allowedOrigin}/\n@evil.example`,
    `${allowedOrigin}/\u0000`,
    `http://127.0.0.1:${port}\u3002evil.example/`,
    '',
  ];

  it('accepts an allowed URL, so the refusals below are about the attempts', async () => {
    const created = await api.call('POST', '/connections', { sub: 'alice', body: { return_url: `${allowedOrigin}/app/done?x=1` } });
    expect(created.status, created.text).toBe(201);
  });

  it('refuses every open-redirect attempt with 400 and creates nothing', async () => {
    const before = await scanTable(doc, api.stack.tableName);
    for (const returnUrl of attempts()) {
      const response = await api.call('POST', '/connections', { sub: 'alice', body: { return_url: returnUrl } });
      expectProblem(response, 400);
      expect(response.body.code, JSON.stringify(returnUrl)).toBe('validation_error');
    }
    expect(await scanTable(doc, api.stack.tableName)).toEqual(before);
  });

  it('sends the browser back only to the allowed origin after the callback', async () => {
    const id = await api.createConnection('alice', { return_url: `${allowedOrigin}/app/done?x=1#top` });
    const callback = await api.deliverCallback(await api.authorize(id.auth_link));
    expect(callback.status).toBe(302);
    const location = new URL(callback.headers.get('location') ?? '');
    expect(location.origin).toBe(allowedOrigin);
    expect(location.pathname).toBe('/app/done');
    expect(location.searchParams.get('connection_id')).toBe(id.connection_id);
    expect(location.searchParams.get('status')).toBe('authorized');
    expect(location.searchParams.get('x')).toBe('1');
  });
});

describe('script in callback parameters', () => {
  const script = '<script>alert(1)</script>';
  const image = '"><img src=x onerror=alert(1)>';
  const html = { accept: 'text/html,application/xhtml+xml' };

  const stateOf = (authLink: string) => new URL(authLink).searchParams.get('state') ?? '';

  const expectInert = (response: ApiResponse) => {
    for (const raw of ['<script', '<img', '<svg', '<iframe', 'javascript:'])
      expect(response.text.toLowerCase(), response.text).not.toContain(raw);
  };

  const expectSafePage = (response: ApiResponse) => {
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.text).toMatch(/^<!doctype html>/i);
    expectInert(response);
  };

  const query = (params: Record<string, string>) => new URLSearchParams(params).toString();

  // With no return_url given, the browser goes to the first allowed one (the local demo page).
  const expectInertRedirect = (response: ApiResponse) => {
    expect(response.status).toBe(302);
    const location = response.headers.get('location') ?? '';
    expect(new URL(location).origin).toBe(api.stack.apiUrl);
    expect(new URL(location).searchParams.get('error')).toMatch(/^[a-z0-9_.-]+$/i);
    expect(decodeURIComponent(location).toLowerCase()).not.toMatch(/<|>|script|onerror/);
    expectInert(response);
  };

  it('sends the browser to the default return URL with none of the markup', async () => {
    const created = await api.createConnection('bob');
    const response = await api.call(
      'GET',
      `/callback?${query({ state: stateOf(created.auth_link), error: script, error_description: image })}`,
      { headers: html },
    );
    expectInertRedirect(response);
    const view = await api.call('GET', `/connections/${created.connection_id}`, { sub: 'bob' });
    expect(view.body.status).toBe('inactive');
  });

  it('passes a user refusal on as a plain code, dropping its description', async () => {
    const created = await api.createConnection('bob');
    const response = await api.call(
      'GET',
      `/callback?${query({ state: stateOf(created.auth_link), error: 'access_denied', error_description: script + image })}`,
      { headers: html },
    );
    expectInertRedirect(response);
    expect(new URL(response.headers.get('location') ?? '').searchParams.get('error')).toBe('access_denied');
  });

  it('redirects to return_url with a plain error code, nothing of the markup in the Location', async () => {
    const created = await api.createConnection('bob', { return_url: `${allowedOrigin}/app/` });
    const response = await api.call(
      'GET',
      `/callback?${query({ state: stateOf(created.auth_link), error: script, error_description: image })}`,
      { headers: html },
    );
    expect(response.status).toBe(302);
    const location = response.headers.get('location') ?? '';
    expect(new URL(location).origin).toBe(allowedOrigin);
    expect(new URL(location).searchParams.get('error')).toMatch(/^[a-z0-9_.-]+$/i);
    expect(decodeURIComponent(location).toLowerCase()).not.toMatch(/<|>|script|onerror/);
  });

  it('does the same for a form_post callback', async () => {
    const created = await api.createConnection('bob', { response_mode: 'form_post' });
    const form = new URLSearchParams({ state: stateOf(created.auth_link), error: script, error_description: image }).toString();
    const response = await api.call('POST', '/callback', {
      rawBody: form,
      headers: { ...html, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectInertRedirect(response);
  });

  it('keeps a crafted code that TrueLayer refuses out of the redirect', async () => {
    const created = await api.createConnection('bob');
    const response = await api.call('GET', `/callback?${query({ state: stateOf(created.auth_link), code: script + image })}`, {
      headers: html,
    });
    expectInertRedirect(response);
    expect(new URL(response.headers.get('location') ?? '').searchParams.get('error')).toBe('code_exchange_failed');
  });

  it.each([
    ['an unknown state', { state: 'A'.repeat(43), error: script, error_description: image }],
    ['a state made of markup', { state: script, code: image }],
    ['no state', { error: script, error_description: image }],
    ['parameters that are all markup', { [script]: image, state: image }],
  ])('answers %s with an HTML error page that reflects nothing', async (_name, params) => {
    const page = await api.call('GET', `/callback?${query(params)}`, { headers: html });
    expect(page.status).toBeGreaterThanOrEqual(400);
    expect(page.status).toBeLessThan(500);
    expectSafePage(page);
    // And to a client that did not ask for HTML: a problem, equally inert.
    const problem = await api.call('GET', `/callback?${query(params)}`);
    expectProblem(problem);
    expect(problem.status).toBe(page.status);
    expectInert(problem);
  });
});
