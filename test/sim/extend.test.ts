/** `POST /data/v1/connections/extend`: no_action_needed, authentication_needed through the dialog, and errors. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../local/sim/types';
import type { AdjustableClock } from '../../shared/clock';
import type { JsonResponse, Tokens } from './helpers';
import {
  clientId,
  clientSecret,
  codeFrom,
  connect,
  dataGet,
  day,
  exchangeCode,
  openDialog,
  parseForm,
  redirectUri,
  refresh,
  startHarness,
  submitDialog,
  subOf,
} from './helpers';

let sim: RunningSimulator;
let clock: AdjustableClock;

beforeAll(async () => {
  ({ sim, clock } = await startHarness());
});

afterAll(async () => {
  await sim.close();
});

const extendBody = (refreshToken: string, overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  user_has_reconfirmed_consent: true,
  client_id: clientId,
  client_secret: clientSecret,
  user: { id: '7f1e8e52-3b8f-4b55-9a63-61c9b4a2a111', name: 'John Doe', email: 'john.doe@example.com' },
  refresh_token: refreshToken,
  redirect_uri: redirectUri,
  state: 'extend-state',
  ...overrides,
});

const extend = async (body: unknown, raw?: string): Promise<JsonResponse> => {
  const response = await fetch(`${sim.url}/data/v1/connections/extend`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ?? JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
};

const me = async (tokens: Pick<Tokens, 'access_token'>) =>
  (await dataGet(sim, '/me', tokens.access_token)).body.results[0] as {
    credentials_id: string;
    consent_created_at: string;
    consent_expires_at: string;
  };

describe('john / eternal', () => {
  it('answers no_action_needed with a new token pair', async () => {
    const tokens = await connect(sim, { password: 'eternal' });
    const extended = await extend(extendBody(tokens.refresh_token ?? ''));
    expect(extended.status).toBe(200);
    expect(extended.body).toEqual({
      action_needed: 'no_action_needed',
      access_token: expect.any(String),
      expires_in: 3600,
      refresh_token: expect.any(String),
      token_type: 'Bearer',
    });
    expect(extended.body.access_token).not.toBe(tokens.access_token);
    expect(extended.body.refresh_token).not.toBe(tokens.refresh_token);
  });

  it('keeps the credentials id and starts a new 90-day consent', async () => {
    const tokens = await connect(sim, { password: 'eternal' });
    clock.advance(10 * day);
    const refreshed = (await refresh(sim, tokens.refresh_token ?? '')).body as Tokens;
    const before = await me(refreshed);
    const extended = (await extend(extendBody(refreshed.refresh_token ?? ''))).body as Tokens;
    const after = await me(extended);
    expect(subOf(extended.access_token)).toBe(subOf(tokens.access_token));
    expect(after.credentials_id).toBe(before.credentials_id);
    expect(Date.parse(after.consent_created_at)).toBeGreaterThan(Date.parse(before.consent_created_at));
    expect(Date.parse(after.consent_expires_at) - Date.parse(after.consent_created_at)).toBe(90 * day * 1000);
  });

  it('retires the old refresh token and the old access token', async () => {
    const tokens = await connect(sim, { password: 'eternal' });
    await extend(extendBody(tokens.refresh_token ?? ''));
    expect((await refresh(sim, tokens.refresh_token ?? '')).body.error).toBe('invalid_grant');
    expect((await dataGet(sim, '/me', tokens.access_token)).status).toBe(401);
  });

  it('works after the consent has expired, and data flows again', async () => {
    let tokens = await connect(sim, { password: 'eternal' });
    for (let round = 0; round < 3; round += 1) {
      clock.advance(29 * day);
      tokens = (await refresh(sim, tokens.refresh_token ?? '')).body as Tokens;
    }
    clock.advance(4 * day);
    expect((await refresh(sim, tokens.refresh_token ?? '')).body.error).toBe('invalid_grant');
    const extended = await extend(extendBody(tokens.refresh_token ?? ''));
    expect(extended.body.action_needed).toBe('no_action_needed');
    expect((await dataGet(sim, '/accounts', extended.body.access_token)).status).toBe(200);
  });
});

describe('other mock users', () => {
  it('answer authentication_needed with a user_input_link on the simulator', async () => {
    const tokens = await connect(sim);
    const extended = await extend(extendBody(tokens.refresh_token ?? ''));
    expect(extended.status).toBe(200);
    expect(extended.body).toEqual({
      action_needed: 'authentication_needed',
      user_input_link: expect.stringMatching(new RegExp(`^${sim.url}/`)),
    });
  });

  it('lead through the dialog back to redirect_uri with a code and the state, whose exchange keeps the credentials id with a new consent', async () => {
    const tokens = await connect(sim);
    clock.advance(5 * day);
    const link = (await extend(extendBody(tokens.refresh_token ?? ''))).body.user_input_link as string;
    const { response, html } = await openDialog(link);
    expect(response.status).toBe(200);
    const back = await submitDialog(sim, html, { username: 'john', password: 'doe', action: 'allow' });
    const location = new URL(back.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
    expect(location.searchParams.get('state')).toBe('extend-state');
    const exchanged = await exchangeCode(sim, codeFrom(back));
    expect(exchanged.status).toBe(200);
    expect(subOf(exchanged.body.access_token)).toBe(subOf(tokens.access_token));
    expect(exchanged.body.refresh_token).toEqual(expect.any(String));
    const consent = await me(exchanged.body);
    expect(Math.abs(Date.parse(consent.consent_created_at) - clock.now())).toBeLessThan(60_000);
  });

  it('posts the code back when response_mode is form_post', async () => {
    const tokens = await connect(sim);
    const link = (await extend(extendBody(tokens.refresh_token ?? '', { response_mode: 'form_post' }))).body.user_input_link as string;
    const { html } = await openDialog(link);
    const back = await submitDialog(sim, html, { username: 'john', password: 'doe', action: 'allow' });
    const form = parseForm(await back.text());
    expect(form.action).toBe(redirectUri);
    expect(form.fields).toMatchObject({ state: 'extend-state', code: expect.stringMatching(/^[0-9A-F]{64}$/) });
  });

  it('require the same bank user to sign in again', async () => {
    const tokens = await connect(sim);
    const link = (await extend(extendBody(tokens.refresh_token ?? ''))).body.user_input_link as string;
    const { html } = await openDialog(link);
    const response = await submitDialog(sim, html, { username: 'john2', password: 'doe2', action: 'allow' });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('Sign in as the bank user who made this connection');
  });

  it('work after the consent has expired', async () => {
    const tokens = await connect(sim);
    clock.advance(29 * day);
    const refreshed = (await refresh(sim, tokens.refresh_token ?? '')).body as Tokens;
    clock.advance(62 * day);
    const link = (await extend(extendBody(refreshed.refresh_token ?? ''))).body.user_input_link as string;
    const { html } = await openDialog(link);
    const code = codeFrom(await submitDialog(sim, html, { username: 'john', password: 'doe', action: 'allow' }));
    const exchanged = await exchangeCode(sim, code);
    expect((await dataGet(sim, '/accounts', exchanged.body.access_token)).status).toBe(200);
  });
});

describe('errors (application/problem+json)', () => {
  it('answers 400 with the .NET-style validation body for a missing client_id', async () => {
    const tokens = await connect(sim);
    const { client_id: _, ...body } = extendBody(tokens.refresh_token ?? '');
    const refused = await extend(body);
    expect(refused.status).toBe(400);
    expect(refused.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(refused.body).toEqual({
      type: 'https://docs.truelayer.com/#connection-api-errors',
      title: 'One or more validation errors occurred.',
      status: 400,
      instance: '/connections/extend',
      trace_id: expect.any(String),
      errors: { ClientId: ['The ClientId field is required.'] },
    });
  });

  it('answers 400 when the user has neither email nor phone', async () => {
    const refused = await extend(extendBody('X', { user: { name: 'John Doe' } }));
    expect(refused.status).toBe(400);
    expect(Object.keys(refused.body.errors)).toContain('User');
  });

  it('answers 400 when user_has_reconfirmed_consent is false', async () => {
    const refused = await extend(extendBody('X', { user_has_reconfirmed_consent: false }));
    expect(refused.status).toBe(400);
    expect(Object.keys(refused.body.errors)).toEqual(['UserHasReconfirmedConsent']);
  });

  it('answers 400 for a redirect_uri the client has not registered', async () => {
    const tokens = await connect(sim);
    const refused = await extend(extendBody(tokens.refresh_token ?? '', { redirect_uri: 'https://evil.example/cb' }));
    expect(refused.status).toBe(400);
    expect(Object.keys(refused.body.errors)).toEqual(['RedirectUri']);
  });

  it('answers 400, not 500, to a body that is not JSON', async () => {
    const refused = await extend(undefined, '{"refresh_token": ');
    expect(refused.status).toBe(400);
    expect(refused.body.title).toBe('One or more validation errors occurred.');
  });

  it('answers 401 for an unknown refresh token', async () => {
    const refused = await extend(extendBody('0'.repeat(64)));
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({
      title: 'Unauthorized',
      status: 401,
      detail: 'Refresh token missing or invalid.',
      instance: '/connections/extend',
    });
  });

  it('answers 401 for a rotated-out refresh token', async () => {
    const tokens = await connect(sim);
    await refresh(sim, tokens.refresh_token ?? '');
    expect((await extend(extendBody(tokens.refresh_token ?? ''))).status).toBe(401);
  });

  it('answers 401 for a wrong client secret', async () => {
    const tokens = await connect(sim);
    const refused = await extend(extendBody(tokens.refresh_token ?? '', { client_secret: 'guess' }));
    expect(refused.status).toBe(401);
  });

  it('answers 422 for a revoked connection', async () => {
    const tokens = await connect(sim);
    await fetch(`${sim.url}/api/delete`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens.access_token}` } });
    const refused = await extend(extendBody(tokens.refresh_token ?? ''));
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({
      title: 'No way to extend this connection',
      status: 422,
      detail: 'This connection cannot be extended',
    });
  });
});
