/**
 * The stack synthesized as `npx cdk synth` does with no context (real esbuild bundles, once for the
 * file): what must hold for a deployment from a clean checkout.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionSpecs, routeKey, routes } from '../../functions/routes';
import type { FunctionName } from '../../functions/routes';
import { loadConfig } from '../../shared/config';
import { tableDefinition } from '../../shared/table';
import { PLACEHOLDER } from '../../shared/truelayer/client-credentials';
import { esmRequireBanner } from '../../infra/bundle';
import { functionLogicalId } from '../../infra/stack';
import { allows, grantsOfRole, logicalIdOf, referencedId, referencedIds, resourcesOfType, synth } from './helpers';
import type { CfnResource, Synthesized } from './helpers';

const functionNames = Object.keys(functionSpecs) as FunctionName[];

let synthesized: Synthesized;
let resources: Record<string, CfnResource>;
let props: (id: string) => Record<string, unknown>;

beforeAll(() => {
  synthesized = synth();
  resources = synthesized.json.Resources;
  props = (id) => resources[id]?.Properties ?? {};
});

const functionProps = (name: FunctionName) => props(functionLogicalId(name));
const roleIdOf = (name: FunctionName): string => referencedId(functionProps(name).Role)!;
const tokenKeyId = () => logicalIdOf(synthesized.json, 'AWS::KMS::Key', 'TokenKey');
const tableKeyId = () => logicalIdOf(synthesized.json, 'AWS::KMS::Key', 'TableKey');
const tableId = () => logicalIdOf(synthesized.json, 'AWS::DynamoDB::Table', 'Table');
const secretId = () => logicalIdOf(synthesized.json, 'AWS::SecretsManager::Secret', 'ClientSecret');

describe('functions', () => {
  it('has one function per function spec, under its fixed logical id', () => {
    expect(resourcesOfType(synthesized.json, 'AWS::Lambda::Function').map(([id]) => id).sort()).toEqual(functionNames.map(functionLogicalId).sort());
  });

  it.each(functionNames)('%s runs on nodejs22.x, arm64, with the spec timeout and memory', (name) => {
    const fn = functionProps(name);
    expect(fn.Runtime).toBe('nodejs22.x');
    expect(fn.Architectures).toEqual(['arm64']);
    expect(fn.Handler).toBe('index.handler');
    expect(fn.Timeout).toBe(functionSpecs[name].timeoutSeconds);
    expect(fn.MemorySize).toBe(functionSpecs[name].memoryMb);
  });

  it.each(functionNames)('%s ships a minified ES module bundle that carries the createRequire banner and the AWS SDK', (name) => {
    const assetPath = resources[functionLogicalId(name)]?.Metadata?.['aws:asset:path'];
    expect(typeof assetPath).toBe('string');
    const bundle = join(synthesized.assembly.directory, assetPath as string, 'index.mjs');
    expect(existsSync(bundle)).toBe(true);
    const code = readFileSync(bundle, 'utf8');
    // Booleans, not matchers on `code`: a failure must not print a megabyte of bundle.
    expect(code.startsWith(esmRequireBanner)).toBe(true);
    expect(/export\s*\{[^}]*\bhandler\b/.test(code)).toBe(true);
    // Bundled, not external: the client's code is in the file rather than an import of the package.
    expect(/from\s*"@aws-sdk\//.test(code)).toBe(false);
    if (functionSpecs[name].uses.some((use) => use.startsWith('table:'))) expect(code.includes('DynamoDBClient')).toBe(true);
    // Minified: esbuild writes a `// <path>` comment before each module only when it does not minify.
    expect(/^\/\/ (functions|shared|node_modules)\//m.test(code)).toBe(false);
    expect(existsSync(`${bundle}.map`)).toBe(false);
  });

  it.each(functionNames)('%s logs to its own log group, with the default one-month retention', (name) => {
    const logGroupId = referencedId((functionProps(name).LoggingConfig as { LogGroup: unknown }).LogGroup)!;
    expect(resources[logGroupId]?.Type).toBe('AWS::Logs::LogGroup');
    expect(props(logGroupId).RetentionInDays).toBe(30);
  });

  it.each(functionNames)('%s has what shared/config.ts needs for a deployed environment, and no local-only variable', (name) => {
    const variables = (functionProps(name).Environment as { Variables: Record<string, unknown> }).Variables;
    // What CloudFormation resolves at deploy time, by the resource each token refers to.
    const placeholders: Record<string, string> = {
      [tableId()]: 'TrueLayerConnections-TableCD117FA1-1ABCDEF2345',
      [secretId()]: 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:ClientSecret6773D8CE-AbCdEf',
      [tokenKeyId()]: 'arn:aws:kms:eu-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      [logicalIdOf(synthesized.json, 'AWS::ApiGatewayV2::Api', 'HttpApi')]: 'https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com',
    };
    const resolve = (value: unknown): string => {
      if (typeof value === 'string') return value;
      const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
      if (join) return join[1].map(resolve).join(join[0]);
      const id = referencedId(value);
      if (id && placeholders[id]) return placeholders[id];
      throw new Error(`${name}: unexpected value ${JSON.stringify(value)}`);
    };
    const env = Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, resolve(value)]));

    for (const localOnly of ['TRUELAYER_CLIENT_ID', 'TRUELAYER_CLIENT_SECRET', 'LOCAL_TOKEN_KEY', 'DYNAMODB_ENDPOINT', 'TRUELAYER_AUTH_URL', 'TRUELAYER_API_URL']) {
      expect(env, localOnly).not.toHaveProperty(localOnly);
    }
    expect(env.POWERTOOLS_SERVICE_NAME).toBe('truelayer-connections');
    expect(env.LOG_LEVEL).toBe('INFO');
    expect(env).not.toHaveProperty('NODE_OPTIONS');

    const config = loadConfig({ ...env, AWS_REGION: 'eu-west-2' });
    expect(config.truelayerEnv).toBe('sandbox');
    expect(config.authUrl).toBe('https://auth.truelayer-sandbox.com');
    expect(config.credentials).toEqual({ secretId: placeholders[secretId()] });
    expect(config.tokenKey).toEqual({ kmsKeyId: placeholders[tokenKeyId()] });
    expect(config.tableName).toBe(placeholders[tableId()]);
    expect(config.callbackUrl).toBe('https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/callback');
  });
});

describe('least privilege', () => {
  it.each(functionNames)('%s has exactly the grants its spec lists', (name) => {
    const grants = grantsOfRole(synthesized.json, roleIdOf(name));
    const uses = new Set(functionSpecs[name].uses);
    expect(allows(grants, 'dynamodb:GetItem', tableId()) && allows(grants, 'dynamodb:Query', tableId())).toBe(uses.has('table:read'));
    expect(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'].every((action) => allows(grants, action, tableId()))).toBe(uses.has('table:write'));
    expect(allows(grants, 'kms:GenerateDataKey', tokenKeyId())).toBe(uses.has('tokenKey:encrypt'));
    expect(allows(grants, 'kms:Decrypt', tokenKeyId())).toBe(uses.has('tokenKey:decrypt'));
    expect(allows(grants, 'secretsmanager:GetSecretValue', secretId())).toBe(uses.has('clientSecret:read'));
  });

  it('lets the authLink function seal (the PKCE verifier) but never decrypt with the token key', () => {
    const grants = grantsOfRole(synthesized.json, roleIdOf('authLink'));
    const onTokenKey = grants.filter((grant) => grant.resources.includes(tokenKeyId()));
    expect(onTokenKey.flatMap((grant) => grant.actions)).toEqual(['kms:GenerateDataKey']);
    expect(allows(grants, 'kms:Decrypt', tokenKeyId())).toBe(false);
  });

  it.each(functionNames)('%s has no wildcard action or resource and no managed policy', (name) => {
    const roleId = roleIdOf(name);
    expect(props(roleId).ManagedPolicyArns).toBeUndefined();
    for (const grant of grantsOfRole(synthesized.json, roleId)) {
      expect(grant.actions.filter((action) => action.includes('*'))).toEqual([]);
      expect(grant.resources.filter((resource) => resource.includes('*'))).toEqual([]);
    }
  });

  it('grants each function logging to its own log group only', () => {
    for (const name of functionNames) {
      const logGroupId = referencedId((functionProps(name).LoggingConfig as { LogGroup: unknown }).LogGroup)!;
      const logGrants = grantsOfRole(synthesized.json, roleIdOf(name)).filter((grant) => grant.actions.some((action) => action.startsWith('logs:')));
      expect(logGrants.flatMap((grant) => grant.resources)).toEqual([logGroupId]);
    }
  });
});

describe('HTTP API', () => {
  const routeResources = () => resourcesOfType(synthesized.json, 'AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties ?? {});

  it('has exactly the routes of the route table', () => {
    expect(routeResources().map((route) => route.RouteKey).sort()).toEqual(routes.map(routeKey).sort());
  });

  it('puts the JWT authorizer on every route but the public ones of the route table (/callback, /openapi.json)', () => {
    const authorizerId = logicalIdOf(synthesized.json, 'AWS::ApiGatewayV2::Authorizer', 'HttpApiJwtAuthorizer');
    for (const route of routeResources()) {
      if (routes.some((candidate) => candidate.auth === 'none' && routeKey(candidate) === route.RouteKey)) {
        expect(route.AuthorizationType, String(route.RouteKey)).toBe('NONE');
        expect(route.AuthorizerId).toBeUndefined();
      } else {
        expect(route.AuthorizationType, String(route.RouteKey)).toBe('JWT');
        expect(referencedId(route.AuthorizerId)).toBe(authorizerId);
      }
    }
    expect(routeResources().filter((route) => route.AuthorizationType === 'NONE').map((route) => route.RouteKey).sort()).toEqual(['GET /callback', 'GET /openapi.json', 'POST /callback']);
  });

  it('sends each route to the function the route table names', () => {
    for (const [, route] of resourcesOfType(synthesized.json, 'AWS::ApiGatewayV2::Route')) {
      const integrationId = referencedIds(route.Properties?.Target)[0]!;
      const integration = props(integrationId);
      expect(integration.IntegrationType).toBe('AWS_PROXY');
      expect(integration.PayloadFormatVersion).toBe('2.0');
      const expected = routes.find((entry) => routeKey(entry) === route.Properties?.RouteKey)!;
      expect(referencedIds(integration.IntegrationUri)).toContain(functionLogicalId(expected.function));
    }
  });

  it('verifies Cognito access tokens: https issuer of the user pool, the app client as audience', () => {
    synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: {
        Issuer: { 'Fn::Join': ['', ['https://cognito-idp.', { Ref: 'AWS::Region' }, '.amazonaws.com/', { Ref: Match.stringLikeRegexp('^UserPool') }]] },
        Audience: [{ Ref: Match.stringLikeRegexp('^UserPoolAppClient') }],
      },
    });
  });

  it('throttles the default stage and writes access logs with retention, without query strings', () => {
    const [[, stage]] = resourcesOfType(synthesized.json, 'AWS::ApiGatewayV2::Stage') as [[string, CfnResource]];
    expect(stage.Properties?.StageName).toBe('$default');
    expect(stage.Properties?.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
    const accessLog = stage.Properties?.AccessLogSettings as { DestinationArn: unknown; Format: string };
    expect(props(referencedId(accessLog.DestinationArn)!).RetentionInDays).toBe(30);
    const format = JSON.parse(accessLog.Format) as Record<string, string>;
    expect(format.requestId).toBe('$context.requestId');
    expect(format.status).toBe('$context.status');
    // /callback's query string carries the OAuth code and state.
    expect(accessLog.Format).not.toMatch(/querystring|rawQueryString|\$context\.requestOverride/i);
  });

  it('has no CORS configuration unless corsOrigins is given', () => {
    const [[, api]] = resourcesOfType(synthesized.json, 'AWS::ApiGatewayV2::Api') as [[string, CfnResource]];
    expect(api.Properties?.ProtocolType).toBe('HTTP');
    expect(api.Properties?.CorsConfiguration).toBeUndefined();
  });
});

describe('table, keys and secret', () => {
  it('builds the table from shared/table.ts: on demand, PITR, deletion protection, CMK, TTL, owner index', () => {
    const table = resources[tableId()]!;
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: tableDefinition.partitionKey.name, KeyType: 'HASH' }],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [tableKeyId(), 'Arn'] } },
      TimeToLiveSpecification: { AttributeName: tableDefinition.ttlAttribute, Enabled: true },
      GlobalSecondaryIndexes: [
        {
          IndexName: tableDefinition.ownerIndex.name,
          KeySchema: [
            { AttributeName: tableDefinition.ownerIndex.partitionKey.name, KeyType: 'HASH' },
            { AttributeName: tableDefinition.ownerIndex.sortKey.name, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
  });

  it('declares the same attribute types as the local table', () => {
    const declared = (props(tableId()).AttributeDefinitions as { AttributeName: string; AttributeType: string }[]).map((a) => `${a.AttributeName}:${a.AttributeType}`).sort();
    const local = [tableDefinition.partitionKey, tableDefinition.ownerIndex.partitionKey, tableDefinition.ownerIndex.sortKey].map((k) => `${k.name}:${k.type}`).sort();
    expect(declared).toEqual(local);
  });

  it('rotates both KMS keys and keeps them when the stack goes', () => {
    for (const id of [tokenKeyId(), tableKeyId()]) {
      expect(props(id).EnableKeyRotation, id).toBe(true);
      expect(resources[id]?.DeletionPolicy, id).toBe('Retain');
    }
  });

  it('creates the client secret with the REPLACE_ME placeholder the service treats as unconfigured', () => {
    const secretString = props(secretId()).SecretString;
    expect(JSON.parse(secretString as string)).toEqual({ client_id: PLACEHOLDER, client_secret: PLACEHOLDER });
  });

  it('creates a Cognito user pool with admin-only sign-up, a strong password policy and deletion protection', () => {
    synthesized.template.hasResource('AWS::Cognito::UserPool', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
        DeletionProtection: 'ACTIVE',
        Policies: { PasswordPolicy: Match.objectLike({ MinimumLength: 12, RequireSymbols: true, RequireUppercase: true, RequireNumbers: true }) },
      }),
    });
    const [[, client]] = resourcesOfType(synthesized.json, 'AWS::Cognito::UserPoolClient') as [[string, CfnResource]];
    expect(client.Properties).toMatchObject({ GenerateSecret: false, PreventUserExistenceErrors: 'ENABLED', AllowedOAuthFlowsUserPoolClient: false });
    expect(client.Properties?.ExplicitAuthFlows).toEqual(expect.arrayContaining(['ALLOW_USER_SRP_AUTH', 'ALLOW_ADMIN_USER_PASSWORD_AUTH']));
  });
});

describe('alarms and outputs', () => {
  const alarms = () => resourcesOfType(synthesized.json, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties ?? {});
  const metricNames = (alarm: Record<string, unknown>): string[] =>
    alarm.MetricName ? [alarm.MetricName as string] : ((alarm.Metrics as { MetricStat?: { Metric: { MetricName: string } } }[]) ?? []).flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : []));

  it('alarms on API 5xx', () => {
    expect(alarms().some((alarm) => alarm.Namespace === 'AWS/ApiGateway' && alarm.MetricName === '5xx')).toBe(true);
  });

  it.each(functionNames)('alarms on %s errors and throttles', (name) => {
    for (const metric of ['Errors', 'Throttles']) {
      const found = alarms().some(
        (alarm) =>
          alarm.Namespace === 'AWS/Lambda' &&
          alarm.MetricName === metric &&
          (alarm.Dimensions as { Name: string; Value: unknown }[]).some((d) => d.Name === 'FunctionName' && referencedId(d.Value) === functionLogicalId(name)),
      );
      expect(found, `${name} ${metric}`).toBe(true);
    }
  });

  it('alarms on DynamoDB read and write throttles', () => {
    const names = alarms().flatMap(metricNames);
    expect(names).toEqual(expect.arrayContaining(['ReadThrottleEvents', 'WriteThrottleEvents']));
  });

  it('creates no SNS topic unless alarmEmail is given', () => {
    expect(resourcesOfType(synthesized.json, 'AWS::SNS::Topic')).toEqual([]);
  });

  it('outputs the API URL, the callback URL to register, the user pool and client, the secret name and the table name', () => {
    const outputs = synthesized.json.Outputs ?? {};
    for (const name of ['ApiUrl', 'CallbackUrl', 'UserPoolId', 'UserPoolClientId', 'ClientSecretName', 'TableName']) expect(outputs, name).toHaveProperty(name);
    expect(outputs.CallbackUrl?.Value).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalIdOf(synthesized.json, 'AWS::ApiGatewayV2::Api', 'HttpApi'), 'ApiEndpoint'] }, '/callback']] });
    expect(referencedId(outputs.TableName?.Value)).toBe(tableId());
  });

  it('is deployable: no sam-local guard rule', () => {
    expect(Object.keys(synthesized.json.Rules ?? {})).toEqual(['CheckBootstrapVersion']);
  });
});

describe('checks', () => {
  it('passes cdk-nag AwsSolutions with every finding acknowledged', () => {
    const report = new AwsSolutionsChecks(synthesized.app).validateScope(synthesized.stack);
    const findings = report.violations.map((violation) => `${violation.ruleName}: ${violation.violatingResources.map((r) => r.constructPath).join(', ')}`);
    expect(findings).toEqual([]);
  });

  it('gives every acknowledgement a reason', () => {
    const acknowledged = synthesized.stack.node
      .findAll()
      .flatMap((construct) => construct.node.metadata.filter((entry) => entry.type === 'aws:cdk:acknowledged-rules'))
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>));
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const [id, reason] of acknowledged) expect(reason.length, id).toBeGreaterThan(40);
  });

  const cfnLint = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
  const hasCfnLint = cfnLint.status === 0;
  if (!hasCfnLint) console.warn('cfn-lint is not installed: skipping the cfn-lint check (pip install cfn-lint to run it)');

  it.skipIf(!hasCfnLint)('has no cfn-lint errors', () => {
    let output: string;
    try {
      output = execFileSync('cfn-lint', ['--format', 'json', '--', synthesized.templateFile], { encoding: 'utf8' });
    } catch (error) {
      // cfn-lint exits non-zero for warnings too; the JSON on stdout says which.
      output = (error as { stdout?: string }).stdout ?? '';
      if (!output) throw error;
    }
    const matches = JSON.parse(output) as { Level: string; Rule: { Id: string }; Message: string }[];
    expect(matches.filter((match) => match.Level === 'Error').map((match) => `${match.Rule.Id} ${match.Message}`)).toEqual([]);
  });
});
