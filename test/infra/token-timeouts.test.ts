/**
 * Token calls outlive the request that started them: every function that makes one (code exchange,
 * refresh, extend) has a Lambda timeout above API Gateway's, and above the token-call deadline, and
 * the refresh lease outlasts that deadline.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { apiGatewayTimeoutSeconds, functionSpecs, tokenCallingFunctions } from '../../functions/routes';
import { loadConfig, refreshLeaseMsFor } from '../../shared/config';
import { synth, type TemplateJson } from './helpers';

const defaults = loadConfig({ LOCAL_TOKEN_KEY: Buffer.alloc(32, 1).toString('base64') });
/** The most an HTTP API integration can ever wait, whatever it is configured to. */
const httpApiMaxIntegrationSeconds = 30;

let template: TemplateJson;

beforeAll(() => {
  template = synth({}, { bundle: false }).json;
});

const lambdaTimeouts = (): Map<string, number> => {
  const byDescription = new Map<string, number>();
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const { Description, Timeout } = resource.Properties as { Description?: string; Timeout?: number };
    if (Description && Timeout !== undefined) byDescription.set(Description, Timeout);
  }
  return byDescription;
};

describe('token-call timeouts', () => {
  it('the functions that make token calls are the callback, data, connections and lifecycle functions', () => {
    expect([...tokenCallingFunctions].sort()).toEqual(['callback', 'connections', 'data', 'lifecycle']);
  });

  it.each(tokenCallingFunctions)("%s: its Lambda timeout exceeds API Gateway's 29 s and the token-call deadline", (name) => {
    const spec = functionSpecs[name];
    expect(spec.timeoutSeconds).toBeGreaterThan(apiGatewayTimeoutSeconds);
    expect(spec.timeoutSeconds).toBeGreaterThan(httpApiMaxIntegrationSeconds);
    expect(spec.timeoutSeconds * 1000).toBeGreaterThan(defaults.truelayerTokenTimeoutMs);
  });

  it.each(tokenCallingFunctions)('%s: the synthesized function carries that timeout', (name) => {
    const spec = functionSpecs[name];
    expect(lambdaTimeouts().get(spec.description)).toBe(spec.timeoutSeconds);
  });

  it("the token-call deadline is past API Gateway's, and the refresh lease outlasts it", () => {
    expect(defaults.apiGatewayTimeoutMs).toBe(apiGatewayTimeoutSeconds * 1000);
    expect(defaults.truelayerTokenTimeoutMs).toBeGreaterThan(defaults.apiGatewayTimeoutMs);
    expect(defaults.refreshLeaseMs).toBe(refreshLeaseMsFor(defaults.truelayerTokenTimeoutMs));
    expect(defaults.refreshLeaseMs).toBeGreaterThan(defaults.truelayerTokenTimeoutMs);
  });

  it('no API integration waits longer than an HTTP API can', () => {
    for (const resource of Object.values(template.Resources)) {
      if (resource.Type !== 'AWS::ApiGatewayV2::Integration') continue;
      const timeout = (resource.Properties as { TimeoutInMillis?: number }).TimeoutInMillis;
      if (timeout !== undefined) expect(timeout).toBeLessThanOrEqual(httpApiMaxIntegrationSeconds * 1000);
    }
  });
});
