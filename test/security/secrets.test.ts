/**
 * Secrets stay secret: over a whole journey (create → callback → data → refresh → extend → delete,
 * with a forced refresh and an upstream failure on the way) no token, code, state or client secret
 * reaches a log line, an API response or the table in plain text; and a sealed token blob is bound
 * to its own row.
 */

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionItem, expectProblem, psu, scanTable, tableClient } from '../reliability/helpers';
import type { ApiResponse } from '../support/flow';
import { TestApi } from '../support/flow';

const clientSecret = 'local-secret';

let api: TestApi;
let doc: DynamoDBDocumentClient;

/** Every token the simulator handed out or was shown, seen on the wire between handlers and simulator. */
const issued = new Set<string>();
const originalFetch = globalThis.fetch;

const watchSimulator = (simUrl: string) => {
  globalThis.fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const response = await originalFetch(input, init);
    if (!url.startsWith(simUrl) || url.includes('/__sim/')) return response;
    const authorization = new Headers(init?.headers).get('authorization');
    if (authorization?.startsWith('Bearer ')) issued.add(authorization.slice(7));
    if (typeof init?.body === 'string') {
      for (const [name, value] of new URLSearchParams(init.body)) if (/token|code/.test(name) && value.length > 0) issued.add(value);
      if (init.body.startsWith('{')) collectTokens(JSON.parse(init.body));
    }
    const text = await response.clone().text();
    try {
      collectTokens(JSON.parse(text));
    } catch {
      // not JSON: nothing issued in it
    }
    return response;
  };
};

const collectTokens = (value: unknown): void => {
  if (typeof value !== 'object' || value === null) return;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if ((key === 'access_token' || key === 'refresh_token') && typeof item === 'string' && item.length > 0) issued.add(item);
    else collectTokens(item);
  }
};

