/**
 * Only the owner finishes a connection: the callback stores tokens as `authorized` and hands a
 * one-time completion code to the return_url; only the creator's completion makes it `active`.
 * Everything through the local API, the simulator's dialog and the embedded DynamoDB, over HTTP.
 */
import { createHash } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { codeChallengeS256, newState, openVerifier } from '../../shared/connections/auth-state';
import { connectionKey, pendingKey, tableDefinition } from '../../shared/table';
import { TestApi } from '../support/flow';

let api: TestApi;
let doc: DynamoDBDocumentClient;
const logged: string[] = [];
let restoreLogs: () => void;

beforeAll(async () => {
  // INFO: the revocation lines are part of what is checked.
  api = await TestApi.start({ env: { LOG_LEVEL: 'INFO' } });
  doc = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: api.stack.dynamoEndpoint,
      region: 'eu-west-2',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  );
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: unknown) => {
    logged.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  }) as typeof process.stdout.write;
  restoreLogs = () => {
    process.stdout.write = write;
  };
});
afterAll(async () => {
  restoreLogs();
  await api.close();
});
afterEach(async () => api.simReset());

const item = async (connectionId: string) =>
  (await doc.send(new GetCommand({ TableName: api.stack.tableName, Key: { pk: connectionKey(connectionId) }, ConsistentRead: true }))).Item;

const logLines = (message: string) =>
  logged
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.message === message);

describe('a link passed to someone else (alice creates, bob consents with his own bank)', () => {
  it("never gives alice a byte of bob's data, and bob's completion revokes the connection", async () => {
    // Alice's app creates the connection; the auth link reaches bob ("verify your account here").
    const created = await api.createConnection('alice');
    // Bob signs in at the bank's dialog with his own bank user.
    const step = await api.authorize(created.auth_link, { username: 'john7', password: 'doe7' });
    const callback = await api.deliverCallback(step);
    expect(callback.status).toBe(302);
    const landing = new URL(callback.headers.get('location')!);
    expect(landing.searchParams.get('status')).toBe('authorized');
    const completionCode = landing.searchParams.get('completion_code')!;
    const id = created.connection_id;

    // Before any completion, nothing reads through it: 409 connection_not_confirmed.
    for (const path of ['accounts', 'info', 'me', 'cards']) {
      const read = await api.call('GET', `/connections/${id}/${path}`, { sub: 'alice' });
      expect(read.status, path).toBe(409);
      expect(read.body.code).toBe('connection_not_confirmed');
    }
    const dataCallsBefore = Object.entries((await api.simStats()).data).filter(([path]) => path !== '/data/v1/me');
    expect(dataCallsBefore).toEqual([]);

    // Bob's browser landed on alice's app, where bob is signed in as himself: his completion is 404 …
    const deletesBefore = (await api.simStats()).delete;
    const attempt = await api.complete('bob', id, completionCode);
    expect(attempt.status).toBe(404);
    expect(attempt.body.code).toBe('not_found');

    // … and the connection is revoked at TrueLayer, its tokens erased, the reason recorded.
    expect((await api.simStats()).delete).toBe(deletesBefore + 1);
    const stored = await item(id);
    expect(stored).toMatchObject({ status: 'inactive', status_reason: 'owner_mismatch' });
    expect(stored?.tokens).toBeUndefined();
    expect(logLines('connection revoked')).toContainEqual(expect.objectContaining({ connection_id: id, status_reason: 'owner_mismatch' }));

    // Alice can neither complete it nor read through it.
    const late = await api.complete('alice', id, completionCode);
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('connection_inactive');
    const read = await api.call('GET', `/connections/${id}/accounts`, { sub: 'alice' });
    expect(read.status).toBe(409);
    expect(read.body.code).toBe('connection_inactive');
    expect((await api.call('GET', `/connections/${id}`, { sub: 'alice' })).body).toMatchObject({
      status: 'inactive',
      status_reason: 'owner_mismatch',
    });
  });

  it('answers a foreign user with a wrong code 404 and changes nothing', async () => {
    const { connectionId } = await api.connectAuthorized('amy', { complete: false });
    const before = await item(connectionId);
    const attempt = await api.complete('mallory', connectionId, 'A'.repeat(43));
    expect(attempt.status).toBe(404);
    expect(await item(connectionId)).toEqual(before);
  });
});

