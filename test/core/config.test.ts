import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config';
import { ConfigError } from '../../shared/errors';

const key = Buffer.alloc(32, 3).toString('base64');

describe('configuration', () => {
  it("defaults to the local environment with the simulator's client", () => {
    const config = loadConfig({ LOCAL_TOKEN_KEY: key });
    expect(config).toMatchObject({
      truelayerEnv: 'local',
      authUrl: 'http://127.0.0.1:3100',
      credentials: { clientId: 'sandbox-local', clientSecret: 'local-secret' },
      truelayerTimeoutMs: 8000,
      truelayerTokenTimeoutMs: 50_000,
      apiGatewayTimeoutMs: 29_000,
      tokenRefreshAheadMs: 300_000,
      allowedReturnUrls: [],
    });
  });

  it("gives token calls a deadline past API Gateway's 29 s, and the refresh lease one past that", () => {
    const config = loadConfig({ LOCAL_TOKEN_KEY: key });
    expect(config.truelayerTokenTimeoutMs).toBeGreaterThan(config.apiGatewayTimeoutMs);
    expect(config.refreshLeaseMs).toBeGreaterThan(config.truelayerTokenTimeoutMs);
    const scaled = loadConfig({
      LOCAL_TOKEN_KEY: key,
      TRUELAYER_TOKEN_TIMEOUT_MS: '5000',
      API_GATEWAY_TIMEOUT_MS: '2900',
      TOKEN_REFRESH_AHEAD_MS: '0',
    });
    expect(scaled).toMatchObject({ truelayerTokenTimeoutMs: 5000, apiGatewayTimeoutMs: 2900, tokenRefreshAheadMs: 0 });
    expect(scaled.refreshLeaseMs).toBeGreaterThan(5000);
  });

  it("picks TrueLayer's hosts and providers by TRUELAYER_ENV, and honours overrides", () => {
    const sandbox = loadConfig({ TRUELAYER_ENV: 'sandbox', TRUELAYER_SECRET_ID: 's', TOKEN_KMS_KEY_ID: 'k' });
    expect(sandbox).toMatchObject({
      authUrl: 'https://auth.truelayer-sandbox.com',
      apiUrl: 'https://api.truelayer-sandbox.com',
      credentials: { secretId: 's' },
      tokenKey: { kmsKeyId: 'k' },
    });
    expect(sandbox.providers).toContain('uk-cs-mock');
    const live = loadConfig({
      TRUELAYER_ENV: 'live',
      TRUELAYER_SECRET_ID: 's',
      TOKEN_KMS_KEY_ID: 'k',
      TRUELAYER_API_URL: 'https://proxy.example/',
    });
    expect(live).toMatchObject({
      authUrl: 'https://auth.truelayer.com',
      apiUrl: 'https://proxy.example',
      providers: 'uk-ob-all uk-oauth-all',
    });
  });

  it('splits comma lists and drops blanks', () => {
    expect(
      loadConfig({ LOCAL_TOKEN_KEY: key, ALLOWED_RETURN_URLS: ' https://a.example/x/ , ,https://b.example/' }).allowedReturnUrls,
    ).toEqual(['https://a.example/x/', 'https://b.example/']);
  });

  it('allows 4 unattended calls a day by default, or what UNATTENDED_DAILY_LIMIT says (0: none)', () => {
    expect(loadConfig({ LOCAL_TOKEN_KEY: key }).unattendedDailyLimit).toBe(4);
    expect(loadConfig({ LOCAL_TOKEN_KEY: key, UNATTENDED_DAILY_LIMIT: '0' }).unattendedDailyLimit).toBe(0);
  });

  it("reads secrets from the Parameters and Secrets extension's port: 2773, or what the layer sets", () => {
    expect(loadConfig({ LOCAL_TOKEN_KEY: key }).secretsExtensionPort).toBe(2773);
    expect(loadConfig({ LOCAL_TOKEN_KEY: key, PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: '2999' }).secretsExtensionPort).toBe(2999);
  });

  it.each([
    [{ LOCAL_TOKEN_KEY: key, PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: '70000' }, /PARAMETERS_SECRETS_EXTENSION_HTTP_PORT/],
    [{ LOCAL_TOKEN_KEY: key, PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: 'http' }, /PARAMETERS_SECRETS_EXTENSION_HTTP_PORT/],
    [{ LOCAL_TOKEN_KEY: key, UNATTENDED_DAILY_LIMIT: '-1' }, /UNATTENDED_DAILY_LIMIT/],
    [{ LOCAL_TOKEN_KEY: key, UNATTENDED_DAILY_LIMIT: 'four' }, /UNATTENDED_DAILY_LIMIT/],
    [{ TRUELAYER_ENV: 'live', TOKEN_KMS_KEY_ID: 'k' }, /TRUELAYER_SECRET_ID/],
    [{ TRUELAYER_ENV: 'sandbox', TRUELAYER_SECRET_ID: 's' }, /TOKEN_KMS_KEY_ID/],
    [{ LOCAL_TOKEN_KEY: 'c2hvcnQ=' }, /LOCAL_TOKEN_KEY: must be base64 of exactly 32 bytes/],
    [{ LOCAL_TOKEN_KEY: key, TRUELAYER_ENV: 'prod' }, /TRUELAYER_ENV/],
    [{ LOCAL_TOKEN_KEY: key, TRUELAYER_TIMEOUT_MS: 'soon' }, /TRUELAYER_TIMEOUT_MS/],
    [{ LOCAL_TOKEN_KEY: key, CALLBACK_URL: 'ftp://x/callback' }, /CALLBACK_URL/],
  ])('fails with one line naming what to set: %o', (env, message) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });
});
