/**
 * The `-c samLocal=true` template and events/env.json: what `sam local invoke` needs short of
 * Docker. SAM only overrides variables the template declares, and finds code through asset metadata.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FunctionName } from '../../functions/routes';
import { functionSpecs } from '../../functions/routes';
import { functionLogicalId, samLocalEnvironment } from '../../infra/stack';
import { loadConfig } from '../../shared/config';
import type { Synthesized } from './helpers';
import { resourcesOfType, synth } from './helpers';

const functionNames = Object.keys(functionSpecs) as FunctionName[];
const envFile = JSON.parse(readFileSync(new URL('../../events/env.json', import.meta.url), 'utf8')) as Record<
  string,
  Record<string, string>
>;

let synthesized: Synthesized;
const declaredEnv = (name: FunctionName): Record<string, unknown> =>
  (synthesized.json.Resources[functionLogicalId(name)]?.Properties?.Environment as { Variables: Record<string, unknown> }).Variables;

beforeAll(() => {
  synthesized = synth({ samLocal: 'true' }, { bundle: false });
});

describe('sam local template', () => {
  it('cannot be deployed: a CloudFormation rule always fails', () => {
    const rule = synthesized.json.Rules?.SamLocalTemplateIsNotDeployable as { Assertions: { Assert: unknown }[] };
    expect(rule.Assertions[0]?.Assert).toEqual({ 'Fn::Equals': ['sam-local', 'deployable'] });
  });

  it.each(functionNames)('gives %s the local stack variables, with no AWS resource to resolve', (name) => {
    const env = declaredEnv(name);
    for (const [key, value] of Object.entries(samLocalEnvironment)) expect(env[key], key).toBe(value);
    for (const value of Object.values(env)) expect(typeof value).toBe('string');
    expect(env).not.toHaveProperty('TOKEN_KMS_KEY_ID');
    expect(env).not.toHaveProperty('TRUELAYER_SECRET_ID');
  });

  it.each(functionNames)('gives %s no Parameters and Secrets extension: no secret is read by id, so sam downloads no layer', (name) => {
    expect(synthesized.json.Resources[functionLogicalId(name)]?.Properties?.Layers).toBeUndefined();
    expect(declaredEnv(name)).not.toHaveProperty('PARAMETERS_SECRETS_EXTENSION_HTTP_PORT');
  });

  it.each(functionNames)('points sam at the bundled code of %s through asset metadata', (name) => {
    const metadata = synthesized.json.Resources[functionLogicalId(name)]?.Metadata ?? {};
    expect(metadata['aws:asset:property']).toBe('Code');
    expect(typeof metadata['aws:asset:path']).toBe('string');
  });

  it('fails with the config error that names LOCAL_TOKEN_KEY when no env file is given', () => {
    const env = Object.fromEntries(Object.entries(declaredEnv('data')).map(([key, value]) => [key, String(value)]));
    expect(() => loadConfig(env)).toThrow(/LOCAL_TOKEN_KEY: must be base64 of exactly 32 bytes/);
  });
});

describe('events/env.json', () => {
  it('is keyed by the function logical ids of the synthesized template', () => {
    const functionIds = resourcesOfType(synthesized.json, 'AWS::Lambda::Function').map(([id]) => id);
    expect(Object.keys(envFile).sort()).toEqual(functionIds.sort());
    expect(functionIds.sort()).toEqual(functionNames.map(functionLogicalId).sort());
  });

  it.each(functionNames)('sets only variables the template declares for %s (sam ignores the rest)', (name) => {
    const declared = Object.keys(declaredEnv(name));
    expect(Object.keys(envFile[functionLogicalId(name)] ?? {}).filter((key) => !declared.includes(key))).toEqual([]);
  });

  it.each(functionNames)('gives %s a valid local configuration: local key, local DynamoDB, the simulator', (name) => {
    const env = {
      ...Object.fromEntries(Object.entries(declaredEnv(name)).map(([key, value]) => [key, String(value)])),
      ...envFile[functionLogicalId(name)],
    };
    const config = loadConfig(env);
    expect(config.truelayerEnv).toBe('local');
    expect('localKey' in config.tokenKey).toBe(true);
    expect(config.credentials).toEqual({ clientId: 'sandbox-local', clientSecret: 'local-secret' });
    expect(config.dynamodbEndpoint).toBe('http://host.docker.internal:8000');
    expect(config.authUrl).toBe('http://host.docker.internal:3100');
    expect(config.callbackUrl).toBe('http://127.0.0.1:3000/callback');
  });
});