describe('POST /connections/{id}/complete by the owner', () => {
  it('makes the connection active with the right code, and the data readable', async () => {
    const { connectionId, completionCode } = await api.connectAuthorized('carol', { complete: false });
    const completed = await api.complete('carol', connectionId, completionCode!);
    expect(completed.status).toBe(200);
    expect(completed.body).toMatchObject({
      connection_id: connectionId,
      status: 'active',
      provider: { provider_id: 'mock' },
      consent_expires_at: expect.any(String),
    });
    expect(completed.body.completion_expires_at).toBeUndefined();
    const stored = await item(connectionId);
    expect(stored?.completion_code_hash).toBeUndefined();
    expect(stored?.[tableDefinition.ttlAttribute]).toBeUndefined();
    expect((await api.call('GET', `/connections/${connectionId}/accounts`, { sub: 'carol' })).status).toBe(200);
  });

  it('takes a code once: the same code again is 400 invalid_completion_code', async () => {
    const { connectionId, completionCode } = await api.connectAuthorized('dora');
    const again = await api.complete('dora', connectionId, completionCode!);
    expect(again.status).toBe(400);
    expect(again.body.code).toBe('invalid_completion_code');
    expect((await item(connectionId))?.status).toBe('active');
  });

  it('answers a wrong code 400 invalid_completion_code with the tries left, and the right one still works', async () => {
    const { connectionId, completionCode } = await api.connectAuthorized('erin', { complete: false });
    const wrong = await api.complete('erin', connectionId, 'B'.repeat(43));
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatchObject({ code: 'invalid_completion_code', tries_left: 4 });
    expect((await api.complete('erin', connectionId, completionCode!)).status).toBe(200);
  });

  it('revokes the connection at the fifth wrong code (completion_failed)', async () => {
    const { connectionId, completionCode } = await api.connectAuthorized('fred', { complete: false });
    const deletesBefore = (await api.simStats()).delete;
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      const wrong = await api.complete('fred', connectionId, `wrong-${attempt}`);
      expect(wrong.body).toMatchObject({ code: 'invalid_completion_code', tries_left: 5 - attempt });
    }
    expect((await item(connectionId))?.status).toBe('authorized');
    const fifth = await api.complete('fred', connectionId, 'wrong-5');
    expect(fifth.status).toBe(400);
    expect(fifth.body).toMatchObject({ code: 'invalid_completion_code', status_reason: 'completion_failed' });
    expect((await api.simStats()).delete).toBe(deletesBefore + 1);
    const stored = await item(connectionId);
    expect(stored).toMatchObject({ status: 'inactive', status_reason: 'completion_failed' });
    expect(stored?.tokens).toBeUndefined();
    // Even the right code is too late now.
    expect((await api.complete('fred', connectionId, completionCode!)).body.code).toBe('connection_inactive');
  });

  it('refuses a body without a completion_code (400 validation_error), counting no try', async () => {
    const { connectionId } = await api.connectAuthorized('gina', { complete: false });
    const response = await api.call('POST', `/connections/${connectionId}/complete`, { sub: 'gina', body: { code: 'x' } });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'validation_error', detail: expect.stringMatching(/completion_code/) });
    expect((await item(connectionId))?.completion_tries).toBe(0);
  });

  it('answers 409 connection_not_ready before the bank has been visited', async () => {
    const created = await api.createConnection('hank');
    const response = await api.complete('hank', created.connection_id, 'C'.repeat(43));
    expect(response.status).toBe(409);
    expect(response.body.code).toBe('connection_not_ready');
  });
});

describe('a completion not made within 10 minutes', () => {
  it('reads inactive (not_confirmed) and is revoked at TrueLayer when next read', async () => {
    const { connectionId, completionCode } = await api.connectAuthorized('ivan', { complete: false });
    const deletesBefore = (await api.simStats()).delete;
    api.advance(10 * 60 + 1);
    const view = await api.call('GET', `/connections/${connectionId}`, { sub: 'ivan' });
    expect(view.body).toMatchObject({ status: 'inactive', status_reason: 'not_confirmed' });
    expect((await api.simStats()).delete).toBe(deletesBefore + 1);
    expect((await item(connectionId))?.tokens).toBeUndefined();
    expect(logLines('connection revoked')).toContainEqual(
      expect.objectContaining({ connection_id: connectionId, status_reason: 'not_confirmed' }),
    );
    const late = await api.complete('ivan', connectionId, completionCode!);
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ code: 'connection_inactive', status_reason: 'not_confirmed' });
  });

  it('is revoked when the list shows it', async () => {
    const { connectionId } = await api.connectAuthorized('jane', { complete: false });
    api.advance(10 * 60 + 1);
    const list = await api.call('GET', '/connections', { sub: 'jane' });
    expect(list.body.connections).toEqual([
      expect.objectContaining({ connection_id: connectionId, status: 'inactive', status_reason: 'not_confirmed' }),
    ]);
    expect(await item(connectionId)).toMatchObject({ status: 'inactive', status_reason: 'not_confirmed' });
  });

  it('is revoked when the owner tries to complete it late', async () => {
    const { connectionId, completionCode } = await api.connectAuthorized('kate', { complete: false });
    api.advance(10 * 60 + 1);
    const late = await api.complete('kate', connectionId, completionCode!);
    expect(late.body).toMatchObject({ code: 'connection_inactive', status_reason: 'not_confirmed' });
    expect(await item(connectionId)).toMatchObject({ status: 'inactive', status_reason: 'not_confirmed' });
  });
});

