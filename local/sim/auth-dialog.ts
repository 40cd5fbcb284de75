/**
 * The auth dialog at `GET /` (TrueLayer's auth link): validates the auth link, shows the mock bank's sign-in
 * page, and sends the browser back to `redirect_uri` with a code (or an error), by redirect or by an
 * auto-submitting form for `response_mode=form_post`.
 */
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { SimContext } from './context';
import type { SimRequest } from './http';
import { escapeHtml, parseBody, redirect, sendHtml } from './http';
import { authenticateMockUser } from './mock-users';
import { randomUrlSafe } from './random';
import { parseScopes } from './scopes';
import type { DialogSession, ResponseMode } from './store';

/** Provider selectors that show the mock bank (`uk-cs-mock` is what TrueLayer's sandbox demos use). */
const mockSelectors = ['uk-cs-mock', 'mock', 'uk-ob-all', 'uk-oauth-all'];
/** TrueLayer's default when `providers` is left out: its docs show only that it begins `uk-oa…`, so this is a guess. */
const defaultProviders = 'uk-oauth-all uk-ob-all';

const dialogQuerySchema = z.object({
  session_id: z.string().optional(),
  response_type: z.string().optional(),
  client_id: z.string().optional(),
  redirect_uri: z.string().optional(),
  scope: z.string().optional(),
  providers: z.string().optional(),
  provider_id: z.string().optional(),
  state: z.string().optional(),
  response_mode: z.string().optional(),
  enable_mock: z.string().optional(),
  code_challenge: z.string().optional(),
  code_challenge_method: z.string().optional(),
});

const dialogFormSchema = z.object({
  session_id: z.string().min(1),
  action: z.enum(['allow', 'deny']).optional(),
  provider_id: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
});

const firstValues = (params: URLSearchParams): Record<string, string> => {
  const values: Record<string, string> = {};
  for (const [key, value] of params) if (!(key in values)) values[key] = value;
  return values;
};

const pageStyle = `
  body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; background: #f3f5f9; color: #1d2433; margin: 0; }
  main { max-width: 26rem; margin: 3rem auto; background: #fff; border-radius: 12px; padding: 2rem; box-shadow: 0 2px 12px rgba(0,0,0,.08); }
  h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
  p, li { line-height: 1.45; }
  fieldset { border: 1px solid #d7dce5; border-radius: 8px; margin: 1rem 0; padding: .75rem 1rem; }
  label { display: block; font-weight: 600; margin: .75rem 0 .25rem; }
  fieldset label { display: inline; font-weight: 500; margin: 0 0 0 .4rem; }
  input[type=text], input[type=password] { width: 100%; box-sizing: border-box; padding: .55rem; border: 1px solid #b9c0cc; border-radius: 6px; font-size: 1rem; }
  .buttons { display: flex; gap: .75rem; margin-top: 1.5rem; }
  button { flex: 1; padding: .65rem; font-size: 1rem; border-radius: 6px; border: 1px solid #3056d3; cursor: pointer; }
  button[value=allow] { background: #3056d3; color: #fff; }
  button[value=deny] { background: #fff; color: #3056d3; }
  .error { background: #fdecec; color: #8a1c1c; border-radius: 6px; padding: .6rem .8rem; }
  .hint { color: #5b6475; font-size: .85rem; }
  code { background: #eef1f6; padding: 0 .25rem; border-radius: 4px; }
`;

const page = (title: string, body: string): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${pageStyle}</style></head>
<body><main>${body}</main></body></html>`;

// The dialog must not be framed (TrueLayer's sends CSP frame-ancestors too); it posts only to itself, then redirects anywhere.
const dialogCsp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'";

const errorPage = (res: ServerResponse, status: number, message: string): void => {
  sendHtml(
    res,
    status,
    page(
      'TrueLayer simulator: error',
      `<h1>Something is wrong with this link</h1><p class="error" role="alert">${escapeHtml(message)}</p><p class="hint">The auth link could not be used, and nothing was sent back to the application.</p>`,
    ),
    { 'content-security-policy': dialogCsp },
  );
};

const scopeLabels: Record<string, string> = {
  info: 'your name and contact details',
  accounts: 'your accounts',
  balance: 'balances',
  cards: 'your cards',
  transactions: 'transactions',
  direct_debits: 'direct debits',
  standing_orders: 'standing orders',
  offline_access: 'access for 90 days, even when you are not using the app',
};

const renderLogin = (res: ServerResponse, session: DialogSession, error?: string, username = ''): void => {
  const scopes = session.scopes.map((scope) => `<li>${escapeHtml(scopeLabels[scope] ?? scope)}</li>`).join('');
  const intro =
    session.renewalOf === undefined
      ? `<p><strong>${escapeHtml(session.clientId)}</strong> would like to see:</p><ul>${scopes}</ul>`
      : `<p>Sign in to your bank again so <strong>${escapeHtml(session.clientId)}</strong> can keep seeing:</p><ul>${scopes}</ul>`;
  const body = `
