/** Context → deployment options: defaults, parsing of `-c` strings and cdk.json values, one-line errors. */
import { describe, expect, it } from 'vitest';
import { DeployOptionsError, parseDeployOptions } from '../../infra/deploy-options';

describe('parseDeployOptions', () => {
  it('deploys to the sandbox with a Cognito pool, a created secret and sensible limits when given nothing', () => {
    expect(parseDeployOptions({})).toEqual({
      stackName: 'TrueLayerConnections',
      tags: { service: 'truelayer-connections', environment: 'dev', owner: 'platform' },
      truelayerEnv: 'sandbox',
      jwt: undefined,
      clientSecretArn: undefined,
      corsOrigins: [],
      allowedReturnUrls: [],
      callbackUrl: undefined,
      throttleRateLimit: 50,
      throttleBurstLimit: 100,
      callbackThrottleRateLimit: 10,
      callbackThrottleBurstLimit: 20,
      logRetentionDays: 30,
      logLevel: 'INFO',
      alarmEmail: undefined,
      latencyAlarmMs: 5000,
      metricsNamespace: 'TrueLayerConnections',
      deployment: 'canary',
      reservedConcurrency: {},
      jwtScopes: [],
      secretKmsKeyArn: undefined,
      domain: undefined,
      truelayerProviders: undefined,
      webhookUrl: undefined,
      truelayerTimeoutMs: undefined,
      sourceMaps: false,
      samLocal: false,
    });
  });

  it('reads -c strings: comma lists, numbers and booleans', () => {
    const options = parseDeployOptions({
      corsOrigins: 'https://app.example.com, https://admin.example.com',
      allowedReturnUrls: 'https://app.example.com/bank/',
      throttleRateLimit: '20',
      throttleBurstLimit: '40',
      logRetentionDays: '90',
      sourceMaps: 'true',
      logLevel: 'debug',
    });
    expect(options.corsOrigins).toEqual(['https://app.example.com', 'https://admin.example.com']);
    expect(options.allowedReturnUrls).toEqual(['https://app.example.com/bank/']);
    expect(options.throttleRateLimit).toBe(20);
    expect(options.throttleBurstLimit).toBe(40);
    expect(options.logRetentionDays).toBe(90);
    expect(options.sourceMaps).toBe(true);
    expect(options.logLevel).toBe('DEBUG');
  });

  it('reads cdk.json values: arrays, numbers and booleans', () => {
    const options = parseDeployOptions({
      corsOrigins: ['https://app.example.com'],
      throttleRateLimit: 10,
      throttleBurstLimit: 10,
      samLocal: true,
    });
    expect(options.corsOrigins).toEqual(['https://app.example.com']);
    expect(options.throttleRateLimit).toBe(10);
    expect(options.samLocal).toBe(true);
  });

  it('takes an OIDC issuer with its audiences instead of the Cognito pool', () => {
    expect(parseDeployOptions({ jwtIssuer: 'https://login.example.com/', jwtAudience: 'api-one,api-two' }).jwt).toEqual({
      issuer: 'https://login.example.com/',
      audience: ['api-one', 'api-two'],
    });
  });

  it('refuses an issuer without an audience, naming the key', () => {
    expect(() => parseDeployOptions({ jwtIssuer: 'https://login.example.com/' })).toThrow(
      /-c jwtIssuer: set jwtIssuer and jwtAudience together/,
    );
  });

  it('refuses an http issuer', () => {
    expect(() => parseDeployOptions({ jwtIssuer: 'http://login.example.com/', jwtAudience: 'x' })).toThrow(DeployOptionsError);
  });

  it('refuses a retention CloudWatch Logs does not offer', () => {
    expect(() => parseDeployOptions({ logRetentionDays: '31' })).toThrow(/-c logRetentionDays: one of 1, 3, 5/);
  });

  it('refuses the local TrueLayer environment: nothing deployed can reach it', () => {
    expect(() => parseDeployOptions({ truelayerEnv: 'local' })).toThrow(/-c truelayerEnv/);
  });

  it('refuses a return URL that is not an absolute URL', () => {
    expect(() => parseDeployOptions({ allowedReturnUrls: 'app.example.com/done' })).toThrow(
      /-c allowedReturnUrls: each entry must be an absolute http\(s\) URL/,
    );
  });

  it('refuses a secret ARN of another service', () => {
    expect(() => parseDeployOptions({ clientSecretArn: 'arn:aws:kms:eu-west-2:123456789012:key/abc' })).toThrow(/-c clientSecretArn/);
  });

  it('refuses a burst below the rate', () => {
    expect(() => parseDeployOptions({ throttleRateLimit: '100', throttleBurstLimit: '10' })).toThrow(/-c throttleBurstLimit/);
  });

  it('reserves concurrency only for functions named, from -c or cdk.json, and refuses unknown names', () => {
    expect(parseDeployOptions({ reservedConcurrency: 'data=20, callback=5' }).reservedConcurrency).toEqual({ data: 20, callback: 5 });
    expect(parseDeployOptions({ reservedConcurrency: { data: 3 } }).reservedConcurrency).toEqual({ data: 3 });
    expect(() => parseDeployOptions({ reservedConcurrency: 'dta=20' })).toThrow(/-c reservedConcurrency: dta is not a function/);
    expect(() => parseDeployOptions({ reservedConcurrency: 'data=lots' })).toThrow(/-c reservedConcurrency: data: a whole number/);
  });

  it('deploys all at once only when asked', () => {
    expect(parseDeployOptions({ deployment: 'allAtOnce' }).deployment).toBe('allAtOnce');
    expect(() => parseDeployOptions({ deployment: 'linear' })).toThrow(/-c deployment/);
  });

  it('takes a custom domain only with its certificate', () => {
    const certificateArn = 'arn:aws:acm:eu-west-2:123456789012:certificate/abcd1234-ab12-cd34-ef56-abcdef123456';
    expect(parseDeployOptions({ domainName: 'api.example.com', certificateArn }).domain).toEqual({
      name: 'api.example.com',
      certificateArn,
    });
    expect(() => parseDeployOptions({ domainName: 'api.example.com' })).toThrow(
      /-c domainName: set domainName and certificateArn together/,
    );
  });

  it('explains that a WAF web ACL cannot be attached to an HTTP API', () => {
    expect(() => parseDeployOptions({ wafAclArn: 'arn:aws:wafv2:eu-west-2:123456789012:regional/webacl/x/1' })).toThrow(
      /-c wafAclArn: AWS WAF cannot be associated with an API Gateway HTTP API/,
    );
  });

  it('takes scopes and a secret key only where they apply', () => {
    expect(() => parseDeployOptions({ jwtScopes: 'read' })).toThrow(/-c jwtScopes: applies to an external issuer/);
    expect(() => parseDeployOptions({ secretKmsKeyArn: 'arn:aws:kms:eu-west-2:123456789012:key/abc' })).toThrow(
      /-c secretKmsKeyArn: applies to an imported secret/,
    );
    expect(parseDeployOptions({ jwtIssuer: 'https://login.example.com/', jwtAudience: 'api', jwtScopes: 'a, b' }).jwtScopes).toEqual([
      'a',
      'b',
    ]);
  });

  it('takes tags and a metrics namespace from context, refusing AWS/ namespaces', () => {
    expect(parseDeployOptions({ environment: 'prod', owner: 'payments', metricsNamespace: 'Bank/Conn' })).toMatchObject({
      tags: { service: 'truelayer-connections', environment: 'prod', owner: 'payments' },
      metricsNamespace: 'Bank/Conn',
    });
    expect(() => parseDeployOptions({ metricsNamespace: 'AWS/Lambda' })).toThrow(/-c metricsNamespace/);
  });

  it('takes a webhook URL for connection events, https only, in one line otherwise', () => {
    expect(parseDeployOptions({ webhookUrl: ' https://app.example.com/hooks/bank ' }).webhookUrl).toBe(
      'https://app.example.com/hooks/bank',
    );
    expect(parseDeployOptions({ webhookUrl: '' }).webhookUrl).toBeUndefined();
    for (const bad of ['http://app.example.com/hooks', 'app.example.com/hooks', 'ftp://app.example.com/']) {
      expect(() => parseDeployOptions({ webhookUrl: bad }), bad).toThrow(/^invalid deployment context: -c webhookUrl: an https URL$/);
    }
  });

  it('reports every problem in one line', () => {
    let message = '';
    try {
      parseDeployOptions({ logRetentionDays: 'x', alarmEmail: 'not-an-email' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/logRetentionDays/);
    expect(message).toMatch(/alarmEmail/);
    expect(message).not.toContain('\n');
  });
});
