/**
 * The stack with every context option set (one synth for the file, bundling skipped: only the
 * template's shape matters here): options reach the resources they configure.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FunctionName } from '../../functions/routes';
import { functionSpecs } from '../../functions/routes';
import { functionLogicalId } from '../../infra/stack';
import type { CfnResource, Synthesized } from './helpers';
import { referencedIds, resourcesOfType, synth } from './helpers';

const functionNames = Object.keys(functionSpecs) as FunctionName[];
const secretArn = 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:truelayer/live-client-AbC123';
const secretKeyArn = 'arn:aws:kms:eu-west-2:123456789012:key/1111aaaa-22bb-33cc-44dd-555555eeeeee';
const certificateArn = 'arn:aws:acm:eu-west-2:123456789012:certificate/abcd1234-ab12-cd34-ef56-abcdef123456';

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
      secretKmsKeyArn: secretKeyArn,
      jwtScopes: 'connections/read,connections/write',
      domainName: 'api.example.com',
      certificateArn,
      deployment: 'allAtOnce',
      reservedConcurrency: 'data=20,callback=5',
      metricsNamespace: 'Bank/Connections',
      latencyAlarmMs: '3000',
      environment: 'production',
      owner: 'payments-team',
      service: 'bank-connections',
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
      webhookUrl: 'https://app.example.com/hooks/bank',
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

  it('uses the existing secret and creates no client secret (only the webhook signing key and the account-hash key)', () => {
    expect(resourcesOfType(synthesized.json, 'AWS::SecretsManager::Secret')).toEqual([]);
    const created = resourcesOfType(synthesized.data.json, 'AWS::SecretsManager::Secret').map(([id]) => id);
    expect(created.sort()).toEqual([
      expect.stringMatching(/^KeysAndSecretsAccountHashSecret/),
      expect.stringMatching(/^KeysAndSecretsWebhookSecret/),
    ]);
    for (const name of functionNames) expect(envOf(name).TRUELAYER_SECRET_ID).toBe(secretArn);
    const secretGrants = resourcesOfType(synthesized.json, 'AWS::IAM::Policy')
      .flatMap(([, policy]) => (policy.Properties?.PolicyDocument as { Statement: { Action: string[]; Resource: unknown }[] }).Statement)
      .filter((statement) => [statement.Action].flat().includes('secretsmanager:GetSecretValue'));
    // Statements with the same action are merged, so one may name several secrets.
    const imported = secretGrants.filter((statement) => [statement.Resource].flat().includes(secretArn));
    expect(imported.length).toBe(functionNames.filter((name) => functionSpecs[name].uses.includes('clientSecret:read')).length);
    // Every other secret a grant names is one of the two created secrets.
    for (const statement of secretGrants) {
      const others = [statement.Resource].flat().filter((resource) => resource !== secretArn);
      expect(others.filter((resource) => typeof resource === 'string')).toEqual([]);
      expect(referencedIds(others).filter((id) => !created.includes(id))).toEqual([]);
    }
  });

  it('POSTs connection events to the given webhook URL from exactly the functions that publish them', () => {
    for (const name of functionNames) {
      expect(envOf(name).WEBHOOK_URL, name).toBe(
        functionSpecs[name].uses.includes('events:publish') ? 'https://app.example.com/hooks/bank' : undefined,
      );
      if (envOf(name).WEBHOOK_URL) expect(envOf(name).WEBHOOK_SECRET_ID, name).toBeDefined();
    }
  });

  it('lets the functions that read the imported secret decrypt it with its own key, only through Secrets Manager', () => {
    const statements = resourcesOfType(synthesized.json, 'AWS::IAM::Policy')
      .flatMap(
        ([, policy]) =>
          (policy.Properties?.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown; Condition?: unknown }[] })
            .Statement,
      )
      .filter((statement) => statement.Resource === secretKeyArn);
    expect(statements.length).toBe(functionNames.filter((name) => functionSpecs[name].uses.includes('clientSecret:read')).length);
    for (const statement of statements) {
      expect(statement.Action).toBe('kms:Decrypt');
      expect(statement.Condition).toEqual({
        StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
      });
    }
  });

  it('requires one of the given scopes on every JWT route', () => {
    for (const [, route] of resourcesOfType(synthesized.json, 'AWS::ApiGatewayV2::Route')) {
      if (route.Properties?.AuthorizationType === 'JWT')
        expect(route.Properties.AuthorizationScopes).toEqual(['connections/read', 'connections/write']);
    }
  });

  it('serves the API on the custom domain with the given certificate, and hands TrueLayer that callback URL', () => {
    synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'api.example.com',
      DomainNameConfigurations: [{ CertificateArn: certificateArn, EndpointType: 'REGIONAL' }],
    });
    expect(resourcesOfType(synthesized.json, 'AWS::ApiGatewayV2::ApiMapping')).toHaveLength(1);
    expect(synthesized.json.Outputs?.ApiUrl?.Value).toBe('https://api.example.com');
    expect(synthesized.json.Outputs).toHaveProperty('DomainTarget');
  });

  it('deploys all at once when asked (dev stacks), still through the alias', () => {
    for (const [, group] of resourcesOfType(synthesized.json, 'AWS::CodeDeploy::DeploymentGroup')) {
      expect(group.Properties?.DeploymentConfigName).toBe('CodeDeployDefault.LambdaAllAtOnce');
    }
  });

  it('reserves concurrency only for the functions named', () => {
    const reserved = Object.fromEntries(
      functionNames.map((name) => [name, synthesized.json.Resources[functionLogicalId(name)]?.Properties?.ReservedConcurrentExecutions]),
    );
    expect(reserved).toEqual({ authLink: undefined, callback: 5, data: 20, connections: undefined });
  });

  it('charts and alarms on the given metrics namespace, and passes it to the functions', () => {
    for (const name of functionNames) expect(envOf(name).POWERTOOLS_METRICS_NAMESPACE).toBe('Bank/Connections');
    const namespaces = resourcesOfType(synthesized.json, 'AWS::CloudWatch::Alarm')
      .flatMap(([, alarm]) =>
        ((alarm.Properties?.Metrics as { MetricStat?: { Metric: { Namespace: string; MetricName: string } } }[]) ?? []).flatMap((m) =>
          m.MetricStat ? [m.MetricStat.Metric] : [],
        ),
      )
      .filter((metric) => metric.MetricName === 'UpstreamCalls')
      .map((metric) => metric.Namespace);
    expect(new Set(namespaces)).toEqual(new Set(['Bank/Connections']));
    synthesized.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Latency',
      ExtendedStatistic: 'p99',
      Threshold: 3000,
    });
  });

  it('tags both stacks with the given service, environment and owner', () => {
    for (const stack of [synthesized.stack, synthesized.dataStack]) {
      expect(synthesized.assembly.getStackByName(stack.stackName).tags).toEqual({
        service: 'bank-connections',
        environment: 'production',
        owner: 'payments-team',
      });
    }
    expect(synthesized.dataStack.stackName).toBe('TlcLive-Data');
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
      CorsConfiguration: {
        AllowOrigins: ['https://app.example.com'],
        AllowHeaders: Match.arrayWith(['authorization', 'content-type', 'x-psu-ip']),
        AllowMethods: ['GET', 'POST', 'DELETE'],
      },
    });
  });

  it('throttles and retains logs as asked', () => {
    synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
    });
    const retentions = resourcesOfType(synthesized.json, 'AWS::Logs::LogGroup').map(([, group]) => group.Properties?.RetentionInDays);
    expect(retentions).toEqual(Array(functionNames.length + 1).fill(365));
  });

  it('sends every alarm to an SNS topic that refuses plain HTTP and mails the given address', () => {
    const [[topicId]] = resourcesOfType(synthesized.json, 'AWS::SNS::Topic') as [[string, CfnResource]];
    synthesized.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: { Ref: topicId },
    });
    const alarms = resourcesOfType(synthesized.json, 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThanOrEqual(2 * functionNames.length + 2);
    for (const [, alarm] of alarms) expect(alarm.Properties?.AlarmActions).toEqual([{ Ref: topicId }]);
    expect(synthesized.json.Outputs).toHaveProperty('AlarmTopicArn');
  });

  it('outputs the configured callback URL for TrueLayer Console', () => {
    expect(synthesized.json.Outputs?.CallbackUrl?.Value).toBe('https://api.example.com/callback');
  });

  it('passes cdk-nag AwsSolutions on both stacks with every finding acknowledged', () => {
    for (const stack of [synthesized.stack, synthesized.dataStack]) {
      const report = new AwsSolutionsChecks(synthesized.app).validateScope(stack);
      expect(
        report.violations.map((violation) => violation.ruleName),
        stack.stackName,
      ).toEqual([]);
    }
  });
});
