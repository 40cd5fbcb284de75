/**
 * API Gateway's integration timeout: the client gets the gateway's own 503 when a function outlives
 * it, while the invocation runs on to the function's own timeout, as in AWS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LambdaHandler } from '../../local/api-gateway';
import type { FixtureGateway } from './helpers';
import { rawRequest, startFixtureGateway } from './helpers';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let fixture: FixtureGateway;
const finished: string[] = [];

beforeAll(async () => {
  const slow: LambdaHandler = async (event) => {
    await sleep(400);
    finished.push(event.requestContext.requestId);
    return { statusCode: 200, body: 'late' };
  };
  fixture = await startFixtureGateway({
    routes: [
      { method: 'GET', path: '/slow', function: 'slow', auth: 'none' },
      { method: 'GET', path: '/fast', function: 'fast', auth: 'none' },
    ],
    handlers: { slow, fast: async () => ({ statusCode: 200, body: 'fast' }) },
    integrationTimeoutMs: 150,
  });
});
afterAll(async () => fixture.close());

describe('integration timeout', () => {
  it('answers 503 {"message":"Service Unavailable"} when the function outlives it', async () => {
    const response = await rawRequest(`${fixture.url}/slow`);
    expect(response.status).toBe(503);
    expect(JSON.parse(response.body.toString())).toEqual({ message: 'Service Unavailable' });
    expect(response.headers['apigw-requestid']).toEqual(expect.any(String));
  });

  it('lets the invocation run on to its end after the gateway answered', async () => {
    const before = finished.length;
    expect((await rawRequest(`${fixture.url}/slow`)).status).toBe(503);
    expect(finished.length).toBe(before);
    for (let i = 0; i < 40 && finished.length === before; i += 1) await sleep(25);
    expect(finished.length).toBe(before + 1);
  });

  it('passes a function that answers in time through unchanged', async () => {
    const response = await rawRequest(`${fixture.url}/fast`);
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('fast');
  });

  it("gives the function its own timeout, not the gateway's, to count down from", async () => {
    await rawRequest(`${fixture.url}/fast`);
    const invocation = fixture.calls.fast?.at(-1);
    expect(invocation?.context.getRemainingTimeInMillis()).toBeGreaterThan(1_000);
  });
});
