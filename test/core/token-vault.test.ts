/**
 * The refresh lease against the embedded DynamoDB over real HTTP, with the real cipher. TrueLayer's
 * refresh is a scripted function here so the tests can hold it open, fail it, or count it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDynamo, startDynamo } from '../../local/dynamo';
import { AdjustableClock, isoAt } from '../../shared/clock';
import type { ConnectionRecord } from '../../shared/connections/connection';
import { ConnectionRepository } from '../../shared/connections/repository';
import { TokenVault } from '../../shared/connections/token-vault';
import { LocalDataKeyProvider } from '../../shared/crypto/data-keys';
import { TokenCipher } from '../../shared/crypto/token-cipher';
import { ConnectionInactiveError } from '../../shared/errors';
import type { TokenSet } from '../../shared/truelayer/auth-client';
import { TrueLayerError } from '../../shared/truelayer/errors';

let dynamo: RunningDynamo;
let repository: ConnectionRepository;
const clock = new AdjustableClock();
const cipher = new TokenCipher({ keys: new LocalDataKeyProvider(new Uint8Array(32).fill(7)), clock });

beforeAll(async () => {
  dynamo = await startDynamo({ port: 0, tableName: 'vault-test' });
  repository = new ConnectionRepository({ client: dynamo.client(), tableName: 'vault-test' });
});
afterAll(async () => dynamo.close());

/** A TrueLayer stand-in with rotation: each refresh revokes the refresh token it was given. */
const rotatingRefresher = () => {
  let generation = 0;
  let live = 'rt-0';
  const calls: string[] = [];
  return {
    calls,
    get live() {
      return live;
    },
    refresh: async (refreshToken: string): Promise<TokenSet> => {
      calls.push(refreshToken);
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (refreshToken !== live) throw new TrueLayerError({ operation: 'token', status: 400, code: 'invalid_grant', kind: 'rejected' });
      generation += 1;
      live = `rt-${generation}`;
      return { accessToken: `at-${generation}`, refreshToken: live, expiresAt: clock.now() + 3_600_000, scopes: [] };
    },
  };
};

const seed = async (vault: TokenVault, over: Partial<ConnectionRecord> = {}): Promise<ConnectionRecord> => {
  const now = clock.now();
  const base: ConnectionRecord = {
    connectionId: randomUUID(),
    owner: 'alice',
    status: 'active',
    scopes: ['accounts', 'offline_access'],
    providers: 'uk-cs-mock',
    responseMode: 'query',
    redirectUri: 'http://127.0.0.1:3000/callback',
    createdAt: isoAt(now),
    updatedAt: isoAt(now),
    authLinkExpiresAt: isoAt(now + 600_000),
    consentExpiresAt: isoAt(now + 90 * 86_400_000),
    refreshCount: 0,
    version: 0,
    accessTokenExpiresAt: now - 1_000,
    ...over,
  };
  base.tokens = await vault.seal(base, { access_token: 'at-0', refresh_token: 'rt-0' });
  await repository.create(base);
  return base;
};

