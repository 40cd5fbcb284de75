/** POST /connections and the callback, through the local API, the simulator and the embedded DynamoDB. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApi } from '../support/flow';

let api: TestApi;
let scanTable: () => Promise<Record<string, unknown>[]>;

beforeAll(async () => {
  api = await TestApi.start();
  const doc = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: api.stack.dynamoEndpoint,
      region: 'eu-west-2',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  );
  scanTable = async () => (await doc.send(new ScanCommand({ TableName: api.stack.tableName, ConsistentRead: true }))).Items ?? [];
});
afterAll(async () => api.close());

const returnUrl = () => `${api.stack.apiUrl}/done`;

describe('POST /connections', () => {
  it('creates an authorization_required connection with an auth link to the dialog', async () => {
    const created = await api.call('POST', '/connections', { sub: 'alice', body: {} });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'authorization_required', connection_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const link = new URL(created.body.auth_link);
    expect(link.origin).toBe(api.stack.simUrl);
    expect(Object.fromEntries(link.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: 'sandbox-local',
      redirect_uri: `${api.stack.apiUrl}/callback`,
      scope: 'info accounts balance cards transactions direct_debits standing_orders offline_access',
      providers: 'uk-ob-all uk-oauth-all uk-cs-mock',
    });
    expect(link.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(created.body.auth_link_expires_at) - api.stack.clock.now()).toBeGreaterThan(9 * 60_000);
  });

  it('stores the state only as a hash', async () => {
    const created = await api.createConnection('alice');
    const state = new URL(created.auth_link).searchParams.get('state')!;
    const items = JSON.stringify(await scanTable());
    expect(items).not.toContain(state);
    expect(items).toContain(created.connection_id);
  });

  it('passes scopes, provider_id and response_mode to the auth link', async () => {
    const created = await api.createConnection('alice', {
      scopes: ['accounts', 'balance', 'offline_access'],
      provider_id: 'mock',
      providers: 'uk-cs-mock',
      response_mode: 'form_post',
    });
    const params = new URL(created.auth_link).searchParams;
    expect(params.get('scope')).toBe('accounts balance offline_access');
    expect(params.get('provider_id')).toBe('mock');
    expect(params.get('response_mode')).toBe('form_post');
  });

  it.each([
    ['an unknown scope', { scopes: ['accounts', 'payments'] }, /payments/],
    ['a scope without its dependency', { scopes: ['balance'] }, /balance.*accounts/],
    ['an unknown field', { retrun_url: 'x' }, /retrun_url/],
    ['a wrong type', { scopes: 'accounts' }, /scopes/],
    ['a bad response_mode', { response_mode: 'fragment' }, /response_mode/],
    ['a foreign return_url', { return_url: 'https://evil.example/' }, /return_url/],
    ['a look-alike return_url', { return_url: 'http://127.0.0.1.evil.example/' }, /return_url/],
    ['a javascript: return_url', { return_url: 'javascript:alert(1)' }, /return_url/],
  ])('refuses %s with 400 problem+json saying what to fix, storing nothing', async (_name, body, detail) => {
    const before = (await scanTable()).length;
    const response = await api.call('POST', '/connections', { sub: 'alice', body });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.body).toMatchObject({ status: 400, code: 'validation_error', detail: expect.stringMatching(detail) });
    expect((await scanTable()).length).toBe(before);
  });

  it('refuses a body that is not JSON', async () => {
    const response = await api.call('POST', '/connections', {
      sub: 'alice',
      rawBody: '{"scopes":',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(400);
    expect(response.body.detail).toMatch(/not valid JSON/);
  });
});

describe('the callback', () => {
  it('exchanges the code (query mode), stores tokens encrypted and redirects to return_url with status=authorized and a completion code', async () => {
    const created = await api.createConnection('bob', { return_url: returnUrl() });
    const step = await api.authorize(created.auth_link);
    const callback = await api.deliverCallback(step);
    expect(callback.status).toBe(302);
    const target = new URL(callback.headers.get('location')!);
    expect(`${target.origin}${target.pathname}`).toBe(returnUrl());
    expect(Object.fromEntries(target.searchParams)).toEqual({
      connection_id: created.connection_id,
      status: 'authorized',
      completion_code: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });

    const connection = await api.call('GET', `/connections/${created.connection_id}`, { sub: 'bob' });
    expect(connection.body).toMatchObject({
      status: 'authorized',
      provider: { provider_id: 'mock' },
      completion_expires_at: expect.any(String),
    });
    expect(Date.parse(connection.body.consent_expires_at) - api.stack.clock.now()).toBeGreaterThan(89 * 86_400_000);
    const item = (await scanTable()).find((i) => i.connection_id === created.connection_id)!;
    expect(item.tokens).toMatch(/^v1\./);
    expect(JSON.stringify(item)).not.toMatch(/eyJ[A-Za-z0-9_-]+\./);
    // The completion code is stored only as its hash.
    expect(JSON.stringify(await scanTable())).not.toContain(target.searchParams.get('completion_code'));
  });

  it('accepts the form_post callback', async () => {
    const created = await api.createConnection('bob', { return_url: returnUrl(), response_mode: 'form_post' });
    const step = await api.authorize(created.auth_link);
    expect(step.form?.fields).toMatchObject({ code: expect.any(String), state: expect.any(String) });
    const callback = await api.deliverCallback(step);
    expect(callback.status).toBe(302);
    expect(new URL(callback.headers.get('location')!).searchParams.get('status')).toBe('authorized');
  });

  it('sends the browser to the first allowed return URL when the app gave none', async () => {
    const created = await api.createConnection('bob');
    const callback = await api.deliverCallback(await api.authorize(created.auth_link));
    expect(callback.status).toBe(302);
    const target = new URL(callback.headers.get('location')!);
    expect(`${target.origin}${target.pathname}`).toBe(`${api.stack.apiUrl}/`);
    expect(target.searchParams.get('completion_code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('records a denial: inactive with user_denied, error=access_denied to the app', async () => {
    const created = await api.createConnection('carol', { return_url: returnUrl() });
    const callback = await api.deliverCallback(await api.authorize(created.auth_link, { action: 'deny' }));
    expect(callback.status).toBe(302);
    expect(Object.fromEntries(new URL(callback.headers.get('location')!).searchParams)).toEqual({
      connection_id: created.connection_id,
      error: 'access_denied',
    });
    const connection = await api.call('GET', `/connections/${created.connection_id}`, { sub: 'carol' });
    expect(connection.body).toMatchObject({ status: 'inactive', status_reason: 'user_denied' });
  });

  it('refuses a replayed callback and changes nothing', async () => {
    const created = await api.createConnection('dave', { return_url: returnUrl() });
    const step = await api.authorize(created.auth_link);
    expect((await api.deliverCallback(step)).status).toBe(302);
    const before = JSON.stringify(await scanTable());
    const codesBefore = (await api.simStats()).token.authorization_code;
    const replay = await api.deliverCallback(step);
    expect(replay.status).toBe(400);
    expect(replay.body).toMatchObject({ code: 'invalid_state', detail: expect.stringMatching(/already used/) });
    expect(JSON.stringify(await scanTable())).toBe(before);
    expect((await api.simStats()).token.authorization_code).toBe(codesBefore);
  });

  it('refuses an unknown state', async () => {
    const callback = await api.call('GET', `/callback?code=abc&state=${'A'.repeat(43)}`);
    expect(callback.status).toBe(400);
    expect(callback.body.code).toBe('invalid_state');
  });

  it('refuses a callback without state, and answers a browser with an HTML page', async () => {
    const json = await api.call('GET', '/callback?code=abc');
    expect(json.status).toBe(400);
    expect(json.body.code).toBe('invalid_state');
    const html = await api.call('GET', '/callback?code=abc', { headers: { accept: 'text/html' } });
    expect(html.status).toBe(400);
    expect(html.headers.get('content-type')).toMatch(/text\/html/);
  });

  it('refuses a state whose auth link expired (after 10 minutes) and leaves it unconsumed', async () => {
    const created = await api.createConnection('erin', { return_url: returnUrl() });
    const step = await api.authorize(created.auth_link);
    api.advance(11 * 60);
    const before = JSON.stringify(await scanTable());
    const callback = await api.deliverCallback(step);
    expect(callback.status).toBe(400);
    expect(callback.body.detail).toMatch(/expired/);
    expect(JSON.stringify(await scanTable())).toBe(before);
    const connection = await api.call('GET', `/connections/${created.connection_id}`, { sub: 'erin' });
    expect(connection.body).toMatchObject({ status: 'inactive', status_reason: 'authorization_expired' });
  });

  it('tells the app when the code lapsed before the callback (code_exchange_failed) and keeps the connection unauthorized', async () => {
    const created = await api.createConnection('frank', { return_url: returnUrl() });
    const step = await api.authorize(created.auth_link);
    api.advance(6 * 60); // codes live 5 minutes; the state lives 10
    const callback = await api.deliverCallback(step);
    expect(callback.status).toBe(302);
    expect(new URL(callback.headers.get('location')!).searchParams.get('error')).toBe('code_exchange_failed');
    const connection = await api.call('GET', `/connections/${created.connection_id}`, { sub: 'frank' });
    expect(connection.body.status).toBe('authorization_required');
  });

  it('escapes what it echoes into its HTML page', async () => {
    const created = await api.createConnection('gina');
    const step = await api.authorize(created.auth_link, { action: 'deny' });
    const url = new URL(step.location!);
    url.searchParams.set('error', '<script>alert(1)</script>');
    const callback = await api.call('GET', `${url.pathname}${url.search}`, { headers: { accept: 'text/html' } });
    expect(callback.text).not.toContain('<script>alert(1)</script>');
  });
});
