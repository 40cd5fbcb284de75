/** Drives the TrueLayer simulator over real HTTP the way a browser and a backend would. */
import { expect } from 'vitest';
import { startSimulator } from '../../local/sim/index';
import type { RunningSimulator, SimulatorOptions } from '../../local/sim/types';
import { AdjustableClock } from '../../shared/clock';

export const clientId = 'sandbox-local';
export const clientSecret = 'local-secret';
export const redirectUri = 'http://127.0.0.1:3000/callback';
export const allScopes = 'info accounts balance cards transactions direct_debits standing_orders offline_access';
export const day = 24 * 60 * 60;

export interface Harness {
  sim: RunningSimulator;
  clock: AdjustableClock;
}

export const startHarness = async (options: SimulatorOptions = {}): Promise<Harness> => {
  const clock = new AdjustableClock();
  const sim = await startSimulator({ port: 0, clock, ...options });
  return { sim, clock };
};

export const authLink = (sim: RunningSimulator, overrides: Record<string, string | undefined> = {}): string => {
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: allScopes,
    providers: 'uk-ob-all uk-oauth-all uk-cs-mock',
    state: 'state-123',
    ...overrides,
  };
  const url = new URL(`${sim.url}/`);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
  return url.toString();
};

export interface HtmlForm {
  action: string;
  method: string;
  fields: Record<string, string>;
}

const attribute = (tag: string, name: string): string | undefined => {
  const match = new RegExp(`\\b${name}="([^"]*)"`).exec(tag);
  return match?.[1] === undefined ? undefined : decodeEntities(match[1]);
};

export const decodeEntities = (text: string): string =>
  text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** The first form of a page with the values a browser would submit from its inputs (no buttons). */
export const parseForm = (html: string): HtmlForm => {
  const formTag = /<form\b[^>]*>/i.exec(html)?.[0];
  if (formTag === undefined) throw new Error('the page has no form');
  const fields: Record<string, string> = {};
  for (const input of html.match(/<input\b[^>]*>/gi) ?? []) {
    const name = attribute(input, 'name');
    if (name === undefined) continue;
    const type = attribute(input, 'type') ?? 'text';
    if ((type === 'radio' || type === 'checkbox') && !/\bchecked\b/.test(input)) continue;
    fields[name] = attribute(input, 'value') ?? '';
  }
  return { action: attribute(formTag, 'action') ?? '', method: (attribute(formTag, 'method') ?? 'get').toLowerCase(), fields };
};

export const openDialog = async (link: string): Promise<{ response: Response; html: string }> => {
  const response = await fetch(link, { redirect: 'manual' });
  return { response, html: await response.text() };
};

/** Submits the sign-in form as a browser does: its inputs, the typed values, and the clicked button. */
export const submitDialog = async (
  sim: RunningSimulator,
  html: string,
  input: { username?: string; password?: string; action: 'allow' | 'deny' },
): Promise<Response> => {
  const form = parseForm(html);
  const fields = { ...form.fields, username: input.username ?? '', password: input.password ?? '', action: input.action };
  return fetch(new URL(form.action, sim.url), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
};

/** Opens an auth link, signs in and allows; returns where the browser is sent. */
export const signIn = async (
  sim: RunningSimulator,
  link: string,
  user: { username?: string; password?: string } = {},
): Promise<Response> => {
  const { response, html } = await openDialog(link);
  expect(response.status).toBe(200);
  return submitDialog(sim, html, { username: user.username ?? 'john', password: user.password ?? 'doe', action: 'allow' });
};

export const codeFrom = (response: Response): string => {
  expect(response.status).toBe(302);
  const location = new URL(response.headers.get('location') ?? '');
  const code = location.searchParams.get('code');
  if (code === null) throw new Error(`no code on the redirect (error=${location.searchParams.get('error') ?? ''})`);
  return code;
};

export const authorize = async (
  sim: RunningSimulator,
  options: { username?: string; password?: string; scope?: string; redirectUri?: string } = {},
): Promise<string> => {
  const link = authLink(sim, { scope: options.scope ?? allScopes, redirect_uri: options.redirectUri ?? redirectUri });
  return codeFrom(await signIn(sim, link, options));
};

export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

const readJson = async <T>(response: Response): Promise<JsonResponse<T>> => {
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text === '' ? undefined : JSON.parse(text)) as T };
};

export const postToken = async (
  sim: RunningSimulator,
  fields: Record<string, string>,
  options: { json?: boolean; headers?: Record<string, string> } = {},
): Promise<JsonResponse> => {
  const response = await fetch(`${sim.url}/connect/token`, {
    method: 'POST',
    headers: { 'content-type': options.json === true ? 'application/json' : 'application/x-www-form-urlencoded', ...options.headers },
    body: options.json === true ? JSON.stringify(fields) : new URLSearchParams(fields).toString(),
  });
  return readJson(response);
};

export const exchangeCode = (sim: RunningSimulator, code: string, overrides: Record<string, string> = {}): Promise<JsonResponse> =>
  postToken(sim, {
    grant_type: 'authorization_code',
    client_id: clientId,
    client_secret: clientSecret,
    code,
    redirect_uri: redirectUri,
    ...overrides,
  });

export const refresh = (sim: RunningSimulator, refreshToken: string, overrides: Record<string, string> = {}): Promise<JsonResponse> =>
  postToken(sim, {
    grant_type: 'refresh_token',
    client_id: clientId,
    client_secret: clientSecret,
    refresh_token: refreshToken,
    ...overrides,
  });

export interface Tokens {
  access_token: string;
  refresh_token?: string;
  expires_in: number;
  token_type: string;
  scope: string;
}

export const connect = async (sim: RunningSimulator, options: Parameters<typeof authorize>[1] = {}): Promise<Tokens> => {
  const exchanged = await exchangeCode(
    sim,
    await authorize(sim, options),
    options.redirectUri === undefined ? {} : { redirect_uri: options.redirectUri },
  );
  expect(exchanged.status).toBe(200);
  return exchanged.body as Tokens;
};

/** A Data API read; attended (X-PSU-IP) unless told otherwise, so the 4-a-day limit stays out of the way. */
export const dataGet = async (
  sim: RunningSimulator,
  path: string,
  accessToken: string | undefined,
  options: { attended?: boolean; headers?: Record<string, string> } = {},
): Promise<JsonResponse> => {
  const headers: Record<string, string> = { ...options.headers };
  if (accessToken !== undefined) headers.authorization = `Bearer ${accessToken}`;
  if (options.attended !== false) headers['x-psu-ip'] = '203.0.113.7';
  return readJson(await fetch(`${sim.url}/data/v1${path}`, { headers }));
};

export const simJson = async (sim: RunningSimulator, path: string, init: { method?: string; body?: unknown } = {}): Promise<JsonResponse> =>
  readJson(
    await fetch(`${sim.url}${path}`, {
      method: init.method ?? 'GET',
      ...(init.body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(init.body) }),
    }),
  );

export const addFault = async (sim: RunningSimulator, fault: Record<string, unknown>): Promise<JsonResponse> =>
  simJson(sim, '/__sim/faults', { method: 'POST', body: fault });

export const subOf = (accessToken: string): string => {
  const payload = accessToken.split('.')[1] ?? '';
  return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub: string }).sub;
};