describe('token vault', () => {
  it('hands out the stored access token while it is valid, without refreshing', async () => {
    const tl = rotatingRefresher();
    const vault = new TokenVault({ repository, cipher, auth: tl, clock });
    const record = await seed(vault, { accessTokenExpiresAt: clock.now() + 3_600_000 });
    expect((await vault.freshAccessToken(record)).accessToken).toBe('at-0');
    expect(tl.calls).toHaveLength(0);
  });

  it('refreshes exactly once when 30 requests find the token expired at once, and stores the newest pair', async () => {
    const tl = rotatingRefresher();
    const vault = new TokenVault({ repository, cipher, auth: tl, clock, waitStepMs: 10 });
    const record = await seed(vault);
    const results = await Promise.all(Array.from({ length: 30 }, () => vault.freshAccessToken(record)));
    expect(tl.calls).toEqual(['rt-0']);
    expect(new Set(results.map((r) => r.accessToken))).toEqual(new Set(['at-1']));
    const stored = await repository.get(record.connectionId);
    expect(await vault.open(stored!)).toEqual({ access_token: 'at-1', refresh_token: 'rt-1' });
    expect(stored).toMatchObject({ version: 1, refreshCount: 1, leaseHolder: undefined });
  });

  it("lets the next request refresh once a crashed holder's lease expires, losing nothing", async () => {
    const tl = rotatingRefresher();
    const vault = new TokenVault({ repository, cipher, auth: tl, clock, waitStepMs: 10, leaseMs: 5_000 });
    const record = await seed(vault);
    // A holder that took the lease and died.
    expect(await repository.acquireLease(record.connectionId, 0, 'dead-holder', clock.now(), 200)).toBe(true);
    const fresh = await vault.freshAccessToken(record);
    expect(fresh.accessToken).toBe('at-1');
    expect(tl.calls).toEqual(['rt-0']);
    expect(await vault.open((await repository.get(record.connectionId))!)).toEqual({ access_token: 'at-1', refresh_token: 'rt-1' });
  });

  it('marks the connection inactive (refresh_rejected) when TrueLayer answers invalid_grant', async () => {
    const vault = new TokenVault({
      repository,
      cipher,
      clock,
      auth: {
        refresh: async () => {
          throw new TrueLayerError({ operation: 'token', status: 400, code: 'invalid_grant', kind: 'rejected' });
        },
      },
    });
    const record = await seed(vault);
    await expect(vault.freshAccessToken(record)).rejects.toBeInstanceOf(ConnectionInactiveError);
    expect(await repository.get(record.connectionId)).toMatchObject({
      status: 'inactive',
      statusReason: 'refresh_rejected',
      statusDetail: 'invalid_grant',
    });
  });

  it('keeps the tokens and releases the lease when TrueLayer fails upstream', async () => {
    const vault = new TokenVault({
      repository,
      cipher,
      clock,
      auth: {
        refresh: async () => {
          throw new TrueLayerError({ operation: 'token', status: 503, code: 'provider_error', kind: 'upstream' });
        },
      },
    });
    const record = await seed(vault);
    await expect(vault.freshAccessToken(record)).rejects.toMatchObject({ status: 503, code: 'upstream_unavailable' });
    const stored = await repository.get(record.connectionId);
    expect(stored).toMatchObject({ status: 'active', version: 0, leaseHolder: undefined });
    expect(await vault.open(stored!)).toEqual({ access_token: 'at-0', refresh_token: 'rt-0' });
  });

  it('forces one refresh for a token TrueLayer refused, and reuses a refresh another request already made', async () => {
    const tl = rotatingRefresher();
    const vault = new TokenVault({ repository, cipher, auth: tl, clock, waitStepMs: 10 });
    const record = await seed(vault, { accessTokenExpiresAt: clock.now() + 3_600_000 });
    const first = await vault.freshAccessToken(record, { rejectedToken: 'at-0' });
    expect(first.accessToken).toBe('at-1');
    // A second request still holding the old record and the old token: no second refresh.
    const second = await vault.freshAccessToken(record, { rejectedToken: 'at-0' });
    expect(second.accessToken).toBe('at-1');
    expect(tl.calls).toEqual(['rt-0']);
  });

  it('does not let a refresh resurrect tokens erased by a revoke made while it ran', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const vault = new TokenVault({
      repository,
      cipher,
      clock,
      auth: {
        refresh: async () => {
          await gate;
          return { accessToken: 'at-x', refreshToken: 'rt-x', expiresAt: clock.now() + 3_600_000, scopes: [] };
        },
      },
    });
    const record = await seed(vault);
    const pending = vault.freshAccessToken(record);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await repository.transition(record, 'revoked', { now: clock.now(), newEventId: () => 'e1' });
    release();
    await expect(pending).rejects.toBeInstanceOf(ConnectionInactiveError);
    expect((await repository.get(record.connectionId))?.tokens).toBeUndefined();
  });

  it('records a refresh that was sent and never answered, keeps the tokens, and frees the lease', async () => {
    const vault = new TokenVault({
      repository,
      cipher,
      clock,
      auth: {
        refresh: async () => {
          throw new TrueLayerError({ operation: 'token', status: 0, code: 'timeout', kind: 'timeout', outcomeUnknown: true });
        },
      },
    });
    const record = await seed(vault);
    await expect(vault.freshAccessToken(record)).rejects.toMatchObject({ status: 504 });
    const stored = await repository.get(record.connectionId);
    expect(stored).toMatchObject({ status: 'active', version: 0, leaseHolder: undefined, refreshOutcomeUnknownAt: expect.any(String) });
    expect(await vault.open(stored!)).toEqual({ access_token: 'at-0', refresh_token: 'rt-0' });
  });

  it('after an unknown outcome, tries the stored token: accepted, it stores the new pair and clears the mark', async () => {
    const tl = rotatingRefresher();
    const vault = new TokenVault({ repository, cipher, auth: tl, clock });
    const record = await seed(vault, { refreshOutcomeUnknownAt: isoAt(clock.now() - 1_000) });
    expect((await vault.freshAccessToken(record)).accessToken).toBe('at-1');
    expect(tl.calls).toEqual(['rt-0']);
    const stored = await repository.get(record.connectionId);
    expect(stored).toMatchObject({ status: 'active', refreshOutcomeUnknownAt: undefined });
  });

  it('after an unknown outcome, a refused stored token marks the connection refresh_lost, not refresh_rejected', async () => {
    const vault = new TokenVault({
      repository,
      cipher,
      clock,
      auth: {
        refresh: async () => {
          throw new TrueLayerError({ operation: 'token', status: 400, code: 'invalid_grant', kind: 'rejected' });
        },
      },
    });
    const record = await seed(vault, { refreshOutcomeUnknownAt: isoAt(clock.now() - 1_000) });
    await expect(vault.freshAccessToken(record)).rejects.toMatchObject({ code: 'connection_inactive' });
    expect(await repository.get(record.connectionId)).toMatchObject({
      status: 'inactive',
      statusReason: 'refresh_lost',
      statusDetail: 'invalid_grant',
    });
  });

  it('retries the stored token at once after a reset, but only once', async () => {
    const calls: string[] = [];
    const vault = new TokenVault({
      repository,
      cipher,
      clock,
      tokenTimeoutMs: 1_000,
      auth: {
        refresh: async (refreshToken) => {
          calls.push(refreshToken);
          throw new TrueLayerError({ operation: 'token', status: 0, code: 'network_error', kind: 'network', outcomeUnknown: true });
        },
      },
    });
    const record = await seed(vault);
    await expect(vault.freshAccessToken(record)).rejects.toMatchObject({ status: 503 });
    expect(calls).toEqual(['rt-0', 'rt-0']);
    expect(await repository.get(record.connectionId)).toMatchObject({
      status: 'active',
      leaseHolder: undefined,
      refreshOutcomeUnknownAt: expect.any(String),
    });
  });

  it("a waiter past its answer-by gives up with 409 refresh_in_progress and a Retry-After, leaving the holder's lease alone", async () => {
    const vault = new TokenVault({ repository, cipher, clock, waitStepMs: 10, auth: rotatingRefresher() });
    const record = await seed(vault);
    expect(await repository.acquireLease(record.connectionId, 0, 'busy-holder', clock.now(), 60_000)).toBe(true);
    const error = await vault.freshAccessToken(record, { answerBy: Date.now() + 100 }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'refresh_in_progress', status: 409, headers: { 'retry-after': '5' } });
    expect(await repository.get(record.connectionId)).toMatchObject({ leaseHolder: 'busy-holder' });
  });

  it('refreshes ahead of expiry only inside its window, and never rejects', async () => {
    const tl = rotatingRefresher();
    const vault = new TokenVault({ repository, cipher, auth: tl, clock, refreshAheadMs: 300_000 });
    const far = await seed(vault, { accessTokenExpiresAt: clock.now() + 600_000 });
    expect(vault.refreshAhead(await vault.freshAccessToken(far))).toBeUndefined();
    const near = await seed(vault, { accessTokenExpiresAt: clock.now() + 120_000 });
    const fresh = await vault.freshAccessToken(near);
    expect(fresh.accessToken).toBe('at-0');
    await vault.refreshAhead(fresh);
    expect(tl.calls).toEqual(['rt-0']);
    expect(await vault.open((await repository.get(near.connectionId))!)).toEqual({ access_token: 'at-1', refresh_token: 'rt-1' });
    const failing = new TokenVault({
      repository,
      cipher,
      clock,
      refreshAheadMs: 300_000,
      auth: {
        refresh: async () => {
          throw new TrueLayerError({ operation: 'token', status: 500, code: 'internal_server_error', kind: 'upstream' });
        },
      },
    });
    const other = await seed(failing, { accessTokenExpiresAt: clock.now() + 120_000 });
    await expect(failing.refreshAhead(await failing.freshAccessToken(other))).resolves.toBeUndefined();
  });
});
