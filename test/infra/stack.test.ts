/**
 * The two stacks synthesized as `npx cdk synth` does with no context (real esbuild bundles, once for
 * the file): what must hold for a deployment from a clean checkout.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FunctionName } from '../../functions/routes';
import { functionSpecs, routeKey, routes } from '../../functions/routes';
import { esmRequireBanner } from '../../infra/bundle';
import { functionLogicalId } from '../../infra/stack';
import { loadConfig } from '../../shared/config';
import { metricNames } from '../../shared/metrics';
import { tableDefinition } from '../../shared/table';
import { PLACEHOLDER } from '../../shared/truelayer/client-credentials';
import type { CfnResource, Synthesized } from './helpers';
import { allows, grantsOfRole, logicalIdOf, referencedId, referencedIds, resourcesOfType, synth } from './helpers';

const functionNames = Object.keys(functionSpecs) as FunctionName[];

let synthesized: Synthesized;
let resources: Record<string, CfnResource>;
let dataResources: Record<string, CfnResource>;
let props: (id: string) => Record<string, unknown>;

beforeAll(() => {
  synthesized = synth();
  resources = synthesized.json.Resources;
  dataResources = synthesized.data.json.Resources;
  props = (id) => resources[id]?.Properties ?? dataResources[id]?.Properties ?? {};
});

const functionProps = (name: FunctionName) => props(functionLogicalId(name));
const roleIdOf = (name: FunctionName): string => referencedId(functionProps(name).Role)!;
const tokenKeyId = () => logicalIdOf(synthesized.data.json, 'AWS::KMS::Key', 'KeysAndSecretsTokenKey');
const tableKeyId = () => logicalIdOf(synthesized.data.json, 'AWS::KMS::Key', 'StorageTableKey');
const tableId = () => logicalIdOf(synthesized.data.json, 'AWS::DynamoDB::Table', 'StorageTable');
const secretId = () => logicalIdOf(synthesized.data.json, 'AWS::SecretsManager::Secret', 'KeysAndSecretsClientSecret');
const webhookSecretId = () => logicalIdOf(synthesized.data.json, 'AWS::SecretsManager::Secret', 'KeysAndSecretsWebhookSecret');
const accountHashSecretId = () => logicalIdOf(synthesized.data.json, 'AWS::SecretsManager::Secret', 'KeysAndSecretsAccountHashSecret');
const busId = () => logicalIdOf(synthesized.data.json, 'AWS::Events::EventBus', 'ConnectionEvents');

/** What a role may Query: `table` itself, or `index/<name>` for an index ARN built on the table's. */
const queryTargets = (name: FunctionName): string[] => {
  const statements = resourcesOfType(synthesized.json, 'AWS::IAM::Policy')
    .filter(([, policy]) => ((policy.Properties?.Roles ?? []) as unknown[]).some((role) => referencedId(role) === roleIdOf(name)))
    .flatMap(
      ([, policy]) =>
        (
          (policy.Properties?.PolicyDocument ?? { Statement: [] }) as {
            Statement: { Effect: string; Action: string | string[]; Resource: unknown }[];
          }
        ).Statement,
    )
    .filter((statement) => statement.Effect === 'Allow' && [statement.Action].flat().includes('dynamodb:Query'));
  return statements
    .flatMap((statement) => [statement.Resource].flat())
    .map((resource) => {
      const joined = (resource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
      if (joined) {
        expect(referencedIds(joined[1][0])).toEqual([tableId()]);
        return String(joined[1][1]).replace(/^\//, '');
      }
      expect(referencedId(resource)).toBe(tableId());
      return 'table';
    })
    .sort();
};

describe('functions', () => {
  it('has one function per function spec, under its fixed logical id', () => {
    expect(
      resourcesOfType(synthesized.json, 'AWS::Lambda::Function')
        .map(([id]) => id)
        .sort(),
    ).toEqual(functionNames.map(functionLogicalId).sort());
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

  // The capabilities that read a Secrets Manager secret, listed here rather than imported, so the test checks the construct.
  const readsASecret = (name: FunctionName) =>
    functionSpecs[name].uses.some((use) => ['clientSecret:read', 'webhookSecret:read', 'accountHashKey:read'].includes(use));

  it('gives the Parameters and Secrets extension to the functions that read a secret and to no other', () => {
    const withLayer = functionNames.filter((name) => functionProps(name).Layers !== undefined);
    expect(withLayer.sort()).toEqual(functionNames.filter(readsASecret).sort());
    // Some function reads none (openapi): the check above would pass vacuously otherwise.
    expect(withLayer.length).toBeLessThan(functionNames.length);
  });

  it.each(functionNames.filter(readsASecret))(
    '%s gets the arm64 extension layer for its region, on the port the code reads, caching secrets 5 minutes',
    (name) => {
      const layers = functionProps(name).Layers as { 'Fn::FindInMap': [string, unknown, string] }[];
      expect(layers).toHaveLength(1);
      const [mapName, region, key] = layers[0]!['Fn::FindInMap'];
      expect(region).toEqual({ Ref: 'AWS::Region' });
      const byRegion = (synthesized.json as unknown as { Mappings: Record<string, Record<string, Record<string, string>>> }).Mappings[
        mapName
      ]!;
      expect(byRegion['eu-west-2']?.[key]).toMatch(
        /^arn:aws:lambda:eu-west-2:\d{12}:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:\d+$/,
      );
      const variables = (functionProps(name).Environment as { Variables: Record<string, string> }).Variables;
      expect(variables.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT).toBe(
        String(loadConfig({ LOCAL_TOKEN_KEY: Buffer.alloc(32).toString('base64') }).secretsExtensionPort),
      );
      expect(variables.SECRETS_MANAGER_TTL).toBe('300');
      expect(variables.PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED).toBe('true');
      expect(Number(variables.PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE)).toBeGreaterThanOrEqual(3);
      // The extension answers before the reader in the function gives up (5 s).
      expect(Number(variables.SECRETS_MANAGER_TIMEOUT_MILLIS)).toBeGreaterThan(0);
      expect(Number(variables.SECRETS_MANAGER_TIMEOUT_MILLIS)).toBeLessThan(5_000);
    },
  );

  it.each(functionNames.filter((name) => !readsASecret(name)))(
    '%s, reading no secret, has no extension and none of its variables',
    (name) => {
      expect(functionProps(name).Layers).toBeUndefined();
      const variables = (functionProps(name).Environment as { Variables: Record<string, string> }).Variables;
      expect(Object.keys(variables).filter((key) => /^(PARAMETERS_SECRETS_|SECRETS_MANAGER_|SSM_PARAMETER_STORE_)/.test(key))).toEqual([]);
    },
  );

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
      [busId()]: 'TrueLayerConnections-Data-connection-events',
      [webhookSecretId()]: 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:WebhookSecret-AbCdEf',
      [accountHashSecretId()]: 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:AccountHashSecret-AbCdEf',
      [logicalIdOf(synthesized.json, 'AWS::ApiGatewayV2::Api', 'ApiHttpApi')]: 'https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com',
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

    for (const localOnly of [
      'TRUELAYER_CLIENT_ID',
      'TRUELAYER_CLIENT_SECRET',
      'LOCAL_TOKEN_KEY',
      'DYNAMODB_ENDPOINT',
      'TRUELAYER_AUTH_URL',
      'TRUELAYER_API_URL',
    ]) {
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
    const uses = new Set(functionSpecs[name].uses);
    expect(config.eventBusName).toBe(uses.has('events:publish') ? placeholders[busId()] : undefined);
    expect(config.accountHashKey).toEqual(uses.has('accountHashKey:read') ? { secretId: placeholders[accountHashSecretId()] } : undefined);
    expect(env.WEBHOOK_SECRET_ID).toBe(uses.has('webhookSecret:read') ? placeholders[webhookSecretId()] : undefined);
    // No webhook unless -c webhookUrl is given.
    expect(config.webhook).toBeUndefined();
  });
});

describe('least privilege', () => {
  it.each(functionNames)('%s has exactly the grants its spec lists', (name) => {
    const grants = grantsOfRole(synthesized.json, roleIdOf(name));
    const uses = new Set(functionSpecs[name].uses);
    expect(allows(grants, 'dynamodb:GetItem', tableId()) && allows(grants, 'dynamodb:Query', tableId())).toBe(uses.has('table:read'));
    expect(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'].every((action) => allows(grants, action, tableId()))).toBe(
      uses.has('table:write'),
    );
    expect(allows(grants, 'kms:GenerateDataKey', tokenKeyId())).toBe(uses.has('tokenKey:encrypt'));
    expect(allows(grants, 'kms:Decrypt', tokenKeyId())).toBe(uses.has('tokenKey:decrypt'));
    expect(allows(grants, 'secretsmanager:GetSecretValue', secretId())).toBe(uses.has('clientSecret:read'));
    expect(allows(grants, 'secretsmanager:GetSecretValue', webhookSecretId())).toBe(uses.has('webhookSecret:read'));
    expect(allows(grants, 'secretsmanager:GetSecretValue', accountHashSecretId())).toBe(uses.has('accountHashKey:read'));
    expect(allows(grants, 'events:PutEvents', busId())).toBe(uses.has('events:publish'));
    // Never called by the service: no function may describe, list or change the secret.
    expect(
      grants
        .flatMap((grant) => grant.actions)
        .filter((action) => action.startsWith('secretsmanager:') && action !== 'secretsmanager:GetSecretValue'),
    ).toEqual([]);
  });

  it.each(functionNames)('%s may Query the owner index with table:read and the due index only with dueIndex:read', (name) => {
    const uses = new Set(functionSpecs[name].uses);
    const expected = [
      ...(uses.has('table:read') ? ['table', `index/${tableDefinition.ownerIndex.name}`] : []),
      ...(uses.has('dueIndex:read') ? [`index/${tableDefinition.dueIndex.name}`] : []),
    ].sort();
    expect(queryTargets(name)).toEqual(expected);
  });

  it('lets the lifecycle worker, and no other function, Query the due index', () => {
    const dueIndex = `index/${tableDefinition.dueIndex.name}`;
    expect(functionNames.filter((name) => queryTargets(name).includes(dueIndex))).toEqual(['lifecycle']);
  });

  it('lets only the functions that hash accounts read the account-hash key', () => {
    const readers = functionNames.filter((name) =>
      allows(grantsOfRole(synthesized.json, roleIdOf(name)), 'secretsmanager:GetSecretValue', accountHashSecretId()),
    );
    expect(readers).toEqual(functionNames.filter((name) => functionSpecs[name].uses.includes('accountHashKey:read')));
    expect(readers.length).toBeGreaterThan(0);
  });

  it('does not let the callback function decrypt tokens: it only seals what it exchanged', () => {
    const grants = grantsOfRole(synthesized.json, roleIdOf('callback'));
    expect(allows(grants, 'kms:GenerateDataKey', tokenKeyId())).toBe(true);
    expect(allows(grants, 'kms:Decrypt', tokenKeyId())).toBe(false);
  });

  it.each(functionNames)("%s may use the token key only with a row's encryption context (connection_id and owner)", (name) => {
    const roleId = roleIdOf(name);
    const statements = resourcesOfType(synthesized.json, 'AWS::IAM::Policy')
      .filter(([, policy]) => (policy.Properties?.Roles as unknown[]).some((role) => referencedId(role) === roleId))
      .flatMap(
        ([, policy]) =>
          (policy.Properties?.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown; Condition?: unknown }[] })
            .Statement,
      )
      .filter((statement) => referencedIds(statement.Resource).includes(tokenKeyId()));
    const expected = { 'tokenKey:encrypt': 'kms:GenerateDataKey', 'tokenKey:decrypt': 'kms:Decrypt' } as const;
    expect(statements.flatMap((statement) => [statement.Action].flat()).sort()).toEqual(
      Object.entries(expected)
        .filter(([use]) => functionSpecs[name].uses.includes(use as never))
        .map(([, action]) => action)
        .sort(),
    );
    for (const statement of statements) {
      expect(statement.Condition).toEqual({
        'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['connection_id', 'owner'] },
        Null: { 'kms:EncryptionContextKeys': 'false' },
      });
    }
  });

  it('gives the authLink function nothing on the token key: the PKCE verifier is sealed without KMS', () => {
    const grants = grantsOfRole(synthesized.json, roleIdOf('authLink'));
    const onTokenKey = grants.filter((grant) => grant.resources.includes(tokenKeyId()));
    expect(onTokenKey.flatMap((grant) => grant.actions)).toEqual([]);
    expect(allows(grants, 'kms:Decrypt', tokenKeyId())).toBe(false);
  });

  it.each(functionNames)('%s has no wildcard action, no managed policy, and a wildcard resource only for X-Ray', (name) => {
    const roleId = roleIdOf(name);
    expect(props(roleId).ManagedPolicyArns).toBeUndefined();
    for (const grant of grantsOfRole(synthesized.json, roleId)) {
      expect(grant.actions.filter((action) => action.includes('*'))).toEqual([]);
      // X-Ray's PutTraceSegments and PutTelemetryRecords take no resource-level permissions.
      if (grant.resources.some((resource) => resource.includes('*')))
        expect(grant.actions.sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    }
  });

  it('grants each function logging to its own log group only', () => {
    for (const name of functionNames) {
      const logGroupId = referencedId((functionProps(name).LoggingConfig as { LogGroup: unknown }).LogGroup)!;
      const logGrants = grantsOfRole(synthesized.json, roleIdOf(name)).filter((grant) =>
        grant.actions.some((action) => action.startsWith('logs:')),
      );
      expect(logGrants.flatMap((grant) => grant.resources)).toEqual([logGroupId]);
    }
  });
});

describe('HTTP API', () => {
  const routeResources = () => resourcesOfType(synthesized.json, 'AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties ?? {});

  it('has exactly the routes of the route table', () => {
    expect(
      routeResources()
        .map((route) => route.RouteKey)
        .sort(),
    ).toEqual(routes.map(routeKey).sort());
  });

  it('puts the JWT authorizer on every route but the public ones of the route table (/callback, /openapi.json)', () => {
    const authorizerId = logicalIdOf(synthesized.json, 'AWS::ApiGatewayV2::Authorizer', 'ApiHttpApiJwtAuthorizer');
    for (const route of routeResources()) {
      if (routes.some((candidate) => candidate.auth === 'none' && routeKey(candidate) === route.RouteKey)) {
        expect(route.AuthorizationType, String(route.RouteKey)).toBe('NONE');
        expect(route.AuthorizerId).toBeUndefined();
      } else {
        expect(route.AuthorizationType, String(route.RouteKey)).toBe('JWT');
        expect(referencedId(route.AuthorizerId)).toBe(authorizerId);
      }
    }
    expect(
      routeResources()
        .filter((route) => route.AuthorizationType === 'NONE')
        .map((route) => route.RouteKey)
        .sort(),
    ).toEqual(['GET /callback', 'GET /openapi.json', 'POST /callback']);
  });

  it('sends each route to the live alias of the function the route table names', () => {
    for (const [, route] of resourcesOfType(synthesized.json, 'AWS::ApiGatewayV2::Route')) {
      const integrationId = referencedIds(route.Properties?.Target)[0]!;
      const integration = props(integrationId);
      expect(integration.IntegrationType).toBe('AWS_PROXY');
      expect(integration.PayloadFormatVersion).toBe('2.0');
      const expected = routes.find((entry) => routeKey(entry) === route.Properties?.RouteKey)!;
      const aliasId = referencedIds(integration.IntegrationUri)[0]!;
      expect(resources[aliasId]?.Type).toBe('AWS::Lambda::Alias');
      expect(props(aliasId).Name).toBe('live');
      expect(referencedIds(props(aliasId).FunctionName)).toContain(functionLogicalId(expected.function));
    }
  });

  it('admits access tokens only: every JWT route requires the scope Cognito puts in access tokens and never in ID tokens', () => {
    for (const route of routeResources().filter((entry) => entry.AuthorizationType === 'JWT')) {
      expect(route.AuthorizationScopes, String(route.RouteKey)).toEqual(['aws.cognito.signin.user.admin']);
    }
  });

  it('verifies Cognito access tokens: https issuer of the user pool, the app client as audience', () => {
    synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: {
        Issuer: {
          'Fn::Join': [
            '',
            ['https://cognito-idp.', { Ref: 'AWS::Region' }, '.amazonaws.com/', { Ref: Match.stringLikeRegexp('^IdentityUserPool') }],
          ],
        },
        Audience: [{ Ref: Match.stringLikeRegexp('^IdentityUserPoolAppClient') }],
      },
    });
  });

  it('gives the public /callback routes their own, lower throttle, and no other route one', () => {
    const [[, stage]] = resourcesOfType(synthesized.json, 'AWS::ApiGatewayV2::Stage') as [[string, CfnResource]];
    expect(stage.Properties?.RouteSettings).toEqual({
      'GET /callback': { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 },
      'POST /callback': { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 },
    });
  });

  it('throttles the default stage and writes access logs with retention, without query strings', () => {
    const [[, stage]] = resourcesOfType(synthesized.json, 'AWS::ApiGatewayV2::Stage') as [[string, CfnResource]];
    expect(stage.Properties?.StageName).toBe('$default');
    expect(stage.Properties?.DefaultRouteSettings).toMatchObject({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
    const accessLog = stage.Properties?.AccessLogSettings as { DestinationArn: unknown; Format: string };
    expect(props(referencedId(accessLog.DestinationArn)!).RetentionInDays).toBe(30);
    // Service-delivered logs belong under /aws/vendedlogs/ (their resource-policy limit is separate).
    expect(props(referencedId(accessLog.DestinationArn)!).LogGroupName).toBe('/aws/vendedlogs/apigateway/TrueLayerConnections/access');
    expect((stage.Properties?.DefaultRouteSettings as Record<string, unknown> | undefined)?.DetailedMetricsEnabled).toBe(true);
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
  it('builds the table from shared/table.ts: on demand, PITR, deletion protection, CMK, TTL, owner and due indexes', () => {
    const table = dataResources[tableId()]!;
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
          // What a list shows, never the token blob.
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...tableDefinition.ownerIndex.nonKeyAttributes] },
        },
        {
          IndexName: tableDefinition.dueIndex.name,
          KeySchema: [
            { AttributeName: tableDefinition.dueIndex.partitionKey.name, KeyType: 'HASH' },
            { AttributeName: tableDefinition.dueIndex.sortKey.name, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    });
  });

  it('declares the same attribute types as the local table', () => {
    const declared = (props(tableId()).AttributeDefinitions as { AttributeName: string; AttributeType: string }[])
      .map((a) => `${a.AttributeName}:${a.AttributeType}`)
      .sort();
    const local = [
      tableDefinition.partitionKey,
      tableDefinition.ownerIndex.partitionKey,
      tableDefinition.ownerIndex.sortKey,
      tableDefinition.dueIndex.partitionKey,
      tableDefinition.dueIndex.sortKey,
    ]
      .map((k) => `${k.name}:${k.type}`)
      .sort();
    expect(declared).toEqual(local);
  });

  it('rotates both KMS keys and keeps them when the stack goes', () => {
    for (const id of [tokenKeyId(), tableKeyId()]) {
      expect(props(id).EnableKeyRotation, id).toBe(true);
      expect(dataResources[id]?.DeletionPolicy, id).toBe('Retain');
    }
  });

  it("lets nobody use the token key without exactly the row's encryption context keys", () => {
    const policy = props(tokenKeyId()).KeyPolicy as {
      Statement: { Sid?: string; Effect: string; Principal: unknown; Action: string[]; Condition?: unknown }[];
    };
    const denies = policy.Statement.filter((statement) => statement.Effect === 'Deny');
    for (const statement of denies) {
      expect(statement.Principal).toEqual({ AWS: '*' });
      expect(statement.Action).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey', 'kms:Encrypt', 'kms:ReEncryptFrom']));
    }
    expect(denies.map((statement) => statement.Condition)).toEqual(
      expect.arrayContaining([
        { Null: { 'kms:EncryptionContext:connection_id': 'true' } },
        { Null: { 'kms:EncryptionContext:owner': 'true' } },
        { 'ForAnyValue:StringNotEquals': { 'kms:EncryptionContextKeys': ['connection_id', 'owner'] } },
      ]),
    );
  });

  it('creates the event bus for connection events and the webhook signing secret in the data stack', () => {
    expect(resourcesOfType(synthesized.data.json, 'AWS::Events::EventBus')).toHaveLength(1);
    expect(
      resourcesOfType(synthesized.data.json, 'AWS::SecretsManager::Secret')
        .map(([id]) => id)
        .filter((id) => id.includes('WebhookSecret')),
    ).toHaveLength(1);
  });

  it('generates the webhook signing secret as base64 Standard Webhooks can read: letters and digits, length divisible by 4', () => {
    const generation = props(webhookSecretId()).GenerateSecretString as {
      PasswordLength: number;
      ExcludePunctuation: boolean;
      IncludeSpace?: boolean;
    };
    expect(generation.ExcludePunctuation).toBe(true);
    expect(generation.IncludeSpace ?? false).toBe(false);
    expect(generation.PasswordLength % 4).toBe(0);
    expect(generation.PasswordLength).toBeGreaterThanOrEqual(32);
    expect(dataResources[webhookSecretId()]?.DeletionPolicy).toBe('Retain');
  });

  it('generates the account-hash key in the data stack, kept when the stack goes (stored hashes depend on it)', () => {
    const secret = dataResources[accountHashSecretId()]!;
    expect(secret.DeletionPolicy).toBe('Retain');
    expect(secret.Properties?.GenerateSecretString).toMatchObject({ ExcludePunctuation: true, PasswordLength: 64 });
    expect(secret.Properties).not.toHaveProperty('SecretString');
  });

  it('creates the client secret with the REPLACE_ME placeholder the service treats as unconfigured', () => {
    const secretString = props(secretId()).SecretString;
    expect(JSON.parse(secretString as string)).toEqual({ client_id: PLACEHOLDER, client_secret: PLACEHOLDER });
  });

  it('creates a Cognito user pool with admin-only sign-up, a strong password policy and deletion protection', () => {
    synthesized.data.template.hasResource('AWS::Cognito::UserPool', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
        DeletionProtection: 'ACTIVE',
        Policies: {
          PasswordPolicy: Match.objectLike({ MinimumLength: 12, RequireSymbols: true, RequireUppercase: true, RequireNumbers: true }),
        },
      }),
    });
    const [[, client]] = resourcesOfType(synthesized.data.json, 'AWS::Cognito::UserPoolClient') as [[string, CfnResource]];
    expect(client.Properties).toMatchObject({
      GenerateSecret: false,
      PreventUserExistenceErrors: 'ENABLED',
      AllowedOAuthFlowsUserPoolClient: false,
    });
    expect(client.Properties?.ExplicitAuthFlows).toEqual(expect.arrayContaining(['ALLOW_USER_SRP_AUTH', 'ALLOW_ADMIN_USER_PASSWORD_AUTH']));
  });
});