<h1>Connect your bank</h1>
${intro}
${error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(error)}</p>`}
<form method="post" action="/">
  <input type="hidden" name="session_id" value="${escapeHtml(session.id)}">
  <fieldset>
    <legend>Choose your bank</legend>
    <input type="radio" id="provider-mock" name="provider_id" value="mock" checked>
    <label for="provider-mock">Mock Bank</label>
  </fieldset>
  <label for="username">Username</label>
  <input type="text" id="username" name="username" autocomplete="username" value="${escapeHtml(username)}" required>
  <label for="password">Password</label>
  <input type="password" id="password" name="password" autocomplete="current-password" required>
  <div class="buttons">
    <button type="submit" name="action" value="allow">Allow</button>
    <button type="submit" name="action" value="deny" formnovalidate>Deny</button>
  </div>
</form>
<p class="hint">Mock users: <code>john</code> / <code>doe</code> (or <code>john1</code>…<code>john100</code> / <code>doe1</code>…<code>doe100</code>), <code>john</code> / <code>eternal</code>, <code>john</code> / <code>busy</code> (50,000 transactions), <code>error.provider_error</code> / <code>error</code> and the other <code>error.*</code> users.</p>`;
  sendHtml(res, 200, page('Mock Bank: sign in', body), { 'content-security-policy': dialogCsp });
};