/** Log output of the handlers (Powertools writes JSON lines to the process's stdout/stderr). */
const logged: string[] = [];
const captureLogs = () => {
  const stdout = process.stdout.write.bind(process.stdout);
  const stderr = process.stderr.write.bind(process.stderr);
  const record = (chunk: unknown): boolean => {
    logged.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  process.stdout.write = record as typeof process.stdout.write;
  process.stderr.write = record as typeof process.stderr.write;
  return () => {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
  };
};

/** What the journey carried that must never be logged or stored. */
const secrets: { kind: string; value: string }[] = [];
const responses: ApiResponse[] = [];
let restoreLogs: (() => void) | undefined;

const record = <T extends ApiResponse>(response: T): T => {
  responses.push(response);
  return response;
};

beforeAll(async () => {
  // DEBUG: the widest log surface the service has.
  api = await TestApi.start({ env: { POWERTOOLS_LOG_LEVEL: 'DEBUG' } });
  doc = tableClient(api.stack);
  watchSimulator(api.stack.simUrl);
  restoreLogs = captureLogs();
  try {
    const created = record(await api.call('POST', '/connections', { sub: 'alice', body: { return_url: `${api.stack.apiUrl}/` } }));
    const state = new URL(created.body.auth_link).searchParams.get('state') ?? '';
    secrets.push({ kind: 'state', value: state });
    const step = await api.authorize(created.body.auth_link);
    const code = new URL(step.location ?? '').searchParams.get('code') ?? '';
    secrets.push({ kind: 'code', value: code });
    const callback = record(await api.deliverCallback(step));
    const id: string = created.body.connection_id;
    const completionCode = new URL(callback.headers.get('location') ?? '').searchParams.get('completion_code') ?? '';
    secrets.push({ kind: 'completion code', value: completionCode });
    record(await api.complete('alice', id, completionCode));
    record(await api.call('GET', `/connections/${id}/accounts`, { sub: 'alice', headers: psu }));
    // TrueLayer refusing a token it issued: one forced refresh and a retry.
    await api.simFault({ path: '/data/v1/info', status: 401, times: 1 });
    record(await api.call('GET', `/connections/${id}/info`, { sub: 'alice', headers: psu }));
    // An expired token refreshed, then a refresh that fails upstream (an error log with its causes).
    api.advance(3700);
    record(await api.call('GET', `/connections/${id}/accounts`, { sub: 'alice', headers: psu }));
    api.advance(3700);
    await api.simFault({ path: '/connect/token', status: 500, times: 1 });
    record(await api.call('GET', `/connections/${id}/cards`, { sub: 'alice', headers: psu }));
    record(await api.call('GET', `/connections/${id}/cards`, { sub: 'alice', headers: psu }));
    record(
      await api.call('POST', `/connections/${id}/extend`, {
        sub: 'alice',
        body: { user_has_reconfirmed_consent: true, user: { name: 'Alice Smith', email: 'alice@example.com' } },
      }),
    );
    record(await api.call('GET', `/connections/${id}`, { sub: 'alice' }));
    record(await api.call('GET', '/connections', { sub: 'alice' }));
    record(await api.call('DELETE', `/connections/${id}`, { sub: 'alice' }));
    // A replayed callback: the state and code come back in a refused request.
    record(await api.deliverCallback(step));
  } finally {
    restoreLogs();
  }
  for (const value of issued) secrets.push({ kind: value.startsWith('eyJ') ? 'access token' : 'refresh token', value });
}, 60_000);

afterAll(async () => {
  restoreLogs?.();
  globalThis.fetch = originalFetch;
  await api.close();
});

const leaks = (text: string) => secrets.filter(({ value }) => text.includes(value)).map(({ kind }) => kind);

describe('the journey', () => {
  it('went through every step and saw tokens and logs to check', () => {
    expect(responses.map((response) => response.status)).toEqual([201, 302, 200, 200, 200, 200, 502, 200, 200, 200, 200, 204, 400]);
    expect(secrets.filter(({ kind }) => kind === 'access token').length).toBeGreaterThanOrEqual(3);
    expect(secrets.filter(({ kind }) => kind === 'refresh token').length).toBeGreaterThanOrEqual(3);
    expect(secrets.every(({ value }) => value.length >= 20)).toBe(true);
    const lines = logged.join('');
    expect(lines).toContain('connection created');
    expect(lines).toContain('"level":"ERROR"');
  });
});

describe('logs', () => {
  it('hold no token, code, state or client secret', () => {
    const lines = logged.join('');
    expect(leaks(lines)).toEqual([]);
    expect(lines).not.toContain(clientSecret);
    expect(lines).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });
});

describe('API responses', () => {
  it('hold no token, code or client secret, and the state only in the auth link', () => {
    for (const [index, response] of responses.entries()) {
      const visible = `${response.text}\n${[...response.headers].map(([name, value]) => `${name}: ${value}`).join('\n')}`;
      // The auth link is where the state belongs: the browser carries it to TrueLayer and back; the
      // callback's redirect is where the completion code goes, to the app.
      const allowed = index === 0 ? ['state'] : index === 1 ? ['completion code'] : [];
      expect(
        leaks(visible).filter((kind) => !allowed.includes(kind)),
        visible.slice(0, 300),
      ).toEqual([]);
      expect(visible).not.toContain(clientSecret);
    }
  });
});

describe('the table', () => {
  it('holds no token, code or state in plain text, nor anything JWT-shaped', async () => {
    const items = await scanTable(doc, api.stack.tableName);
    expect(items.length).toBeGreaterThan(0);
    const dump = JSON.stringify(items);
    expect(leaks(dump)).toEqual([]);
    expect(dump).not.toContain(clientSecret);
    expect(dump).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });
});

describe('a token blob moved to another row', () => {
  it('does not decrypt there: the data call fails with a plain problem, and the original row still works', async () => {
    const victim = await api.connect('victim');
    const attacker = await api.connect('mallory');
    const victimItem = await connectionItem(doc, api.stack.tableName, victim);
    const simBefore = await api.simStats();
    await doc.send(
      new UpdateCommand({
        TableName: api.stack.tableName,
        Key: { pk: `conn#${attacker}` },
        UpdateExpression: 'SET tokens = :t, access_token_expires_at = :e',
        ExpressionAttributeValues: { ':t': victimItem.tokens, ':e': victimItem.access_token_expires_at },
      }),
    );

    const response = await api.call('GET', `/connections/${attacker}/accounts`, { sub: 'mallory', headers: psu });

    // Which status a blob that will never open deserves is the service's choice (today 500
    // internal_error); what matters is that nothing was served or sent upstream with it.
    expect(response.status).not.toBe(200);
    expectProblem(response);
    expect(response.text).not.toMatch(/decrypt|cipher|gcm|kms|aad/i);
    const simAfter = await api.simStats();
    expect(simAfter.data['/data/v1/accounts'] ?? 0).toBe(simBefore.data['/data/v1/accounts'] ?? 0);
    expect(simAfter.token.refresh_token).toBe(simBefore.token.refresh_token);
    const own = await api.call('GET', `/connections/${victim}/accounts`, { sub: 'victim', headers: psu });
    expect(own.status).toBe(200);
  });
});
