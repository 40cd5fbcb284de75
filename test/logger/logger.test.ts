import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger, REDACTED } from '../../shared/logger';

/**
 * Powertools writes through a `Console` bound to process.stdout / process.stderr (global console only
 * with POWERTOOLS_DEV), so the streams' write is what a test watches.
 */
const capture = () => {
  const lines: string[] = [];
  const record = (chunk: unknown): boolean => {
    lines.push(
      ...String(chunk)
        .split('\n')
        .filter((line) => line.trim().length > 0),
    );
    return true;
  };
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(record);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(record);
  return {
    lines,
    text: () => lines.join('\n'),
    items: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    restore: () => {
      stdout.mockRestore();
      stderr.mockRestore();
    },
  };
};

const jwt = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
const secrets = [
  'top-access-4711',
  'deep-refresh-0815',
  'array-secret-9999',
  'AUTHCODE4242',
  'STATEVALUE77',
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9',
  'c2lnbmF0dXJl',
];

const envKeys = ['POWERTOOLS_LOG_LEVEL', 'LOG_LEVEL', 'AWS_LAMBDA_LOG_LEVEL', 'POWERTOOLS_DEV', 'POWERTOOLS_SERVICE_NAME'] as const;
let savedEnv: Record<string, string | undefined>;
let output: ReturnType<typeof capture>;

beforeEach(() => {
  savedEnv = Object.fromEntries(envKeys.map((key) => [key, process.env[key]]));
  for (const key of envKeys) delete process.env[key];
  output = capture();
});

afterEach(() => {
  output.restore();
  for (const key of envKeys) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
});

describe('createLogger', () => {
  it('writes one JSON line per item with the service name', () => {
    createLogger().info('connection created', { connection_id: 'conn_1' });
    const [item] = output.items();
    expect(item).toMatchObject({ level: 'INFO', message: 'connection created', service: 'truelayer-connections', connection_id: 'conn_1' });
    expect(output.lines).toHaveLength(1);
  });

  it('lets no token, code, state or JWT through, and keeps everything else', () => {
    const logger = createLogger();
    logger.info(`callback hit https://api.example.com/callback?code=AUTHCODE4242&state=STATEVALUE77&lang=en`, {
      connection_id: 'conn_42',
      access_token: 'top-access-4711',
      result: { provider: 'ob-mock', tokens: { refresh_token: 'deep-refresh-0815', expires_in: 3600 } },
      attempts: [{ status: 200 }, { client_secret: 'array-secret-9999' }],
      auth_link: 'https://auth.truelayer.com/?response_type=code&client_id=acme&state=STATEVALUE77',
    });
    logger.error('exchange failed', new Error(`upstream refused token ${jwt}`));

    const text = output.text();
    for (const secret of secrets) expect(text).not.toContain(secret);
    const [info, error] = output.items();
    expect(info).toMatchObject({
      message: `callback hit https://api.example.com/callback?code=${REDACTED}&state=${REDACTED}&lang=en`,
      connection_id: 'conn_42',
      access_token: REDACTED,
      result: { provider: 'ob-mock', tokens: REDACTED },
      attempts: [{ status: 200 }, { client_secret: REDACTED }],
      auth_link: `https://auth.truelayer.com/?response_type=code&client_id=acme&state=${REDACTED}`,
    });
    expect(error).toMatchObject({
      level: 'ERROR',
      message: 'exchange failed',
      error: { name: 'Error', message: `upstream refused token ${REDACTED}` },
    });
    expect(String((error?.error as Record<string, unknown> | undefined)?.stack)).toContain('Error: upstream refused token [REDACTED]');
  });

  it('redacts errors nested in attributes, their causes and their own properties', () => {
    const cause = Object.assign(new Error('body: {"refresh_token":"deep-refresh-0815"}'), { code: 'ECONNRESET' });
    const failure = Object.assign(new Error('token endpoint failed', { cause }), {
      request: { headers: { Authorization: `Bearer ${jwt}` } },
    });
    createLogger().warn('refresh retry', { detail: { failure } });
    const text = output.text();
    for (const secret of secrets) expect(text).not.toContain(secret);
    const [item] = output.items();
    expect(item).toMatchObject({
      detail: {
        failure: {
          name: 'Error',
          message: 'token endpoint failed',
          cause: { code: 'ECONNRESET' },
          request: { headers: { Authorization: REDACTED } },
        },
      },
    });
  });

  it('redacts persistent and appended keys too', () => {
    const logger = createLogger({ persistentKeys: { client_secret: 'array-secret-9999', stage: 'test' } });
    logger.appendKeys({ cookie: 'session=deep-refresh-0815' });
    logger.info('hello');
    const [item] = output.items();
    expect(item).toMatchObject({ client_secret: REDACTED, stage: 'test', cookie: REDACTED });
  });

  it('keeps redacting in child loggers', () => {
    createLogger()
      .createChild({ persistentKeys: { component: 'vault' } })
      .info('stored', { refresh_token: 'deep-refresh-0815' });
    const [item] = output.items();
    expect(item).toMatchObject({ component: 'vault', refresh_token: REDACTED });
  });

  it('adds the Lambda request id once a handler adds the context', () => {
    const logger = createLogger();
    logger.addContext({
      functionName: 'callback',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:eu-west-2:111122223333:function:callback',
      memoryLimitInMB: '256',
      awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
      logGroupName: '/aws/lambda/callback',
      logStreamName: 'stream',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => 1000,
      done: () => {},
      fail: () => {},
      succeed: () => {},
    } as Context);
    logger.info('handled');
    expect(output.items()[0]).toMatchObject({ function_request_id: 'c6af9ac6-7b61-11e6-9a41-93e812345678', function_name: 'callback' });
  });

  it('takes its level from the environment', () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'WARN';
    const logger = createLogger();
    logger.info('not shown');
    logger.warn('shown');
    expect(output.items().map((item) => item.message)).toEqual(['shown']);
  });

  it('takes an explicit level and service name over the defaults', () => {
    const logger = createLogger({ logLevel: 'ERROR', serviceName: 'tlc-tests' });
    logger.warn('not shown');
    logger.error('shown');
    expect(output.items()).toEqual([expect.objectContaining({ message: 'shown', service: 'tlc-tests' })]);
  });
});