/** Sends the browser back to the client: a 302 with query parameters, or an auto-submitting form. */
const deliver = (
  res: ServerResponse,
  redirectUri: string,
  responseMode: ResponseMode,
  params: Record<string, string | undefined>,
): void => {
  const fields = Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== undefined);
  if (responseMode === 'query') {
    const target = new URL(redirectUri);
    for (const [key, value] of fields) target.searchParams.set(key, value);
    redirect(res, target.toString());
    return;
  }
  const nonce = randomUrlSafe(16);
  const inputs = fields
    .map(([key, value]) => `<input type="hidden" name="${escapeHtml(key)}" value="${escapeHtml(value)}">`)
    .join('\n    ');
  const body = `
<h1>Returning to the application…</h1>
<form method="post" action="${escapeHtml(redirectUri)}">
    ${inputs}
    <noscript><button type="submit" name="continue" value="1">Continue</button></noscript>
</form>
<script nonce="${nonce}">document.forms[0].submit();</script>`;
  sendHtml(res, 200, page('Returning to the application', body), {
    'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'`,
  });
};

export const handleDialogPage = (ctx: SimContext, request: SimRequest, res: ServerResponse): void => {
  const query = dialogQuerySchema.parse(firstValues(request.url.searchParams));
  if (query.session_id !== undefined) {
    const session = ctx.store.session(query.session_id);
    if (session === undefined) return errorPage(res, 400, 'This sign-in link has expired or has already been used.');
    return renderLogin(res, session);
  }

  // Until client_id and redirect_uri are known good, nothing may go back to the redirect_uri.
  if (query.client_id === undefined || query.client_id === '') return errorPage(res, 400, 'The client_id parameter is missing.');
  const client = ctx.store.clients.get(query.client_id);
  if (client === undefined) return errorPage(res, 400, `Unknown client_id "${query.client_id}".`);
  if (query.redirect_uri === undefined || query.redirect_uri === '') return errorPage(res, 400, 'The redirect_uri parameter is missing.');
  if (!client.redirect_uris.includes(query.redirect_uri))
    return errorPage(res, 400, `The redirect_uri "${query.redirect_uri}" is not registered for client "${client.client_id}".`);

  const redirectUri = query.redirect_uri;
  const modeIsValid = query.response_mode === undefined || query.response_mode === 'query' || query.response_mode === 'form_post';
  const responseMode: ResponseMode = query.response_mode === 'form_post' ? 'form_post' : 'query';
  const fail = (error: string, description: string): void =>
    deliver(res, redirectUri, responseMode, { error, error_description: description, state: query.state });

  if (!modeIsValid) return fail('invalid_request', 'response_mode must be query or form_post.');
  if (query.response_type !== 'code') return fail('invalid_request', 'response_type must be code.');
  const scopes = parseScopes(query.scope);
  if (!scopes.ok) return fail(scopes.error, scopes.description);
  const providers = (query.providers === undefined || query.providers.trim() === '' ? defaultProviders : query.providers)
    .split(/\s+/)
    .filter((item) => item.length > 0);
  const mockShown = providers.some((item) => mockSelectors.includes(item)) || query.enable_mock === 'true';
  if (query.provider_id !== undefined) {
    if (query.provider_id !== 'mock')
      return fail('invalid_request', `Unknown provider_id "${query.provider_id}": the simulator has only the mock bank (mock).`);
    if (!mockShown)
      return fail('invalid_request', 'provider_id must be covered by providers (add uk-cs-mock, mock, uk-ob-all or uk-oauth-all).');
  }
  if (!mockShown)
    return fail('invalid_request', 'No available provider matches providers; use uk-cs-mock, mock, uk-ob-all or uk-oauth-all.');
  // PKCE (RFC 7636 §4.3): only S256 is offered; a challenge is base64url of a SHA-256 hash.
  if (query.code_challenge !== undefined) {
    if ((query.code_challenge_method ?? 'plain') !== 'S256') return fail('invalid_request', 'code_challenge_method must be S256.');
    if (!/^[A-Za-z0-9_-]{43}$/.test(query.code_challenge))
      return fail('invalid_request', 'code_challenge must be base64url of a SHA-256 hash (43 characters).');
  } else if (query.code_challenge_method !== undefined)
    return fail('invalid_request', 'code_challenge_method was given without a code_challenge.');

  const session = ctx.store.createSession({
    clientId: client.client_id,
    redirectUri,
    scopes: scopes.scopes,
    state: query.state,
    responseMode,
    ...(query.code_challenge === undefined ? {} : { codeChallenge: query.code_challenge }),
  });
  renderLogin(res, session);
};

export const handleDialogSubmit = (ctx: SimContext, request: SimRequest, res: ServerResponse): void => {
  const parsed = parseBody(request);
  const form = parsed.ok ? dialogFormSchema.safeParse(parsed.value) : undefined;
  if (form === undefined || !form.success) return errorPage(res, 400, 'The sign-in form was incomplete. Start again from the application.');
  const session = ctx.store.session(form.data.session_id);
  if (session === undefined)
    return errorPage(res, 400, 'This sign-in page has expired or has already been used. Start again from the application.');

  if (form.data.action === 'deny') {
    ctx.store.endSession(session.id);
    return deliver(res, session.redirectUri, session.responseMode, {
      error: 'access_denied',
      error_description: 'The user denied access.',
      state: session.state,
    });
  }
  const username = form.data.username?.trim() ?? '';
  if (form.data.provider_id !== 'mock') return renderLogin(res, session, 'Choose your bank.', username);
  const user = authenticateMockUser(username, form.data.password ?? '');
  if (user === undefined) return renderLogin(res, session, 'Wrong username or password. Try again.', username);
  if (session.expectedUsername !== undefined && session.expectedUsername !== user.username) {
    return renderLogin(res, session, 'Sign in as the bank user who made this connection.', username);
  }

  ctx.store.endSession(session.id);
  const code = ctx.store.issueCode({
    clientId: session.clientId,
    redirectUri: session.redirectUri,
    user,
    scopes: session.scopes,
    ...(session.renewalOf === undefined ? {} : { renewalOf: session.renewalOf }),
    ...(session.codeChallenge === undefined ? {} : { codeChallenge: session.codeChallenge }),
  });
  const scope = session.scopes.join(' ');
  deliver(
    res,
    session.redirectUri,
    session.responseMode,
    session.responseMode === 'form_post' ? { code, state: session.state, scope } : { code, state: session.state },
  );
};
