/** The composition root's per-function wiring: adapters follow capabilities, a missing one fails loudly. */
import { describe, expect, it } from 'vitest';
import type { FunctionName } from '../../functions/routes';
import { functionSpecs } from '../../functions/routes';
import { systemClock } from '../../shared/clock';
import { buildDependencies, checkAdapters } from '../../shared/composition';
import { loadConfig } from '../../shared/config';
import { LocalDataKeyProvider } from '../../shared/crypto/data-keys';
import { TokenEncryptionError } from '../../shared/crypto/errors';
import { TokenCipher } from '../../shared/crypto/token-cipher';
import type { EventPublisher } from '../../shared/lifecycle/publishers';

const kms = () => new LocalDataKeyProvider(new Uint8Array(32));
const eventBus = (): EventPublisher => ({ publish: async () => undefined });
const row = { connectionId: 'c-1', owner: 'alice' };

describe('checkAdapters', () => {
  it('accepts each function with the adapters its capabilities need', () => {
    const given: Record<FunctionName, Parameters<typeof checkAdapters>[1]> = {
      authLink: {},
      callback: { kms },
      data: { kms, eventBus },
      connections: { kms, eventBus },
      openapi: {},
      providers: {},
      lifecycle: { kms, eventBus },
    };
    for (const name of Object.keys(functionSpecs) as FunctionName[]) expect(() => checkAdapters(name, given[name])).not.toThrow();
  });

  it('refuses a function whose capabilities need an adapter it was not given', () => {
    expect(() => checkAdapters('callback', {})).toThrow(/callback holds a capability that needs the kms adapter/);
    expect(() => checkAdapters('data', { kms })).toThrow(/needs the eventBus adapter/);
  });

  it('refuses an adapter its role may not call', () => {
    expect(() => checkAdapters('authLink', { kms })).toThrow(/authLink was given the kms adapter/);
    expect(() => checkAdapters('callback', { kms, eventBus })).toThrow(/callback was given the eventBus adapter/);
  });
});

describe('buildDependencies', () => {
  const base = { LOCAL_TOKEN_KEY: Buffer.alloc(32, 1).toString('base64'), AWS_REGION: 'eu-west-2', TABLE_NAME: 't' };

  it('seals with the KMS adapter when a key id is configured', async () => {
    const keys = new LocalDataKeyProvider(new Uint8Array(32).fill(7));
    let asked: { keyId: string; region: string } | undefined;
    const deps = buildDependencies(loadConfig({ ...base, TOKEN_KMS_KEY_ID: 'alias/tokens' }), {
      kms: (options) => {
        asked = options;
        return keys;
      },
    });
    expect(asked).toEqual({ keyId: 'alias/tokens', region: 'eu-west-2' });
    const sealed = await deps.services.cipher.encrypt('secret', row);
    // Only that key provider opens it.
    expect(await new TokenCipher({ keys, clock: systemClock }).decrypt(sealed, row)).toBe('secret');
  });

  it('a function without the token key refuses to seal rather than reaching KMS', async () => {
    const deps = buildDependencies(loadConfig({ ...base, TOKEN_KMS_KEY_ID: 'alias/tokens' }), {});
    const refused = await deps.services.cipher.encrypt('secret', row).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TokenEncryptionError);
    expect(String((refused as Error).cause)).toMatch(/holds no token key/);
  });

  it('refuses a bus name for a function that may not publish', () => {
    expect(() => buildDependencies(loadConfig({ ...base, EVENT_BUS_NAME: 'bus' }), {})).toThrow(/EVENT_BUS_NAME/);
    expect(() => buildDependencies(loadConfig({ ...base, EVENT_BUS_NAME: 'bus' }), { eventBus })).not.toThrow();
  });
});