describe('telemetry', () => {
  it.each(functionNames)('%s is traced by X-Ray, logs JSON, and knows the metrics namespace', (name) => {
    const fn = functionProps(name);
    expect(fn.TracingConfig).toEqual({ Mode: 'Active' });
    expect((fn.LoggingConfig as { LogFormat: string }).LogFormat).toBe('JSON');
    const variables = (fn.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables.POWERTOOLS_METRICS_NAMESPACE).toBe('TrueLayerConnections');
    // Traces carry names and statuses, never a body.
    expect(variables.POWERTOOLS_TRACER_CAPTURE_RESPONSE).toBe('false');
    expect(variables.POWERTOOLS_TRACER_CAPTURE_HTTPS_REQUESTS).toBe('false');
  });

  it("reserves no concurrency unless asked (a new account's quota of 10 would fail the deploy)", () => {
    for (const name of functionNames) expect(functionProps(name).ReservedConcurrentExecutions, name).toBeUndefined();
  });
});

describe('safe deploys', () => {
  it.each(functionNames)(
    '%s is published behind a live alias that CodeDeploy shifts 10 percent for 5 minutes, rolling back on its alarms',
    (name) => {
      const [aliasId] = resourcesOfType(synthesized.json, 'AWS::Lambda::Alias').find(([, alias]) =>
        referencedIds(alias.Properties?.FunctionName).includes(functionLogicalId(name)),
      )!;
      const alias = resources[aliasId]!;
      expect(alias.Properties?.Name).toBe('live');
      expect(resources[referencedId(alias.Properties?.FunctionVersion)!]?.Type).toBe('AWS::Lambda::Version');
      const deploymentGroupId = referencedId(
        (alias as { UpdatePolicy?: { CodeDeployLambdaAliasUpdate: { DeploymentGroupName: unknown } } }).UpdatePolicy
          ?.CodeDeployLambdaAliasUpdate.DeploymentGroupName,
      )!;
      const group = props(deploymentGroupId);
      expect(group.DeploymentConfigName).toBe('CodeDeployDefault.LambdaCanary10Percent5Minutes');
      expect(group.AutoRollbackConfiguration).toEqual({
        Enabled: true,
        Events: expect.arrayContaining(['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM']),
      });
      const alarmNames = (group.AlarmConfiguration as { Alarms: { Name: unknown }[]; Enabled: boolean }).Alarms.map((alarm) =>
        referencedId(alarm.Name),
      );
      const errorsAlarm = resourcesOfType(synthesized.json, 'AWS::CloudWatch::Alarm').find(
        ([, alarm]) =>
          alarm.Properties?.MetricName === 'Errors' &&
          (alarm.Properties?.Dimensions as { Value: unknown }[]).some((d) => referencedId(d.Value) === functionLogicalId(name)),
      )![0];
      expect(alarmNames).toContain(errorsAlarm);
      // A scheduled function serves no route: the API's alarms say nothing about its new version.
      const apiAlarm = logicalIdOf(synthesized.json, 'AWS::CloudWatch::Alarm', 'MonitoringApi5xxRateAlarm');
      if (functionSpecs[name].schedule) expect(alarmNames).not.toContain(apiAlarm);
      else expect(alarmNames).toContain(apiAlarm);
    },
  );
});

