/**
 * The demo page in a real browser, driven like a person: sign in, connect through the simulator's
 * dialog, read accounts, extend, delete, deny. One local stack and one Chromium for the file; a
 * fresh browser context (own sessionStorage) and a fresh user name per test.
 */
import { mkdir } from 'node:fs/promises';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack';
import { startLocalStack } from '../../local/stack';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const resultsDir = new URL('../../test-results/', import.meta.url);

let stack: LocalStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let userCount = 0;

beforeAll(async () => {
  // Handler logs stay quiet (one test makes the bank fail on purpose); E2E_LOG_LEVEL=INFO shows them.
  stack = await startLocalStack({
    port: 0,
    simPort: 0,
    dynamoPort: 0,
    quiet: true,
    env: { LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'SILENT' },
  });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

beforeEach(async () => {
  context = await browser.newContext();
  context.setDefaultTimeout(15_000);
  page = await context.newPage();
});

afterEach(async ({ task }) => {
  if (task.result?.state === 'fail') {
    await mkdir(resultsDir, { recursive: true });
    const name = task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 80);
    await page.screenshot({ path: new URL(`e2e-demo-${name}.png`, resultsDir).pathname, fullPage: true }).catch(() => undefined);
  }
  await context.close();
});

/** A user name no other test uses, so each test sees only its own connections. */
const newUser = (label: string): string => {
  userCount += 1;
  return `${label}-${userCount}-${process.pid}`;
};

const demoUrl = () => `${stack.apiUrl}/`;
const onDemo = (url: URL) => url.origin === new URL(stack.apiUrl).origin && url.pathname === '/';
const onDialog = (url: URL) => url.origin === new URL(stack.simUrl).origin;

const statusMessage = () => page.getByRole('status');
const session = () => page.getByRole('region', { name: 'Session' });
const errorMessage = () => page.getByRole('alert');
const connectionRows = () =>
  page
    .getByRole('table', { name: 'Your bank connections' })
    .getByRole('row')
    .filter({ has: page.getByRole('cell') });
const details = () => page.getByRole('region', { name: /^Connection/ });
const fact = (term: string) => details().locator('dt', { hasText: term }).locator('xpath=following-sibling::dd[1]');

/** Waits until the locator's text matches; returns that text. */
const textOf = async (locator: Locator, pattern: RegExp): Promise<string> => {
  await locator.filter({ hasText: pattern }).first().waitFor();
  return (await locator.first().textContent()) ?? '';
};

const signIn = async (user: string): Promise<void> => {
  await page.goto(demoUrl());
  await page.getByLabel('User name').fill(user);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await session().getByText(`Signed in as ${user}`).waitFor();
};

/** At the simulator's dialog: picks the mock bank, types the credentials, and answers. */
const answerDialog = async (options: { username?: string; password?: string; action?: 'Allow' | 'Deny' } = {}): Promise<void> => {
  await page.waitForURL(onDialog);
  await page.getByRole('heading', { name: 'Connect your bank' }).waitFor();
  await page.getByLabel('Mock Bank').check();
  await page.getByLabel('Username').fill(options.username ?? 'john');
  await page.getByLabel('Password').fill(options.password ?? 'doe');
  await page.getByRole('button', { name: options.action ?? 'Allow' }).click();
  await page.waitForURL(onDemo);
};

/** Connect a bank → dialog → back on the page with the new connection open and its data loaded. */
const connect = async (credentials: { username?: string; password?: string } = {}): Promise<void> => {
  await page.getByRole('button', { name: 'Connect a bank' }).click();
  await answerDialog(credentials);
  await textOf(statusMessage(), /Bank connected/);
  await page.getByRole('heading', { name: 'Accounts' }).waitFor();
};

const extendForm = () => page.getByRole('form', { name: 'Extend consent' });

const submitExtend = async (): Promise<void> => {
  await extendForm().getByLabel('Email').fill('someone@example.com');
  await extendForm()
    .getByLabel(/keep reading my bank data/)
    .check();
  await extendForm().getByRole('button', { name: 'Extend consent' }).click();
};

/** The API as the same user, to compare the page with what the service answers. */
const apiGet = async (user: string, path: string): Promise<any> => {
  const response = await fetch(`${stack.apiUrl}${path}`, {
    headers: { authorization: `Bearer ${await stack.issueToken(user)}`, 'x-psu-ip': '203.0.113.7' },
  });
  expect(response.status).toBe(200);
  return response.json();
};

/** The page's sessionStorage (evaluated in the page; this tsconfig has no DOM types). */
const pageSession = (): Promise<Record<string, string>> =>
  page.evaluate(() => ({ ...(globalThis as unknown as { sessionStorage: Record<string, string> }).sessionStorage }));

const onlyConnectionId = async (user: string): Promise<string> => {
  const { connections } = await apiGet(user, '/connections');
  expect(connections).toHaveLength(1);
  return connections[0].connection_id as string;
};

describe('demo page', () => {
  it('signs in as a named local user and keeps the token in sessionStorage', async () => {
    const user = newUser('keeper');
    await signIn(user);
    const stored = await pageSession();
    expect(stored['tl-demo.user']).toBe(user);
    expect(stored['tl-demo.token']?.split('.')).toHaveLength(3);
    await page.reload();
    await session().getByText(`Signed in as ${user}`).waitFor();
    await page.getByText('No connections yet').waitFor();
  });

  it('connects the mock bank through the dialog and shows the accounts, balances and transactions', async () => {
    const user = newUser('connector');
    await signIn(user);
    await connect();

    expect(new URL(page.url()).search).toBe('');
    const row = connectionRows();
    expect(await row.count()).toBe(1);
    expect(await row.getByRole('cell').nth(1).textContent()).toBe('active');
    expect(await fact('Status').textContent()).toBe('active');
    expect(await fact('Consent expires').locator('time').getAttribute('datetime')).toMatch(/^\d{4}-\d{2}-\d{2}T/);

    const id = await onlyConnectionId(user);
    const accounts = (await apiGet(user, `/connections/${id}/accounts`)).results as { account_id: string; display_name: string }[];
    expect(accounts.length).toBeGreaterThan(0);
    const headings = await page.getByRole('region', { name: 'Accounts' }).getByRole('heading', { level: 4 }).allTextContents();
    expect(headings).toEqual(accounts.map((account) => account.display_name));

    const first = accounts[0]!;
    const balance = (await apiGet(user, `/connections/${id}/accounts/${first.account_id}/balance`)).results[0];
    const card = page.getByRole('article', { name: first.display_name });
    const available = new Intl.NumberFormat('en-GB', { style: 'currency', currency: balance.currency }).format(balance.available);
    expect(await card.getByRole('definition').first().textContent()).toBe(available);

    const transactions = (await apiGet(user, `/connections/${id}/accounts/${first.account_id}/transactions`)).results as {
      timestamp: string;
      description: string;
    }[];
    const latest = [...transactions].sort((a, b) => b.timestamp.localeCompare(a.timestamp))[0]!;
    const table = card.getByRole('table');
    expect(await table.locator('caption').textContent()).toMatch(/^Latest \d+ of \d+ transactions since /);
    expect(await table.getByRole('row').nth(1).getByRole('cell').nth(1).textContent()).toContain(latest.description);

    expect(await page.getByRole('region', { name: 'Cards' }).getByRole('article').count()).toBeGreaterThan(0);
  });

  it('completes the returned connection as the signed-in user: the code leaves the address bar, the connection is active', async () => {
    const user = newUser('completer');
    await signIn(user);
    await page.getByRole('button', { name: 'Connect a bank' }).click();
    await answerDialog();
    await textOf(statusMessage(), /Bank connected: the connection is active/);
    expect(new URL(page.url()).search).toBe('');
    const connection = await apiGet(user, `/connections/${await onlyConnectionId(user)}`);
    expect(connection.status).toBe('active');
  });

  it('refuses to complete a link someone else created: says so, and the connection is revoked', async () => {
    // Alice starts a connection and passes its bank link on (the page would have taken her there).
    const alice = newUser('alice');
    await signIn(alice);
    await page.getByRole('button', { name: 'Connect a bank' }).click();
    await page.waitForURL(onDialog);
    const authLink = page.url();
    const id = await onlyConnectionId(alice);
    await context.close();

    // Bob, signed in to the same app in his own browser, opens it and signs in to his own bank.
    context = await browser.newContext();
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    const bob = newUser('bob');
    await signIn(bob);
    await page.goto(authLink);
    await answerDialog({ username: 'john7', password: 'doe7' });

    const alert = await textOf(errorMessage(), /not started by you/);
    expect(alert).toContain(bob);
    expect(alert).toMatch(/revoked/);
    expect(new URL(page.url()).search).toBe('');
    expect(await page.getByText('No connections yet').isVisible()).toBe(true);
    const connection = await apiGet(alice, `/connections/${id}`);
    expect([connection.status, connection.status_reason]).toEqual(['inactive', 'owner_mismatch']);
    const read = await fetch(`${stack.apiUrl}/connections/${id}/accounts`, {
      headers: { authorization: `Bearer ${await stack.issueToken(alice)}` },
    });
    expect(read.status).toBe(409);
  });

  it('keeps the returned code until the user signs in, then completes the connection as them', async () => {
    const user = newUser('late-signer');
    const created = (await (
      await fetch(`${stack.apiUrl}/connections`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await stack.issueToken(user)}`, 'content-type': 'application/json' },
        body: '{}',
      })
    ).json()) as { connection_id: string; auth_link: string };
    // A browser with no session on the app: the bank sends it back to the demo page, signed out.
    await page.goto(created.auth_link);
    await answerDialog();
    await textOf(statusMessage(), /Sign in to finish connecting it/);
    expect(new URL(page.url()).search).toBe('');
    await page.getByLabel('User name').fill(user);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await textOf(statusMessage(), /Bank connected: the connection is active/);
    expect((await apiGet(user, `/connections/${created.connection_id}`)).status).toBe('active');
  });

  it('offers the banks of GET /providers in its picker and passes the chosen provider_id when connecting', async () => {
    const user = newUser('picker');
    await signIn(user);
    const picker = page.getByLabel('Bank', { exact: true });
    await picker.locator('option', { hasText: 'Monzo' }).waitFor({ state: 'attached' });
    const offered = await picker.locator('option').allTextContents();
    const { providers } = await apiGet(user, '/providers?country=gb');
    expect(offered).toEqual(providers.map((provider: { display_name: string }) => provider.display_name));
    expect(await picker.inputValue()).toBe('mock');
    const created = page.waitForRequest((request) => request.method() === 'POST' && new URL(request.url()).pathname === '/connections');
    await connect();
    expect((await created).postDataJSON()).toMatchObject({ provider_id: 'mock' });
  });

  it('extends a john/doe connection by sending the user through the bank again, and comes back active', async () => {
    const user = newUser('renewer');
    await signIn(user);
    await connect();
    const before = await fact('Consent expires').locator('time').getAttribute('datetime');
    // A day later, so the renewed consent ends visibly later (the page's token lapses too and is reissued).
    stack.clock.advance(24 * 3600);

    await submitExtend();
    await page.waitForURL(onDialog);
    await page.getByText('Sign in to your bank again').waitFor();
    await answerDialog({ username: 'john', password: 'doe' });

    await textOf(statusMessage(), /Consent extended/);
    expect(await fact('Status').textContent()).toBe('active');
    const after = await fact('Consent expires').locator('time').getAttribute('datetime');
    expect(Date.parse(after ?? '')).toBeGreaterThan(Date.parse(before ?? ''));
    expect(await connectionRows().count()).toBe(1);
  });

  it('extends a john/eternal connection at once, without leaving the page', async () => {
    const user = newUser('eternal');
    await signIn(user);
    await connect({ username: 'john', password: 'eternal' });
    const before = await fact('Consent expires').locator('time').getAttribute('datetime');
    stack.clock.advance(3600);

    await submitExtend();
    const message = await textOf(statusMessage(), /Consent extended until/);
    expect(message).not.toContain('—');
    expect(onDemo(new URL(page.url()))).toBe(true);
    expect(await fact('Status').textContent()).toBe('active');
    const after = await fact('Consent expires').locator('time').getAttribute('datetime');
    expect(Date.parse(after ?? '')).toBeGreaterThan(Date.parse(before ?? ''));
  });

  it('deletes a connection: it becomes inactive (revoked) and its bank data goes', async () => {
    const user = newUser('deleter');
    await signIn(user);
    await connect();

    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Delete connection' }).click();
    await textOf(statusMessage(), /Connection deleted/);

    const cells = connectionRows().first().getByRole('cell');
    expect(await cells.nth(1).textContent()).toBe('inactive');
    expect(await cells.nth(2).textContent()).toBe('revoked');
    expect(await fact('Reason').textContent()).toMatch(/^revoked/);
    expect(await page.getByRole('region', { name: 'Accounts' }).isVisible()).toBe(false);
    expect(await page.getByRole('button', { name: 'Delete connection' }).isVisible()).toBe(false);
    const connection = await apiGet(user, `/connections/${await onlyConnectionId(user)}`);
    expect([connection.status, connection.status_reason]).toEqual(['inactive', 'revoked']);
  });

  it('keeps the connection when the user cancels the delete confirmation', async () => {
    const user = newUser('hesitant');
    await signIn(user);
    await connect();

    page.once('dialog', (dialog) => void dialog.dismiss());
    await page.getByRole('button', { name: 'Delete connection' }).click();
    expect(await connectionRows().first().getByRole('cell').nth(1).textContent()).toBe('active');
    const connection = await apiGet(user, `/connections/${await onlyConnectionId(user)}`);
    expect(connection.status).toBe('active');
  });

  it('shows the error when the user denies at the bank, and lists the connection as inactive (user_denied)', async () => {
    const user = newUser('denier');
    await signIn(user);
    await page.getByRole('button', { name: 'Connect a bank' }).click();
    await answerDialog({ action: 'Deny' });

    const alert = await textOf(errorMessage(), /Deny/);
    expect(alert).toContain('access_denied');
    const cells = connectionRows().first().getByRole('cell');
    await cells.nth(1).filter({ hasText: 'inactive' }).waitFor();
    expect(await cells.nth(2).textContent()).toBe('user_denied');
    expect(await page.getByRole('region', { name: 'Accounts' }).isVisible()).toBe(false);
  });

  it('shows a problem+json detail readably when the bank is down', async () => {
    const user = newUser('unlucky');
    await signIn(user);
    await connect();
    await fetch(`${stack.simUrl}/__sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // No `times`: the service retries a 503, so the fault stays until cleared.
      body: JSON.stringify({ path: '/data/v1/cards', status: 503 }),
    });
    try {
      await page.getByRole('button', { name: 'Reload data' }).click();
      const problem = page.getByRole('region', { name: 'Cards' }).locator('.problem');
      const text = await textOf(problem, /Could not load the cards/);
      expect(text).toMatch(/\(upstream_unavailable\)$/);
      expect(text).not.toMatch(/[{}]/);
      expect(await page.getByRole('region', { name: 'Accounts' }).getByRole('article').count()).toBeGreaterThan(0);
    } finally {
      await fetch(`${stack.simUrl}/__sim/faults`, { method: 'DELETE' });
    }
  });

  it('renders names from data as text, never as markup', async () => {
    const user = newUser('<img src=x onerror="document.body.dataset.pwned=1"><b>bold</b>');
    await signIn(user);
    expect(await page.locator('#who').textContent()).toBe(user);
    expect(await page.locator('#who b, #who img').count()).toBe(0);
    expect(await page.locator('body').getAttribute('data-pwned')).toBeNull();
  });

  it('shows the lifecycle events of the signed-in user, and moving time runs the worker', async () => {
    const user = newUser('watcher');
    await signIn(user);
    await connect();
    const events = page.getByRole('region', { name: 'Events' });
    await events.getByText('connection.activated').waitFor();
    // Past the 14-day notice (keep-alives happen on the way): the worker ran at each due time.
    for (let month = 0; month < 3; month += 1) await events.getByRole('button', { name: 'Move time 30 days' }).click();
    await events.getByText('connection.expired').waitFor();
    const items = await events.getByRole('listitem').allTextContents();
    expect(items.filter((text) => text.includes('connection.expiring')).map((text) => /\((\d+) day/.exec(text)?.[1])).toEqual([
      '14',
      '7',
      '1',
    ]);
    expect(items.at(-1)).toContain('reason consent_expired');
  });

  it('signs out: the token leaves sessionStorage and the sign-in form returns', async () => {
    await signIn(newUser('leaver'));
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('User name').waitFor();
    expect(Object.keys(await pageSession())).toEqual([]);
    expect(await page.getByRole('button', { name: 'Connect a bank' }).isVisible()).toBe(false);
  });
});
