/**
 * The bundles as Lambda runs them: a fresh Node process imports the minified ESM bundle and invokes
 * its handler against the local stack. Proves the bundled credentials shim reads the environment,
 * as Lambda provides it, and that nothing in the bundle needs the repository at run time.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BundleResult, bundleFunction } from '../../infra/bundle';
import { TestApi } from '../support/flow';

const run = promisify(execFile);
let api: TestApi;
let bundle: BundleResult;

beforeAll(async () => {
  api = await TestApi.start();
  bundle = await bundleFunction('connections', { keep: true });
});
afterAll(async () => {
  await api.close();
  if (bundle.outdir) await rm(bundle.outdir, { recursive: true, force: true });
});

const invoke = async (env: Record<string, string | undefined>) => {
  const event = {
    version: '2.0',
    routeKey: 'GET /connections',
    rawPath: '/connections',
    rawQueryString: '',
    headers: { host: 'example.execute-api.eu-west-2.amazonaws.com' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'example',
      domainName: 'example.execute-api.eu-west-2.amazonaws.com',
      domainPrefix: 'example',
      http: { method: 'GET', path: '/connections', protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'test' },
      requestId: 'bundle-test',
      routeKey: 'GET /connections',
      stage: '$default',
      time: '28/Nov/2026:12:00:00 +0000',
      timeEpoch: 0,
      authorizer: { jwt: { claims: { sub: 'bundle-user' }, scopes: null } },
    },
    isBase64Encoded: false,
  };
  const script = `
    const { handler } = await import(${JSON.stringify(join(bundle.outdir!, 'index.mjs'))});
    const context = { awsRequestId: 'r', functionName: 'f', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:eu-west-2:123456789012:function:f', memoryLimitInMB: '256', logGroupName: 'g', logStreamName: 's', getRemainingTimeInMillis: () => 29000, callbackWaitsForEmptyEventLoop: true };
    const result = await handler(${JSON.stringify(event)}, context);
    process.stdout.write('RESULT ' + JSON.stringify(result) + '\\n');
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: bundle.outdir,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'ERROR', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
  });
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  return JSON.parse(line!.slice('RESULT '.length)) as { statusCode: number; body: string };
};

const baseEnv = () => ({
  TRUELAYER_ENV: 'local',
  TABLE_NAME: api.stack.tableName,
  DYNAMODB_ENDPOINT: api.stack.dynamoEndpoint,
  LOCAL_TOKEN_KEY: Buffer.alloc(32, 1).toString('base64'),
  AWS_REGION: 'eu-west-2',
});

describe('a bundled function in a fresh process', () => {
  it('answers with credentials from the environment, as Lambda provides them', async () => {
    await api.connect('bundle-user');
    const result = await invoke({
      ...baseEnv(),
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_SESSION_TOKEN: 'session',
    });
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body).connections).toHaveLength(1);
  });

  it('answers a clear 503 problem when the environment has no credentials (it never looks elsewhere)', async () => {
    const result = await invoke({ ...baseEnv(), HOME: '/nonexistent' });
    expect(result.statusCode).toBe(503);
    expect(JSON.parse(result.body).code).toBe('service_unavailable');
  });
});