describe('lifecycle schedule', () => {
  const scheduled = functionNames.filter((name) => functionSpecs[name].schedule);
  const queueId = () => logicalIdOf(synthesized.json, 'AWS::SQS::Queue', 'LifecycleDeadLetterQueue');
  const aliasOf = (name: FunctionName): string =>
    resourcesOfType(synthesized.json, 'AWS::Lambda::Alias').find(([, alias]) =>
      referencedIds(alias.Properties?.FunctionName).includes(functionLogicalId(name)),
    )![0];
  const schedules = () => resourcesOfType(synthesized.json, 'AWS::Scheduler::Schedule').map(([, schedule]) => schedule.Properties ?? {});
  type Target = {
    Arn: unknown;
    RoleArn: unknown;
    RetryPolicy: { MaximumRetryAttempts: number; MaximumEventAgeInSeconds: number };
    DeadLetterConfig: { Arn: unknown };
  };

  it('schedules exactly the functions whose spec has a schedule: the lifecycle worker', () => {
    expect(scheduled).toEqual(['lifecycle']);
    expect(schedules().map((schedule) => referencedId((schedule.Target as Target).Arn))).toEqual(scheduled.map(aliasOf));
  });

  it.each(['lifecycle'] as const)('runs %s at the rate its spec names, through its live alias', (name) => {
    const schedule = schedules().find((entry) => referencedId((entry.Target as Target).Arn) === aliasOf(name))!;
    expect(schedule.ScheduleExpression).toBe(`rate(${functionSpecs[name].schedule!.everyMinutes} minutes)`);
    expect(schedule.FlexibleTimeWindow).toEqual({ Mode: 'OFF' });
    expect(schedule.State ?? 'ENABLED').toBe('ENABLED');
    expect(props(aliasOf(name)).Name).toBe('live');
  });

  it('retries an undelivered run at most once, gives up after 15 minutes, and sends it to the encrypted dead-letter queue', () => {
    const target = schedules()[0]!.Target as Target;
    expect(target.RetryPolicy.MaximumRetryAttempts).toBeLessThanOrEqual(1);
    expect(target.RetryPolicy.MaximumEventAgeInSeconds).toBe(900);
    expect(referencedId(target.DeadLetterConfig.Arn)).toBe(queueId());
    expect(props(queueId()).SqsManagedSseEnabled).toBe(true);
    synthesized.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId() }],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });

  it('invokes with its own role that only EventBridge Scheduler of this account may assume, allowed the alias and the queue only', () => {
    const target = schedules()[0]!.Target as Target;
    const roleId = referencedId(target.RoleArn)!;
    const assume = props(roleId).AssumeRolePolicyDocument as {
      Statement: { Principal: { Service: string }; Condition: { StringEquals: Record<string, unknown> } }[];
    };
    expect(assume.Statement.map((statement) => statement.Principal.Service)).toEqual(['scheduler.amazonaws.com']);
    expect(assume.Statement[0]!.Condition.StringEquals['aws:SourceAccount']).toEqual({ Ref: 'AWS::AccountId' });
    const grants = grantsOfRole(synthesized.json, roleId);
    expect(grants.flatMap((grant) => grant.actions).sort()).toEqual(['lambda:InvokeFunction', 'sqs:SendMessage']);
    expect(allows(grants, 'lambda:InvokeFunction', aliasOf('lifecycle'))).toBe(true);
    expect(grants.flatMap((grant) => grant.resources).filter((id) => id !== aliasOf('lifecycle') && id !== queueId())).toEqual([]);
  });

  it('sends a failed run of the worker (error, timeout) to the same queue, without Lambda retries', () => {
    const [[, config]] = resourcesOfType(synthesized.json, 'AWS::Lambda::EventInvokeConfig') as [[string, CfnResource]];
    expect(referencedId(config.Properties?.FunctionName)).toBe(functionLogicalId('lifecycle'));
    // The alias name, as CloudFormation takes it from the alias ARN.
    expect(referencedIds(config.Properties?.Qualifier)).toEqual([aliasOf('lifecycle')]);
    expect(config.Properties?.MaximumRetryAttempts).toBe(0);
    const destination = config.Properties?.DestinationConfig as { OnFailure?: { Destination: unknown } } | undefined;
    expect(referencedId(destination?.OnFailure?.Destination)).toBe(queueId());
    expect(allows(grantsOfRole(synthesized.json, roleIdOf('lifecycle')), 'sqs:SendMessage', queueId())).toBe(true);
  });

  it('serves no scheduled function through the API', () => {
    const integrated = resourcesOfType(synthesized.json, 'AWS::ApiGatewayV2::Integration').flatMap(([, integration]) =>
      referencedIds(integration.Properties?.IntegrationUri),
    );
    for (const name of scheduled) {
      expect(integrated).not.toContain(aliasOf(name));
      expect(routes.some((route) => route.function === name)).toBe(false);
    }
  });

  it("alarms to the topic on anything in the dead-letter queue and on the worker's failed items", () => {
    const topic = { Ref: logicalIdOf(synthesized.json, 'AWS::SNS::Topic', 'MonitoringAlarmTopic') };
    const alarmList = resourcesOfType(synthesized.json, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties ?? {});
    const depth = alarmList.find(
      (alarm) =>
        alarm.MetricName === 'ApproximateNumberOfMessagesVisible' &&
        (alarm.Dimensions as { Value: unknown }[]).some((d) => referencedIds(d.Value).includes(queueId())),
    )!;
    expect(depth).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', AlarmActions: [topic] });

    const [[, filter]] = resourcesOfType(synthesized.json, 'AWS::Logs::MetricFilter').filter(([id]) => id.includes('ItemFailures')) as [
      [string, CfnResource],
    ];
    const lifecycleLogs = referencedId((functionProps('lifecycle').LoggingConfig as { LogGroup: unknown }).LogGroup);
    expect(referencedId(filter.Properties?.LogGroupName)).toBe(lifecycleLogs);
    expect(filter.Properties?.FilterPattern).toBe('{ $.message = "lifecycle item failed" }');
    const [transformation] = (filter.Properties?.MetricTransformations ?? []) as { MetricName: string }[];
    const metricName = transformation?.MetricName;
    expect(metricName).toBeDefined();
    expect(alarmList.find((alarm) => alarm.MetricName === metricName)).toMatchObject({ Threshold: 1, AlarmActions: [topic] });

    const errors = alarmList.find(
      (alarm) =>
        alarm.MetricName === 'Errors' &&
        (alarm.Dimensions as { Value: unknown }[]).some((d) => referencedId(d.Value) === functionLogicalId('lifecycle')),
    );
    expect(errors).toMatchObject({ AlarmActions: [topic] });
  });

  it('matches what the worker logs for a failed item', () => {
    const source = readFileSync(new URL('../../functions/lifecycle.ts', import.meta.url), 'utf8');
    expect(source).toContain("logger.warn('lifecycle item failed'");
  });

  it("draws the worker's runs and failed items on the dashboard and outputs the queue", () => {
    const [[, dashboard]] = resourcesOfType(synthesized.json, 'AWS::CloudWatch::Dashboard') as [[string, CfnResource]];
    const body = JSON.stringify(dashboard.Properties?.DashboardBody);
    expect(body).toContain('Worker runs (lifecycle)');
    expect(body).toContain('Worker items failed (lifecycle)');
    expect(referencedId(synthesized.json.Outputs?.LifecycleDeadLetterQueueUrl?.Value)).toBe(queueId());
  });
});

