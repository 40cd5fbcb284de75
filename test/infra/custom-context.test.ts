/**
 * The stack with every context option set (one synth for the file, bundling skipped: only the
 * template's shape matters here): options reach the resources they configure.
 */
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionSpecs } from '../../functions/routes';
import type { FunctionName } from '../../functions/routes';
import { functionLogicalId } from '../../infra/stack';
import { resourcesOfType, synth } from './helpers';
import type { CfnResource, Synthesized } from './helpers';

const functionNames = Object.keys(functionSpecs) as FunctionName[];
const secretArn = 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:truelayer/live-client-AbC123';

let synthesized: Synthesized;
const envOf = (name: FunctionName) =>
  (synthesized.json.Resources[functionLogicalId(name)]?.Properties?.Environment as { Variables: Record<string, unknown> }).Variables;

beforeAll(() => {
  synthesized = synth(
    {
      stackName: 'TlcLive',
      truelayerEnv: 'live',
      jwtIssuer: 'https://login.example.com/',
      jwtAudience: 'connections-api,mobile-app',
      clientSecretArn: secretArn,
      corsOrigins: 'https://app.example.com',
      allowedReturnUrls: 'https://app.example.com/bank/',
      callbackUrl: 'https://api.example.com/callback',
      throttleRateLimit: '20',
      throttleBurstLimit: '40',
      logRetentionDays: '365',
      logLevel: 'WARN',
      alarmEmail: 'oncall@example.com',
      truelayerProviders: 'uk-ob-all',
      truelayerTimeoutMs: '5000',
      sourceMaps: 'true',
    },
    { bundle: false },
  );
});

describe('with every option set', () => {
  it('names the stack from context', () => {
    expect(synthesized.stack.stackName).toBe('TlcLive');
  });

  it('uses the given OIDC issuer and audiences, and creates no user pool', () => {
    synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      JwtConfiguration: { Issuer: 'https://login.example.com/', Audience: ['connections-api', 'mobile-app'] },
    });
    expect(resourcesOfType(synthesized.json, 'AWS::Cognito::UserPool')).toEqual([]);
    expect(synthesized.json.Outputs).not.toHaveProperty('UserPoolId');
  });

  it('uses the existing secret and creates none', () => {
    expect(resourcesOfType(synthesized.json, 'AWS::SecretsManager::Secret')).toEqual([]);
    for (const name of functionNames) expect(envOf(name).TRUELAYER_SECRET_ID).toBe(secretArn);
    const secretGrants = resourcesOfType(synthesized.json, 'AWS::IAM::Policy')
      .flatMap(([, policy]) => (policy.Properties?.PolicyDocument as { Statement: { Action: string[]; Resource: unknown }[] }).Statement)
      .filter((statement) => [statement.Action].flat().includes('secretsmanager:GetSecretValue'));
    expect(secretGrants.length).toBe(functionNames.filter((name) => functionSpecs[name].uses.includes('clientSecret:read')).length);
    for (const statement of secretGrants) expect(statement.Resource).toBe(secretArn);
  });

  it.each(functionNames)('passes TrueLayer, CORS, return URL, callback and logging options to %s', (name) => {
    expect(envOf(name)).toMatchObject({
      TRUELAYER_ENV: 'live',
      CORS_ORIGINS: 'https://app.example.com',
      ALLOWED_RETURN_URLS: 'https://app.example.com/bank/',
      CALLBACK_URL: 'https://api.example.com/callback',
      TRUELAYER_PROVIDERS: 'uk-ob-all',
      TRUELAYER_TIMEOUT_MS: '5000',
      LOG_LEVEL: 'WARN',
      NODE_OPTIONS: '--enable-source-maps',
    });
  });

  it('configures CORS on the API for the given origins', () => {
    synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: { AllowOrigins: ['https://app.example.com'], AllowHeaders: ['authorization', 'content-type'], AllowMethods: ['GET', 'POST', 'DELETE'] },
    });
  });

  it('throttles and retains logs as asked', () => {
    synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 } });
    const retentions = resourcesOfType(synthesized.json, 'AWS::Logs::LogGroup').map(([, group]) => group.Properties?.RetentionInDays);
    expect(retentions).toEqual(Array(functionNames.length + 1).fill(365));
  });

  it('sends every alarm to an SNS topic that refuses plain HTTP and mails the given address', () => {
    const [[topicId]] = resourcesOfType(synthesized.json, 'AWS::SNS::Topic') as [[string, CfnResource]];
    synthesized.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com', TopicArn: { Ref: topicId } });
    const alarms = resourcesOfType(synthesized.json, 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThanOrEqual(2 * functionNames.length + 2);
    for (const [, alarm] of alarms) expect(alarm.Properties?.AlarmActions).toEqual([{ Ref: topicId }]);
    expect(synthesized.json.Outputs).toHaveProperty('AlarmTopicArn');
  });

  it('outputs the configured callback URL for TrueLayer Console', () => {
    expect(synthesized.json.Outputs?.CallbackUrl?.Value).toBe('https://api.example.com/callback');
  });

  it('passes cdk-nag AwsSolutions with every finding acknowledged', () => {
    const report = new AwsSolutionsChecks(synthesized.app).validateScope(synthesized.stack);
    expect(report.violations.map((violation) => violation.ruleName)).toEqual([]);
  });
});
