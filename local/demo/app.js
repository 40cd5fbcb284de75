// The local demo: a client app of the API, in plain DOM code. Everything from the API or the bank
// reaches the page as text nodes (textContent / append of strings), never as markup.

const keys = { user: 'tl-demo.user', token: 'tl-demo.token', pending: 'tl-demo.pending' };
const transactionDays = 30;
const transactionsShown = 10;

const $ = (id) => {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id}`);
  return node;
};

/** A DOM element; string children become text nodes, so data is never parsed as HTML. */
const h = (tag, attributes = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = String(value);
    else if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
};

// ---- formatting -----------------------------------------------------------------------------

const dateTimeFormat = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
const dateFormat = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium' });

const formatDate = (iso, format = dateTimeFormat) => {
  if (typeof iso !== 'string' || iso === '') return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : format.format(date);
};

const timeOf = (iso, format = dateTimeFormat) =>
  typeof iso === 'string' && iso !== '' ? h('time', { datetime: iso }, formatDate(iso, format)) : '—';

const money = (amount, currency) => {
  if (typeof amount !== 'number') return '—';
  try {
    return new Intl.NumberFormat('en-GB', { style: 'currency', currency: String(currency) }).format(amount);
  } catch {
    return `${amount.toFixed(2)} ${currency ?? ''}`.trim();
  }
};

const statuses = ['authorization_required', 'authorized', 'active', 'inactive'];

const reasonDescriptions = {
  user_denied: 'you chose Deny at the bank',
  authorization_failed: 'the bank sign-in failed',
  authorization_expired: 'the bank sign-in link lapsed unused',
  consent_expired: 'the 90-day consent ended',
  consent_revoked: 'the bank or TrueLayer withdrew the consent',
  refresh_rejected: 'TrueLayer refused to renew access',
  revoked: 'you deleted it',
  owner_mismatch: 'someone other than its creator tried to complete it, so it was revoked',
  completion_failed: 'too many wrong completion codes',
  not_confirmed: 'it was not completed within 10 minutes of the bank sign-in',
};

const callbackErrors = {
  access_denied: 'You chose Deny at the bank, so nothing was connected.',
  code_exchange_failed: 'The bank sign-in could not be completed (its code was refused or had lapsed). Try connecting again.',
  connection_inactive: 'The connection was deleted while you were at the bank.',
};

const bankName = (connection) =>
  connection.provider?.display_name ??
  connection.provider?.provider_id ??
  (connection.status === 'authorization_required' ? 'Not chosen yet' : '—');

const shortId = (id) => String(id).slice(0, 8);

// ---- messages -------------------------------------------------------------------------------

const announce = (text) => {
  $('status').textContent = text;
};

const showError = (text) => {
  const box = $('error');
  box.textContent = text;
  box.hidden = false;
};

const clearError = () => {
  const box = $('error');
  box.textContent = '';
  box.hidden = true;
};

// ---- the API ------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, problem) {
    super(problemText(status, problem));
    this.name = 'ApiError';
    this.status = status;
    this.code = typeof problem?.code === 'string' ? problem.code : undefined;
  }
}

/** problem+json's `detail` (what to do), with its stable `code` for the curious. */
const problemText = (status, problem) => {
  const text =
    (typeof problem?.detail === 'string' && problem.detail) ||
    (typeof problem?.title === 'string' && problem.title) ||
    (typeof problem?.message === 'string' && problem.message) ||
    `The server answered ${status}.`;
  return typeof problem?.code === 'string' ? `${text} (${problem.code})` : text;
};

const describe = (error) => {
  if (error instanceof ApiError) return error.message;
  if (error instanceof TypeError) return 'Could not reach the local API. Is npm start still running?';
  return error instanceof Error ? error.message : String(error);
};

const readBody = async (response) => {
  if (response.status === 204) return null;
  const text = await response.text();
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.slice(0, 300) };
  }
};

const issueToken = async (user) => {
  const response = await fetch('/__local/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sub: user }),
  });
  const body = await readBody(response);
  if (!response.ok || typeof body?.access_token !== 'string') throw new ApiError(response.status, body);
  sessionStorage.setItem(keys.token, body.access_token);
  return body.access_token;
};

/** Calls the API as the signed-in user; an expired local token is reissued once (the clock may have moved). */
const api = async (method, path, body, retried = false) => {
  const token = sessionStorage.getItem(keys.token);
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const user = sessionStorage.getItem(keys.user);
  if (response.status === 401 && !retried && user) {
    await issueToken(user);
    return api(method, path, body, true);
  }
  const parsed = await readBody(response);
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
};

const settle = (promise) =>
  promise.then(
    (value) => ({ ok: true, value }),
    (error) => ({ ok: false, error }),
  );

/** A URL the browser may be sent to: only http(s), whatever the API answered. */
const navigableLink = (value) => {
  const url = new URL(String(value));
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('The API answered a link this page will not open.');
  return url.href;
};

/** "Now" on the stack's shared clock (it moves with POST /__local/clock), else the browser's. */
const sharedNow = async () => {
  try {
    const response = await fetch('/__local/clock');
    const body = await response.json();
    const now = Date.parse(body.now);
    if (!Number.isNaN(now)) return now;
  } catch {
    // The page still works without the local clock endpoint.
  }
  return Date.now();
};

// ---- state ----------------------------------------------------------------------------------

const state = {
  connections: [],
  selectedId: undefined,
  /** Bank data per connection, kept in memory only, so looking again does not spend the unattended limit. */
  data: new Map(),
  /** A connection to open once signed in (the callback came back before sign-in). */
  openAfterSignIn: undefined,
};

const pathOf = (id, rest = '') => `/connections/${encodeURIComponent(id)}${rest}`;

// ---- rendering ------------------------------------------------------------------------------

const renderSession = () => {
  const user = sessionStorage.getItem(keys.user);
  $('sign-in').hidden = Boolean(user);
  $('session').hidden = !user;
  $('connections').hidden = !user;
  $('events').hidden = !user;
  if (!user) $('details').hidden = true;
  $('who').textContent = user ?? '';
  if (user && $('extend-name').value === '') $('extend-name').value = user;
};

const renderConnections = () => {
  const rows = state.connections.map((connection) => {
    const selected = connection.connection_id === state.selectedId;
    const status = statuses.includes(connection.status) ? connection.status : 'unknown';
    return h(
      'tr',
      { 'aria-current': selected ? 'true' : undefined, class: selected ? 'selected' : undefined },
      h('td', {}, bankName(connection)),
      h('td', {}, h('span', { class: `badge status-${status}` }, connection.status ?? 'unknown')),
      h('td', {}, connection.status_reason ?? ''),
      h('td', {}, timeOf(connection.consent_expires_at)),
      h('td', {}, timeOf(connection.created_at)),
      h(
        'td',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'secondary small',
            'aria-label': `View connection ${shortId(connection.connection_id)}`,
            onclick: () => run(() => selectConnection(connection.connection_id)),
          },
          'View',
        ),
      ),
    );
  });
  $('connection-rows').replaceChildren(...rows);
  $('connection-table').hidden = rows.length === 0;
  $('no-connections').hidden = rows.length > 0;
};

const fact = (term, ...value) => [h('dt', {}, term), h('dd', {}, ...value)];

const renderDetails = (connection) => {
  const reason = connection.status_reason;
  const bank = connection.provider?.display_name ?? connection.provider?.provider_id;
  $('details-heading').textContent = bank ? `Connection: ${bank}` : `Connection ${shortId(connection.connection_id)}`;
  $('details-facts').replaceChildren(
    ...fact('Status', connection.status ?? 'unknown'),
    ...(reason ? fact('Reason', reasonDescriptions[reason] ? `${reason}: ${reasonDescriptions[reason]}` : reason) : []),
    ...fact('Consent expires', timeOf(connection.consent_expires_at)),
    ...fact('Created', timeOf(connection.created_at)),
    ...fact('Connection id', h('code', {}, connection.connection_id)),
  );
  const active = connection.status === 'active';
  $('reload-data').hidden = !active;
  $('delete').hidden = reason === 'revoked';
  $('extend-form').hidden = !(active || (connection.status === 'inactive' && reason === 'consent_expired'));
  if (!active) clearData();
  $('details').hidden = false;
};

const clearData = () => {
  $('accounts').replaceChildren();
  $('cards').replaceChildren();
  $('accounts-section').hidden = true;
  $('cards-section').hidden = true;
};

const inlineProblem = (what, error) => h('p', { class: 'problem' }, `Could not load ${what}: ${describe(error)}`);

const renderBalance = (result, kind) => {
  if (!result) return null;
  if (!result.ok) return inlineProblem('the balance', result.error);
  const balance = result.value?.results?.[0];
  if (!balance) return h('p', { class: 'hint' }, 'No balance reported.');
  const rows = [
    ...fact('Available', money(balance.available, balance.currency)),
    ...fact('Current', money(balance.current, balance.currency)),
  ];
  if (kind === 'account' && typeof balance.overdraft === 'number')
    rows.push(...fact('Overdraft', money(balance.overdraft, balance.currency)));
  if (kind === 'card' && typeof balance.credit_limit === 'number')
    rows.push(...fact('Credit limit', money(balance.credit_limit, balance.currency)));
  return h('dl', { class: 'balance', 'aria-label': 'Balance' }, ...rows);
};

// Card purchases come as positive amounts, so the sign alone does not say which way money went.
const isCredit = (transaction) =>
  transaction.transaction_type === 'CREDIT' ||
  (transaction.transaction_type !== 'DEBIT' && typeof transaction.amount === 'number' && transaction.amount > 0);

const renderTransactions = (result, from) => {
  if (!result) return null;
  if (!result.ok) return inlineProblem('the transactions', result.error);
  const all = Array.isArray(result.value?.results) ? [...result.value.results] : [];
  all.sort((a, b) => String(b.timestamp ?? '').localeCompare(String(a.timestamp ?? '')));
  const shown = all.slice(0, transactionsShown);
  const since = formatDate(from, dateFormat);
  if (shown.length === 0) return h('p', { class: 'hint' }, `No transactions since ${since}.`);
  return h(
    'table',
    { class: 'transactions' },
    h('caption', {}, `Latest ${shown.length} of ${all.length} transactions since ${since}`),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Date'),
        h('th', { scope: 'col' }, 'Description'),
        h('th', { scope: 'col', class: 'amount' }, 'Amount'),
      ),
    ),
    h(
      'tbody',
      {},
      shown.map((transaction) =>
        h(
          'tr',
          {},
          h('td', {}, timeOf(transaction.timestamp, dateFormat)),
          h(
            'td',
            {},
            transaction.merchant_name ? `${transaction.description ?? ''} (${transaction.merchant_name})` : (transaction.description ?? ''),
          ),
          h('td', { class: `amount ${isCredit(transaction) ? 'credit' : 'debit'}` }, money(transaction.amount, transaction.currency)),
        ),
      ),
    ),
  );
};

const renderItems = (container, section, listing, kind, from) => {
  section.hidden = listing === undefined;
  if (listing === undefined) return;
  if (!listing.ok) {
    container.replaceChildren(inlineProblem(kind === 'card' ? 'the cards' : 'the accounts', listing.error));
    return;
  }
  if (listing.items.length === 0) {
    container.replaceChildren(h('p', { class: 'hint' }, kind === 'card' ? 'No cards.' : 'No accounts.'));
    return;
  }
  container.replaceChildren(
    ...listing.items.map(({ item, balance, transactions }, index) => {
      const headingId = `${kind}-${index}-heading`;
      const facts =
        kind === 'card'
          ? [item.card_network, item.card_type, item.partial_card_number ? `ending ${item.partial_card_number}` : undefined]
          : [item.account_type, item.account_number?.sort_code, item.account_number?.number];
      return h(
        'article',
        { class: 'item', 'aria-labelledby': headingId },
        h('h4', { id: headingId }, item.display_name ?? item.account_id ?? 'Unnamed'),
        h('p', { class: 'hint' }, facts.filter((value) => typeof value === 'string' && value !== '').join(' · ')),
        renderBalance(balance, kind),
        renderTransactions(transactions, from),
      );
    }),
  );
};

const renderData = (data) => {
  renderItems($('accounts'), $('accounts-section'), data.accounts, 'account', data.from);
  renderItems($('cards'), $('cards-section'), data.cards, 'card', data.from);
};

// ---- reading bank data --------------------------------------------------------------------

/** One listing (accounts or cards) and, for each item, its balance and recent transactions. */
const readListing = async (connectionId, scopes, kind, from) => {
  const base = kind === 'card' ? 'cards' : 'accounts';
  const listing = await settle(api('GET', pathOf(connectionId, `/${base}`)));
  if (!listing.ok) return listing;
  const items = Array.isArray(listing.value?.results) ? listing.value.results : [];
  return {
    ok: true,
    items: await Promise.all(
      items.map(async (item) => {
        const itemPath = pathOf(connectionId, `/${base}/${encodeURIComponent(item.account_id)}`);
        const [balance, transactions] = await Promise.all([
          scopes.includes('balance') ? settle(api('GET', `${itemPath}/balance`)) : undefined,
          scopes.includes('transactions') ? settle(api('GET', `${itemPath}/transactions?from=${encodeURIComponent(from)}`)) : undefined,
        ]);
        return { item, balance, transactions };
      }),
    ),
  };
};

const loadData = async (connection, { force = false } = {}) => {
  const id = connection.connection_id;
  const cached = state.data.get(id);
  if (cached && !force) {
    renderData(cached);
    return;
  }
  const details = $('details');
  details.setAttribute('aria-busy', 'true');
  announce('Loading accounts, balances and transactions…');
  try {
    const from = new Date((await sharedNow()) - transactionDays * 86_400_000).toISOString().slice(0, 10);
    const scopes = Array.isArray(connection.scopes) ? connection.scopes : [];
    const [accounts, cards] = await Promise.all([
      scopes.includes('accounts') ? readListing(id, scopes, 'account', from) : undefined,
      scopes.includes('cards') ? readListing(id, scopes, 'card', from) : undefined,
    ]);
    const data = { from, accounts, cards };
    state.data.set(id, data);
    if (state.selectedId !== id) return;
    renderData(data);
    const count = (listing) => (listing?.ok ? listing.items.length : 0);
    announce(`Loaded ${count(accounts)} account(s) and ${count(cards)} card(s).`);
  } finally {
    details.removeAttribute('aria-busy');
  }
};

// ---- actions ----------------------------------------------------------------------------------

/** Runs a user action: one error line for whatever fails, instead of an unhandled rejection. */
const run = async (task, button) => {
  clearError();
  if (button) button.disabled = true;
  try {
    await task();
  } catch (error) {
    showError(describe(error));
  } finally {
    if (button) button.disabled = false;
  }
};

/** The bank picker, from GET /providers (TrueLayer's list, which the service keeps an hour). */
const loadProviders = async () => {
  const picker = $('provider');
  if (picker.options.length > 0) return;
  const body = await api('GET', '/providers?country=gb');
  const providers = Array.isArray(body?.providers) ? body.providers : [];
  picker.replaceChildren(
    ...providers.map((provider) =>
      h('option', { value: String(provider.provider_id) }, String(provider.display_name ?? provider.provider_id)),
    ),
  );
  // The local simulator signs in only to its mock bank; offer it first.
  if (providers.some((provider) => provider.provider_id === 'mock')) picker.value = 'mock';
};

const loadConnections = async () => {
  void loadProviders().catch(() => undefined);
  const body = await api('GET', '/connections');
  state.connections = Array.isArray(body?.connections) ? body.connections : [];
  renderConnections();
  await loadEvents();
};

/** The signed-in user's lifecycle events, from the local stack's in-memory list. */
const loadEvents = async () => {
  const response = await fetch('/__local/events', { headers: { accept: 'application/json' } });
  if (!response.ok) return;
  const body = await response.json();
  const user = sessionStorage.getItem(keys.user);
  const events = (Array.isArray(body?.events) ? body.events : []).filter((event) => event?.owner === user);
  $('no-events').hidden = events.length > 0;
  $('event-list').replaceChildren(
    ...events.map((event) => {
      const data = event.data ?? {};
      const facts = [
        data.status_reason ? `reason ${data.status_reason}` : undefined,
        typeof data.days_left === 'number' ? `${data.days_left} day(s) left` : undefined,
        data.superseded_by ? `replaced by ${String(data.superseded_by).slice(0, 8)}…` : undefined,
      ].filter(Boolean);
      return h(
        'li',
        {},
        timeOf(event.occurred_at),
        ' ',
        h('strong', {}, String(event.type)),
        ` on ${String(event.connection_id).slice(0, 8)}…`,
        facts.length ? ` (${facts.join(', ')})` : '',
      );
    }),
  );
};

const moveTime = async (seconds) => {
  const response = await fetch('/__local/clock', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ advance_seconds: seconds }),
  });
  if (!response.ok) throw new Error(`moving the clock failed (${response.status})`);
  announce(`Time moved forward ${Math.round(seconds / 86_400)} day(s).`);
  await loadConnections();
};

const selectConnection = async (id, { force = false } = {}) => {
  state.selectedId = id;
  renderConnections();
  let connection;
  try {
    connection = await api('GET', pathOf(id));
  } catch (error) {
    state.selectedId = undefined;
    renderConnections();
    $('details').hidden = true;
    throw new Error(`Could not open that connection: ${describe(error)}`);
  }
  if (state.selectedId !== id) return;
  state.connections = state.connections.map((item) => (item.connection_id === id ? connection : item));
  renderConnections();
  renderDetails(connection);
  if (connection.status === 'active') await loadData(connection, { force });
};

const selected = () => state.connections.find((connection) => connection.connection_id === state.selectedId);

const signIn = async (name) => {
  const user = name.trim();
  if (user === '') throw new Error('Type a user name first.');
  await issueToken(user);
  sessionStorage.setItem(keys.user, user);
  renderSession();
  announce(`Signed in as ${user}.`);
  const returned = state.completeAfterSignIn;
  state.completeAfterSignIn = undefined;
  if (returned?.completionCode) {
    try {
      await completeReturned(returned);
    } finally {
      await loadConnections();
    }
    if (returned.foreign) state.openAfterSignIn = undefined;
  } else await loadConnections();
  if (state.openAfterSignIn) {
    const id = state.openAfterSignIn;
    state.openAfterSignIn = undefined;
    await selectConnection(id);
  }
  // After the data load, which announces itself: the completion is the news.
  if (returned?.completed) reportCallback(returned);
};

const signOut = () => {
  for (const key of Object.values(keys)) sessionStorage.removeItem(key);
  state.connections = [];
  state.selectedId = undefined;
  state.data.clear();
  $('extend-name').value = '';
  $('extend-email').value = '';
  renderConnections();
  renderSession();
  announce('Signed out.');
};

const connectBank = async () => {
  // The callback sends the browser back here, to this very page.
  const returnUrl = `${location.origin}${location.pathname}`;
  const providerId = $('provider').value;
  const created = await api('POST', '/connections', { return_url: returnUrl, ...(providerId ? { provider_id: providerId } : {}) });
  const link = navigableLink(created.auth_link);
  sessionStorage.setItem(
    keys.pending,
    JSON.stringify({ kind: 'connect', id: created.connection_id, user: sessionStorage.getItem(keys.user) }),
  );
  announce('Opening your bank…');
  location.assign(link);
};

const extendConsent = async () => {
  const connection = selected();
  if (!connection) throw new Error('Choose a connection first.');
  const result = await api('POST', pathOf(connection.connection_id, '/extend'), {
    user_has_reconfirmed_consent: $('extend-reconfirm').checked,
    user: { name: $('extend-name').value.trim(), email: $('extend-email').value.trim() },
  });
  if (result?.action_needed === 'authentication_needed') {
    const link = navigableLink(result.user_input_link);
    sessionStorage.setItem(keys.pending, JSON.stringify({ kind: 'extend', id: connection.connection_id }));
    announce('Your bank needs you to sign in again: opening it…');
    location.assign(link);
    return;
  }
  $('extend-reconfirm').checked = false;
  await loadConnections();
  await selectConnection(connection.connection_id);
  announce(`Consent extended until ${formatDate(result?.consent_expires_at)}.`);
};

const deleteConnection = async () => {
  const connection = selected();
  if (!connection) throw new Error('Choose a connection first.');
  if (!window.confirm(`Delete the connection to ${bankName(connection)}? Access is revoked at the bank and its tokens are erased.`)) return;
  await api('DELETE', pathOf(connection.connection_id));
  state.data.delete(connection.connection_id);
  await loadConnections();
  await selectConnection(connection.connection_id);
  announce('Connection deleted: access revoked at the bank.');
};

/** What the callback said, read once from the URL, which is then cleaned so a reload does not repeat it. */
const takeCallbackResult = () => {
  const params = new URLSearchParams(location.search);
  const result = {
    id: params.get('connection_id') ?? undefined,
    status: params.get('status') ?? undefined,
    error: params.get('error') ?? undefined,
    // Kept in memory only: it is the one thing that lets the signed-in user claim this connection.
    completionCode: params.get('completion_code') ?? undefined,
  };
  // The code leaves the address bar (and history) at once.
  if (result.id || result.status || result.error || result.completionCode) history.replaceState(null, '', location.pathname);
  let pending;
  try {
    pending = JSON.parse(sessionStorage.getItem(keys.pending) ?? 'null');
  } catch {
    pending = null;
  }
  sessionStorage.removeItem(keys.pending);
  return { ...result, pending };
};

/**
 * The bank sent the browser back with a completion code: the signed-in user completes the
 * connection. Only its creator can; anyone else's completion is refused (404) and revokes it, so a
 * bank sign-in made through someone else's link never reaches that person.
 */
const completeReturned = async (result) => {
  if (result.status !== 'authorized' || !result.id || !result.completionCode) return;
  const user = sessionStorage.getItem(keys.user);
  const creator = result.pending?.kind === 'connect' && result.pending.id === result.id ? result.pending.user : undefined;
  const code = result.completionCode;
  result.completionCode = undefined;
  try {
    await api('POST', pathOf(result.id, '/complete'), { completion_code: code });
    result.completed = true;
  } catch (error) {
    result.completed = false;
    if (error instanceof ApiError && error.status === 404) {
      result.foreign = true;
      const who = creator && creator !== user ? ` It was started by ${creator}, and you are signed in as ${user}.` : '';
      throw new Error(
        `This bank connection was not started by you (${user}), so it cannot be completed as you.${who} ` +
          'It has been revoked: nobody can read the bank account you signed in to.',
      );
    }
    throw error;
  }
};

const reportCallback = (result) => {
  const extending = result.pending?.kind === 'extend' && result.pending.id === result.id;
  if (result.foreign || result.completed === false) return;
  if (result.completed) {
    announce('Bank connected: the connection is active.');
    return;
  }
  if (result.error) {
    const text = callbackErrors[result.error] ?? 'Your bank did not complete the connection.';
    showError(`${extending ? 'Extending the consent failed' : 'Connecting the bank failed'}: ${text} (${result.error})`);
  } else if (result.status === 'active') {
    announce(extending ? 'Consent extended: your bank confirmed it.' : 'Bank connected: the connection is active.');
  } else if (result.status) {
    announce(`The bank sent you back; the connection is ${result.status}.`);
  }
};

const init = async () => {
  // No frame-ancestors from a meta tag, so refuse framing here (clickjacking of Delete, Extend).
  if (window.top !== window.self) {
    document.body.replaceChildren(h('p', {}, 'This page cannot be shown inside a frame.'));
    return;
  }
  $('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void run(() => signIn($('user-name').value), event.submitter);
  });
  $('sign-out').addEventListener('click', signOut);
  $('connect').addEventListener('click', (event) => void run(connectBank, event.currentTarget));
  $('refresh-list').addEventListener('click', (event) => void run(loadConnections, event.currentTarget));
  $('reload-data').addEventListener(
    'click',
    (event) =>
      void run(async () => {
        if (state.selectedId) await selectConnection(state.selectedId, { force: true });
      }, event.currentTarget),
  );
  $('delete').addEventListener('click', (event) => void run(deleteConnection, event.currentTarget));
  $('refresh-events').addEventListener('click', (event) => void run(loadEvents, event.currentTarget));
  $('advance-day').addEventListener('click', (event) => void run(() => moveTime(86_400), event.currentTarget));
  $('advance-month').addEventListener('click', (event) => void run(() => moveTime(30 * 86_400), event.currentTarget));
  $('extend-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void run(extendConsent, event.submitter);
  });

  const callback = takeCallbackResult();
  renderSession();
  if (!sessionStorage.getItem(keys.user)) {
    reportCallback(callback);
    state.openAfterSignIn = callback.id;
    state.completeAfterSignIn = callback;
    if (callback.completionCode) announce('Your bank sent you back. Sign in to finish connecting it.');
    return;
  }
  await run(async () => {
    try {
      await completeReturned(callback);
    } finally {
      await loadConnections();
    }
    if (callback.id && !callback.foreign) await selectConnection(callback.id);
  });
  // After the load, which clears old errors and announces itself: the callback's outcome is the news.
  reportCallback(callback);
};

void init();