describe('alarms, dashboard and outputs', () => {
  const alarms = () => resourcesOfType(synthesized.json, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties ?? {});
  type MetricQuery = {
    Id: string;
    Expression?: string;
    MetricStat?: { Metric: { MetricName: string; Namespace: string; Dimensions?: { Name: string; Value: unknown }[] } };
  };
  const queries = (alarm: Record<string, unknown>): MetricQuery[] => (alarm.Metrics as MetricQuery[] | undefined) ?? [];
  const metricNamesOf = (alarm: Record<string, unknown>): string[] =>
    alarm.MetricName ? [alarm.MetricName as string] : queries(alarm).flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : []));
  const topicId = () => logicalIdOf(synthesized.json, 'AWS::SNS::Topic', 'MonitoringAlarmTopic');

  it('always has an SNS topic, refusing plain HTTP, that every alarm notifies', () => {
    synthesized.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
    expect(alarms().length).toBeGreaterThan(0);
    for (const alarm of alarms()) expect(alarm.AlarmActions, String(alarm.AlarmDescription)).toEqual([{ Ref: topicId() }]);
    expect(resourcesOfType(synthesized.json, 'AWS::SNS::Subscription')).toEqual([]);
  });

  it('alarms on the API 5xx rate, not a bare count', () => {
    const alarm = alarms().find((entry) => metricNamesOf(entry).includes('5xx'))!;
    expect(queries(alarm).find((query) => query.Expression)?.Expression).toMatch(/100 \* FILL\(errors, 0\) \/ requests/);
    expect(metricNamesOf(alarm)).toEqual(expect.arrayContaining(['5xx', 'Count']));
  });

  it('alarms on API p99 latency', () => {
    expect(alarms().some((alarm) => alarm.MetricName === 'Latency' && alarm.ExtendedStatistic === 'p99' && alarm.Threshold === 5000)).toBe(
      true,
    );
  });

  it('alarms on API throttling, counted from the access log (HTTP APIs publish no throttle metric)', () => {
    synthesized.template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '{ ($.status = "429") && ($.integrationStatus = "-") }',
      MetricTransformations: [Match.objectLike({ MetricName: 'ApiThrottledRequests', MetricNamespace: 'TrueLayerConnections' })],
    });
    expect(alarms().some((alarm) => alarm.MetricName === 'ApiThrottledRequests')).toBe(true);
  });

  it("alarms on the upstream 5xx rate from the service's own metrics", () => {
    const alarm = alarms().find((entry) => metricNamesOf(entry).includes(metricNames.upstreamCalls))!;
    const classes = queries(alarm).flatMap(
      (query) => query.MetricStat?.Metric.Dimensions?.filter((d) => d.Name === 'StatusClass').map((d) => d.Value) ?? [],
    );
    expect(new Set(classes)).toEqual(new Set(['2xx', '3xx', '4xx', '5xx', 'timeout', 'network']));
    for (const query of queries(alarm).filter((entry) => entry.MetricStat))
      expect(query.MetricStat?.Metric.Namespace).toBe('TrueLayerConnections');
  });

  it.each(functionNames)('alarms on %s errors and throttles', (name) => {
    for (const metric of ['Errors', 'Throttles']) {
      const found = alarms().some(
        (alarm) =>
          alarm.Namespace === 'AWS/Lambda' &&
          alarm.MetricName === metric &&
          (alarm.Dimensions as { Name: string; Value: unknown }[]).some(
            (d) => d.Name === 'FunctionName' && referencedId(d.Value) === functionLogicalId(name),
          ),
      );
      expect(found, `${name} ${metric}`).toBe(true);
    }
  });

  it('alarms on DynamoDB read and write throttles, the indexes included', () => {
    const alarm = alarms().find((entry) => metricNamesOf(entry).includes('WriteThrottleEvents'))!;
    expect(metricNamesOf(alarm)).toEqual(expect.arrayContaining(['ReadThrottleEvents', 'WriteThrottleEvents']));
    const indexes = queries(alarm).flatMap(
      (query) => query.MetricStat?.Metric.Dimensions?.filter((d) => d.Name === 'GlobalSecondaryIndexName').map((d) => d.Value) ?? [],
    );
    expect(indexes).toContain(tableDefinition.ownerIndex.name);
  });

  it('draws a dashboard of requests, errors and p50/p99 per route, upstream errors by code, refreshes, the worker and throttles', () => {
    const [[, dashboard]] = resourcesOfType(synthesized.json, 'AWS::CloudWatch::Dashboard') as [[string, CfnResource]];
    const body = JSON.stringify(dashboard.Properties?.DashboardBody);
    for (const title of [
      'Requests per route',
      'Errors per route',
      'Latency p50 per route',
      'Latency p99 per route',
      'TrueLayer errors by code',
      'Refreshes',
      'Worker items',
      'Throttles',
    ]) {
      expect(body, title).toContain(title);
    }
    for (const route of routes) expect(body, routeKey(route)).toContain(`${route.method} ${route.path}`);
    expect(body).toContain(`MetricName=\\\\\\"${metricNames.upstreamErrors}\\\\\\"`);
  });

  it('outputs the API URL, the callback URL to register and the alarm topic; the data stack outputs the user pool, client, secret, table and bus', () => {
    const outputs = synthesized.json.Outputs ?? {};
    for (const name of ['ApiUrl', 'CallbackUrl', 'JwtIssuer', 'AlarmTopicArn', 'DashboardName', 'LifecycleDeadLetterQueueUrl'])
      expect(outputs, name).toHaveProperty(name);
    expect(outputs.CallbackUrl?.Value).toEqual({
      'Fn::Join': [
        '',
        [{ 'Fn::GetAtt': [logicalIdOf(synthesized.json, 'AWS::ApiGatewayV2::Api', 'ApiHttpApi'), 'ApiEndpoint'] }, '/callback'],
      ],
    });
    const dataOutputs = synthesized.data.json.Outputs ?? {};
    for (const name of ['UserPoolId', 'UserPoolClientId', 'ClientSecretName', 'TableName', 'EventBusName', 'WebhookSecretArn'])
      expect(dataOutputs, name).toHaveProperty(name);
    expect(referencedId(dataOutputs.TableName?.Value)).toBe(tableId());
  });

  it('is deployable: no sam-local guard rule', () => {
    expect(Object.keys(synthesized.json.Rules ?? {})).toEqual(['CheckBootstrapVersion']);
  });
});