describe('PKCE on every auth link', () => {
  it('sends an S256 challenge and keeps the verifier sealed with the state', async () => {
    const created = await api.createConnection('liam');
    const link = new URL(created.auth_link);
    expect(link.searchParams.get('code_challenge_method')).toBe('S256');
    expect(link.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const state = link.searchParams.get('state')!;
    const stateItem = (
      await doc.send(
        new GetCommand({
          TableName: api.stack.tableName,
          Key: { pk: `state#${createHash('sha256').update(state).digest('hex')}` },
          ConsistentRead: true,
        }),
      )
    ).Item;
    // Sealed under the raw state (stored nowhere): it opens with the state and row into the verifier
    // behind the challenge, and not with any other state.
    const sealed = String(stateItem?.code_verifier);
    const row = { connectionId: created.connection_id, owner: 'liam' };
    const verifier = openVerifier(state, row, sealed);
    expect(sealed).not.toContain(verifier);
    expect(codeChallengeS256(verifier)).toBe(link.searchParams.get('code_challenge'));
    expect(() => openVerifier(newState(), row, sealed)).toThrow();
    expect(() => openVerifier(state, { ...row, owner: 'mallory' }, sealed)).toThrow();
    expect(stateItem?.[tableDefinition.ttlAttribute]).toBe(Math.ceil(Date.parse(created.auth_link_expires_at) / 1000));
  });
});

describe('return_url hygiene', () => {
  it('drops connection_id, status, error and completion_code already in the return_url, keeping the rest', async () => {
    const returnUrl = `${api.stack.apiUrl}/app?keep=1&status=active&completion_code=planted&connection_id=other&error=none`;
    const created = await api.createConnection('mona', { return_url: returnUrl });
    const callback = await api.deliverCallback(await api.authorize(created.auth_link));
    const target = new URL(callback.headers.get('location')!);
    expect([...target.searchParams.keys()].sort()).toEqual(['completion_code', 'connection_id', 'keep', 'status']);
    expect(target.searchParams.getAll('status')).toEqual(['authorized']);
    expect(target.searchParams.getAll('connection_id')).toEqual([created.connection_id]);
    expect(target.searchParams.get('completion_code')).not.toBe('planted');
  });
});

describe('at most 10 connections waiting per user', () => {
  it('refuses the 11th with 409 too_many_pending_connections, and frees a slot on completion', async () => {
    for (let n = 0; n < 9; n += 1) await api.createConnection('nina');
    const { connectionId, completionCode } = await api.connectAuthorized('nina', { complete: false });
    const eleventh = await api.call('POST', '/connections', { sub: 'nina', body: {} });
    expect(eleventh.status).toBe(409);
    expect(eleventh.body).toMatchObject({ code: 'too_many_pending_connections', detail: expect.stringMatching(/10/) });
    // Another user is not affected.
    expect((await api.call('POST', '/connections', { sub: 'oscar', body: {} })).status).toBe(201);
    expect((await api.complete('nina', connectionId, completionCode!)).status).toBe(200);
    expect((await api.call('POST', '/connections', { sub: 'nina', body: {} })).status).toBe(201);
  });

  it('holds exactly under concurrency: of 15 creations at once, 10 succeed', async () => {
    const answers = await Promise.all(Array.from({ length: 15 }, () => api.call('POST', '/connections', { sub: 'pat', body: {} })));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(10);
    expect(answers.filter((a) => a.status !== 201).map((a) => a.body.code)).toEqual(Array(5).fill('too_many_pending_connections'));
  });

  it('lets lapsed links go: after 10 minutes the user can create again', async () => {
    for (let n = 0; n < 10; n += 1) await api.createConnection('quinn');
    expect((await api.call('POST', '/connections', { sub: 'quinn', body: {} })).status).toBe(409);
    api.advance(10 * 60 + 1);
    expect((await api.call('POST', '/connections', { sub: 'quinn', body: {} })).status).toBe(201);
    const slots = (
      await doc.send(new GetCommand({ TableName: api.stack.tableName, Key: { pk: pendingKey('quinn') }, ConsistentRead: true }))
    ).Item;
    expect(Object.keys(slots?.slots ?? {})).toHaveLength(1);
  });
});

describe('GET /connections, paged', () => {
  it('pages newest first with limit and next_cursor until none remain', async () => {
    const ids: string[] = [];
    for (let n = 0; n < 7; n += 1) {
      ids.unshift((await api.createConnection('rita')).connection_id);
      api.advance(1);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await api.call('GET', `/connections?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { sub: 'rita' });
      expect(page.status).toBe(200);
      expect(page.body.connections.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.connections.map((c: { connection_id: string }) => c.connection_id));
      cursor = page.body.next_cursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(seen).toEqual(ids);
    expect(pages).toBe(3);
  });

  it('defaults to 50 and refuses a limit outside 1–100', async () => {
    expect((await api.call('GET', '/connections', { sub: 'rita' })).body.next_cursor).toBeUndefined();
    for (const limit of ['0', '101', 'ten', '-1', '1.5']) {
      const response = await api.call('GET', `/connections?limit=${limit}`, { sub: 'rita' });
      expect(response.status, limit).toBe(400);
      expect(response.body).toMatchObject({ code: 'validation_error', detail: expect.stringMatching(/1 to 100/) });
    }
  });

  it("refuses a tampered cursor and another user's cursor with 400 invalid_cursor", async () => {
    for (let n = 0; n < 2; n += 1) await api.createConnection('sam');
    const first = await api.call('GET', '/connections?limit=1', { sub: 'sam' });
    const cursor: string = first.body.next_cursor;
    expect(cursor).toEqual(expect.any(String));
    const last = cursor.at(-2) === 'A' ? 'B' : 'A';
    const tampered = `${cursor.slice(0, -2)}${last}${cursor.at(-1)}`;
    for (const [sub, value] of [
      ['sam', tampered],
      ['tess', cursor],
      ['sam', 'not-a-cursor'],
      ['sam', 'x'.repeat(3000)],
    ] as const) {
      const response = await api.call('GET', `/connections?limit=1&cursor=${encodeURIComponent(value)}`, { sub });
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('invalid_cursor');
    }
    expect((await api.call('GET', `/connections?limit=1&cursor=${encodeURIComponent(cursor)}`, { sub: 'sam' })).status).toBe(200);
  });
});

describe('rows do not pile up', () => {
  const day = 86_400;

  it('a waiting connection carries a ttl 30 days past its deadline; an active one none; a deleted one 30 days from its end', async () => {
    const created = await api.createConnection('uma');
    expect((await item(created.connection_id))?.[tableDefinition.ttlAttribute]).toBe(
      Math.ceil(Date.parse(created.auth_link_expires_at) / 1000) + 30 * day,
    );
    const { connectionId } = await api.connectAuthorized('uma', { complete: false });
    const authorized = await item(connectionId);
    expect(authorized?.[tableDefinition.ttlAttribute]).toBe(
      Math.ceil(Date.parse(String(authorized?.completion_expires_at)) / 1000) + 30 * day,
    );
    const completed = await api.connect('uma');
    expect((await item(completed))?.[tableDefinition.ttlAttribute]).toBeUndefined();
    expect((await api.call('DELETE', `/connections/${completed}`, { sub: 'uma' })).status).toBe(204);
    const ttl = Number((await item(completed))?.[tableDefinition.ttlAttribute]);
    expect(Math.abs(ttl - (Math.ceil(api.stack.clock.now() / 1000) + 30 * day))).toBeLessThan(60);
  });

  it('the owner index holds what a list shows and never the token blob', async () => {
    const id = await api.connect('vera');
    const out = await doc.send(
      new QueryCommand({
        TableName: api.stack.tableName,
        IndexName: tableDefinition.ownerIndex.name,
        KeyConditionExpression: '#o = :o',
        ExpressionAttributeNames: { '#o': tableDefinition.ownerIndex.partitionKey.name },
        ExpressionAttributeValues: { ':o': 'vera' },
      }),
    );
    const row = out.Items?.find((i) => i.connection_id === id);
    expect(row).toMatchObject({ status: 'active', scopes: expect.any(Array) });
    expect(row?.tokens).toBeUndefined();
    expect(row?.refresh_count).toBeUndefined();
    expect((await item(id))?.tokens).toMatch(/^v1\./);
  });
});