describe('two stacks', () => {
  it('keeps state in a termination-protected data stack and nothing stateful in the service stack', () => {
    expect(synthesized.dataStack.terminationProtection).toBe(true);
    expect(synthesized.stack.terminationProtection).toBe(false);
    for (const type of [
      'AWS::DynamoDB::Table',
      'AWS::KMS::Key',
      'AWS::SecretsManager::Secret',
      'AWS::Cognito::UserPool',
      'AWS::Events::EventBus',
    ]) {
      expect(resourcesOfType(synthesized.json, type), type).toEqual([]);
      expect(resourcesOfType(synthesized.data.json, type).length, type).toBeGreaterThan(0);
    }
    expect(synthesized.stack.dependencies.map((stack) => stack.stackName)).toEqual(['TrueLayerConnections-Data']);
  });

  it('tags both stacks and every taggable resource with service, environment and owner', () => {
    const expected = { service: 'truelayer-connections', environment: 'dev', owner: 'platform' };
    for (const stack of [synthesized.stack, synthesized.dataStack]) {
      expect(synthesized.assembly.getStackByName(stack.stackName).tags).toMatchObject(expected);
    }
    for (const json of [synthesized.json, synthesized.data.json]) {
      for (const [id, resource] of Object.entries(json.Resources)) {
        const tags = resource.Properties?.Tags;
        if (!Array.isArray(tags)) continue;
        const byKey = Object.fromEntries((tags as { Key: string; Value: string }[]).map((tag) => [tag.Key, tag.Value]));
        expect(byKey, id).toMatchObject(expected);
      }
    }
  });
});

describe('checks', () => {
  it.each(['service', 'data'] as const)('the %s stack passes cdk-nag AwsSolutions with every finding acknowledged', (which) => {
    const stack = which === 'service' ? synthesized.stack : synthesized.dataStack;
    const report = new AwsSolutionsChecks(synthesized.app).validateScope(stack);
    const findings = report.violations.map(
      (violation) => `${violation.ruleName}: ${violation.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
  });

  it('gives every acknowledgement a reason', () => {
    const acknowledged = [synthesized.stack, synthesized.dataStack]
      .flatMap((stack) => stack.node.findAll())
      .flatMap((construct) => construct.node.metadata.filter((entry) => entry.type === 'aws:cdk:acknowledged-rules'))
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>));
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const [id, reason] of acknowledged) expect(reason.length, id).toBeGreaterThan(40);
  });

  const cfnLint = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
  const hasCfnLint = cfnLint.status === 0;
  if (!hasCfnLint) console.warn('cfn-lint is not installed: skipping the cfn-lint check (pip install cfn-lint to run it)');

  it.skipIf(!hasCfnLint).each(['service', 'data'] as const)('the %s template has no cfn-lint errors', (which) => {
    const file = which === 'service' ? synthesized.templateFile : synthesized.data.templateFile;
    let output: string;
    try {
      output = execFileSync('cfn-lint', ['--format', 'json', '--', file], { encoding: 'utf8' });
    } catch (error) {
      // cfn-lint exits non-zero for warnings too; the JSON on stdout says which.
      output = (error as { stdout?: string }).stdout ?? '';
      if (!output) throw error;
    }
    const matches = JSON.parse(output) as { Level: string; Rule: { Id: string }; Message: string }[];
    expect(matches.filter((match) => match.Level === 'Error').map((match) => `${match.Rule.Id} ${match.Message}`)).toEqual([]);
  });
});
