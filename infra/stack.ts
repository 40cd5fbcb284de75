/**
 * The deployed service: HTTP API with a JWT authorizer, one Lambda per function spec, the table,
 * the token and table KMS keys, the client-credentials secret, logs, throttling and alarms. Routes
 * come from functions/routes.ts and the table from shared/table.ts, so nothing here can drift from
 * what the local stack serves.
 */
import { join } from 'node:path';
import { CfnOutput, CfnRule, Duration, Fn, RemovalPolicy, SecretValue, Stack, Tags, Validations } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, HttpNoneAuthorizer, HttpRoute, HttpRouteKey, HttpStage, LogGroupLogDestination, CorsHttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import type { IHttpRouteAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Alarm, ComparisonOperator, MathExpression, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { AccountRecovery, FeaturePlan, Mfa, UserPool } from 'aws-cdk-lib/aws-cognito';
import type { UserPoolClient } from 'aws-cdk-lib/aws-cognito';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { functionSpecs, routeKey, routes } from '../functions/routes';
import type { Capability, FunctionName, FunctionSpec, HttpMethod as RouteMethod } from '../functions/routes';
import { tableDefinition } from '../shared/table';
import { PLACEHOLDER } from '../shared/truelayer/client-credentials';
import { cdkBundlingOptions, repositoryRoot } from './bundle';
import type { DeployOptions } from './deploy-options';

export const serviceName = 'truelayer-connections';

const functionNames = Object.keys(functionSpecs) as FunctionName[];

const pascal = (name: string): string => name.charAt(0).toUpperCase() + name.slice(1);

/**
 * The CloudFormation logical id of a function, fixed so `sam local invoke <id>` and the
 * `--env-vars` file keep working across changes to the construct tree.
 */
export const functionLogicalId = (name: FunctionName): string => `${pascal(name)}Function`;

const attributeType = { S: AttributeType.STRING, N: AttributeType.NUMBER, B: AttributeType.BINARY } as const;

const methods: Record<RouteMethod, HttpMethod> = { GET: HttpMethod.GET, POST: HttpMethod.POST, DELETE: HttpMethod.DELETE };

/** What `sam local` gives the functions instead of AWS: the local stack's DynamoDB and the simulator (see README). */
export const samLocalEnvironment = {
  TABLE_NAME: 'truelayer-connections',
  TRUELAYER_ENV: 'local',
  TRUELAYER_AUTH_URL: 'http://host.docker.internal:3100',
  TRUELAYER_API_URL: 'http://host.docker.internal:3100',
  // The simulator's built-in client (DESIGN §6): public test values, not credentials.
  TRUELAYER_CLIENT_ID: 'sandbox-local',
  TRUELAYER_CLIENT_SECRET: 'local-secret',
  // Deliberately invalid, so a forgotten --env-vars fails with the config error that names it.
  LOCAL_TOKEN_KEY: 'set-me-in-events-env-json',
  DYNAMODB_ENDPOINT: 'http://host.docker.internal:8000',
  ALLOWED_RETURN_URLS: 'http://127.0.0.1:3000/,http://localhost:3000/',
  CORS_ORIGINS: '',
  CALLBACK_URL: 'http://127.0.0.1:3000/callback',
} as const;

/** HTTP API access log: one JSON line per request. No query string: /callback's carries the code and state. */
const accessLogFormat = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    time: '$context.requestTime',
    ip: '$context.identity.sourceIp',
    userAgent: '$context.identity.userAgent',
    routeKey: '$context.routeKey',
    path: '$context.path',
    status: '$context.status',
    protocol: '$context.protocol',
    responseLength: '$context.responseLength',
    responseLatency: '$context.responseLatency',
    integrationLatency: '$context.integrationLatency',
    integrationStatus: '$context.integrationStatus',
    integrationError: '$context.integrationErrorMessage',
    authorizerError: '$context.authorizer.error',
    sub: '$context.authorizer.claims.sub',
  }),
);

export interface ConnectionsStackProps extends StackProps {
  options: DeployOptions;
}

export class ConnectionsStack extends Stack {
  readonly options: DeployOptions;
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly table: Table;
  readonly tableKey: Key;
  readonly tokenKey: Key;
  readonly clientSecret: ISecret;
  readonly functions: Record<FunctionName, NodejsFunction>;
  readonly userPool: UserPool | undefined;
  readonly userPoolClient: UserPoolClient | undefined;
  readonly alarms: Alarm[] = [];
  readonly alarmTopic: Topic | undefined;

  constructor(scope: Construct, id: string, props: ConnectionsStackProps) {
    super(scope, id, {
      description: 'truelayer-connections: TrueLayer Data API v1 bank connections (HTTP API, Lambda, DynamoDB, KMS, Secrets Manager)',
      ...props,
    });
    const options = (this.options = props.options);
    Tags.of(this).add('service', serviceName);

    // ---- Keys, table, secret -------------------------------------------------------------------
    this.tableKey = new Key(this, 'TableKey', {
      description: `${serviceName}: DynamoDB table encryption at rest`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.tokenKey = new Key(this, 'TokenKey', {
      description: `${serviceName}: envelope data keys for stored TrueLayer tokens`,
      enableKeyRotation: true,
      // Losing this key makes every stored token unreadable: it outlives the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.table = new Table(this, 'Table', {
      partitionKey: { name: tableDefinition.partitionKey.name, type: attributeType[tableDefinition.partitionKey.type] },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.tableKey,
      timeToLiveAttribute: tableDefinition.ttlAttribute,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: tableDefinition.ownerIndex.name,
      partitionKey: { name: tableDefinition.ownerIndex.partitionKey.name, type: attributeType[tableDefinition.ownerIndex.partitionKey.type] },
      sortKey: { name: tableDefinition.ownerIndex.sortKey.name, type: attributeType[tableDefinition.ownerIndex.sortKey.type] },
      projectionType: ProjectionType.ALL,
    });

    this.clientSecret = options.clientSecretArn ? importSecret(this, options.clientSecretArn) : this.createClientSecret();

    // ---- API and authorizer --------------------------------------------------------------------
    this.api = new HttpApi(this, 'HttpApi', {
      apiName: `${serviceName}-${this.stackName}`,
      description: 'TrueLayer bank connections for client apps',
      createDefaultStage: false,
      ...(options.corsOrigins.length > 0
        ? {
            corsPreflight: {
              allowOrigins: options.corsOrigins,
              allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.DELETE],
              allowHeaders: ['authorization', 'content-type'],
              exposeHeaders: ['location', 'retry-after', 'x-tl-correlation-id'],
              maxAge: Duration.minutes(10),
            },
          }
        : {}),
    });

    const accessLogs = new LogGroup(this, 'ApiAccessLogs', { retention: options.logRetentionDays as RetentionDays });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: options.throttleRateLimit, burstLimit: options.throttleBurstLimit },
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs), format: accessLogFormat },
    });

    let issuer: string;
    let audience: string[];
    if (options.jwt) {
      ({ issuer, audience } = options.jwt);
      this.userPool = undefined;
      this.userPoolClient = undefined;
    } else {
      const { pool, client } = this.createUserPool();
      this.userPool = pool;
      this.userPoolClient = client;
      // Not `userPoolProviderUrl`: CloudFormation's ProviderURL has no scheme, and the authorizer
      // compares the token's `iss` (https://…) exactly.
      issuer = `https://cognito-idp.${this.region}.amazonaws.com/${pool.userPoolId}`;
      audience = [client.userPoolClientId];
    }
    const jwtAuthorizer = new HttpJwtAuthorizer('JwtAuthorizer', issuer, { jwtAudience: audience, identitySource: ['$request.header.Authorization'] });

    const apiUrl = this.api.apiEndpoint;
    const callbackUrl = options.callbackUrl ?? `${apiUrl}/callback`;

    // ---- Functions -----------------------------------------------------------------------------
    const environment = options.samLocal
      ? { ...samLocalEnvironment }
      : {
          TABLE_NAME: this.table.tableName,
          TRUELAYER_ENV: options.truelayerEnv,
          TRUELAYER_SECRET_ID: this.clientSecret.secretArn,
          TOKEN_KMS_KEY_ID: this.tokenKey.keyArn,
          ALLOWED_RETURN_URLS: options.allowedReturnUrls.join(','),
          CORS_ORIGINS: options.corsOrigins.join(','),
          CALLBACK_URL: callbackUrl,
          ...(options.truelayerProviders ? { TRUELAYER_PROVIDERS: options.truelayerProviders } : {}),
          ...(options.truelayerTimeoutMs ? { TRUELAYER_TIMEOUT_MS: String(options.truelayerTimeoutMs) } : {}),
        };
    const common = {
      POWERTOOLS_SERVICE_NAME: serviceName,
      LOG_LEVEL: options.logLevel,
      ...(options.sourceMaps ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
    };

    this.functions = Object.fromEntries(
      functionNames.map((name) => [name, this.createFunction(functionSpecs[name], { ...environment, ...common })]),
    ) as Record<FunctionName, NodejsFunction>;

    // ---- Routes, from the one route table --------------------------------------------------------
    const integrations = Object.fromEntries(
      functionNames.map((name) => [name, new HttpLambdaIntegration(`${pascal(name)}Integration`, this.functions[name])]),
    ) as Record<FunctionName, HttpLambdaIntegration>;
    for (const route of routes) {
      const authorizer: IHttpRouteAuthorizer = route.auth === 'jwt' ? jwtAuthorizer : new HttpNoneAuthorizer();
      const httpRoute = new HttpRoute(this, `Route ${routeKey(route).replaceAll('/', '|')}`, {
        httpApi: this.api,
        routeKey: HttpRouteKey.with(route.path, methods[route.method]),
        integration: integrations[route.function],
        authorizer,
      });
      if (route.auth === 'none') {
        Validations.of(httpRoute).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            'TrueLayer sends the end user\'s browser to /callback, which carries no bearer token. The callback function authorises the request itself by consuming a single-use, expiring auth state (stored hashed, bound to the connection and its owner) before it exchanges the code.',
        });
      }
    }

    // ---- Alarms --------------------------------------------------------------------------------
    this.alarmTopic = options.alarmEmail ? this.createAlarmTopic(options.alarmEmail) : undefined;
    this.createAlarms();

    // ---- Outputs -------------------------------------------------------------------------------
    new CfnOutput(this, 'ApiUrl', { value: apiUrl, description: 'Base URL of the API' });
    new CfnOutput(this, 'CallbackUrl', { value: callbackUrl, description: 'Register this redirect URI for your client in TrueLayer Console' });
    new CfnOutput(this, 'JwtIssuer', { value: issuer, description: 'Issuer the JWT authorizer accepts' });
    if (this.userPool && this.userPoolClient) {
      new CfnOutput(this, 'UserPoolId', { value: this.userPool.userPoolId, description: 'Cognito user pool of the API\'s users' });
      new CfnOutput(this, 'UserPoolClientId', { value: this.userPoolClient.userPoolClientId, description: 'Cognito app client id (the JWT audience)' });
    }
    new CfnOutput(this, 'ClientSecretName', { value: this.clientSecret.secretName, description: 'Put {"client_id","client_secret"} here with aws secretsmanager put-secret-value' });
    new CfnOutput(this, 'ClientSecretArn', { value: this.clientSecret.secretArn });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'TokenKeyArn', { value: this.tokenKey.keyArn });
    if (this.alarmTopic) new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });

    if (options.samLocal) {
      // sam local ignores Rules; CloudFormation evaluates them first and fails, so this template can never be deployed.
      new CfnRule(this, 'SamLocalTemplateIsNotDeployable', {
        assertions: [
          {
            assert: Fn.conditionEquals('sam-local', 'deployable'),
            assertDescription: 'This template was synthesized with -c samLocal=true for sam local only. Synthesize without it to deploy.',
          },
        ],
      });
    }
  }

  private createClientSecret(): Secret {
    const secret = new Secret(this, 'ClientSecret', {
      description: 'TrueLayer client credentials as {"client_id","client_secret"}; set them with aws secretsmanager put-secret-value',
      // A placeholder the service reads as "not configured", never a credential. CloudFormation
      // writes it only on create: later deploys leave the value put by the operator alone.
      secretObjectValue: {
        client_id: SecretValue.unsafePlainText(PLACEHOLDER),
        client_secret: SecretValue.unsafePlainText(PLACEHOLDER),
      },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The secret holds the TrueLayer client_id/client_secret, which only TrueLayer Console can issue or rotate; there is no API a rotation Lambda could call. Operators rotate in the Console and put the new value (the functions re-read it within minutes).',
    });
    return secret;
  }

  private createUserPool(): { pool: UserPool; client: UserPoolClient } {
    const pool = new UserPool(this, 'UserPool', {
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      featurePlan: FeaturePlan.ESSENTIALS,
      // Users' `sub`s own the stored connections: the pool outlives the stack.
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(pool).acknowledge({
      id: 'AwsSolutions-COG2',
      reason:
        'MFA is offered (TOTP) but not forced: the default pool is a starting point whose sign-in policy belongs to the client app, and the bank itself applies strong customer authentication to every consent. Bring your own issuer with -c jwtIssuer for stricter policies.',
    });
    Validations.of(pool).acknowledge({
      id: 'AwsSolutions-COG8',
      reason: 'The Plus feature plan (threat protection) is billed per active user; the default pool stays on Essentials and operators opt in by changing the plan.',
    });
    const client = pool.addClient('AppClient', {
      generateSecret: false,
      // SRP for apps; admin password auth so operators can mint a token with the AWS CLI (README).
      authFlows: { userSrp: true, adminUserPassword: true },
      disableOAuth: true,
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
    });
    return { pool, client };
  }

  private createFunction(spec: FunctionSpec, environment: Record<string, string>): NodejsFunction {
    const id = functionLogicalId(spec.name);
    const logGroup = new LogGroup(this, `${pascal(spec.name)}Logs`, { retention: this.options.logRetentionDays as RetentionDays });
    // An explicit role: no AWS managed policy, logs only to this function's own group.
    const role = new Role(this, `${pascal(spec.name)}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${serviceName} ${spec.name}: ${spec.uses.join(', ')}`,
    });
    logGroup.grantWrite(role);
    for (const capability of spec.uses) for (const statement of this.statementsFor(capability)) role.addToPolicy(statement);

    const fn = new NodejsFunction(this, id, {
      entry: join(repositoryRoot, spec.entry),
      handler: 'handler',
      projectRoot: repositoryRoot,
      depsLockFilePath: join(repositoryRoot, 'package-lock.json'),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: spec.memoryMb,
      timeout: Duration.seconds(spec.timeoutSeconds),
      description: spec.description,
      role,
      logGroup,
      environment,
      bundling: cdkBundlingOptions({ sourceMaps: this.options.sourceMaps }),
    });
    (fn.node.defaultChild as CfnFunction).overrideLogicalId(id);
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to nodejs22.x on purpose (DESIGN §7): bundles target node22 and are tested on it; moving to a newer runtime is a deliberate change, not drift.',
    });
    return fn;
  }

  /** Exactly what one capability needs, on exactly one resource. */
  private statementsFor(capability: Capability): PolicyStatement[] {
    const tableArn = this.table.tableArn;
    const ownerIndexArn = `${tableArn}/index/${tableDefinition.ownerIndex.name}`;
    const tableKeyArn = this.tableKey.keyArn;
    switch (capability) {
      case 'table:read':
        return [
          new PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:Query'], resources: [tableArn, ownerIndexArn] }),
          // DynamoDB encrypts with the table's customer-managed key on the caller's behalf.
          new PolicyStatement({ actions: ['kms:Decrypt', 'kms:DescribeKey'], resources: [tableKeyArn] }),
        ];
      case 'table:write':
        return [
          new PolicyStatement({ actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], resources: [tableArn] }),
          new PolicyStatement({
            actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'],
            resources: [tableKeyArn],
          }),
        ];
      case 'tokenKey:encrypt':
        return [new PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [this.tokenKey.keyArn] })];
      case 'tokenKey:decrypt':
        return [new PolicyStatement({ actions: ['kms:Decrypt'], resources: [this.tokenKey.keyArn] })];
      case 'clientSecret:read':
        return [new PolicyStatement({ actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], resources: [this.clientSecret.secretArn] })];
    }
  }

  private createAlarmTopic(email: string): Topic {
    const topic = new Topic(this, 'AlarmTopic', { displayName: `${serviceName} alarms`, enforceSSL: true });
    topic.addSubscription(new EmailSubscription(email));
    return topic;
  }

  private alarm(id: string, metric: IMetric, threshold: number, description: string): void {
    const alarm = new Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    if (this.alarmTopic) alarm.addAlarmAction(new SnsAction(this.alarmTopic));
    this.alarms.push(alarm);
  }

  private createAlarms(): void {
    const period = Duration.minutes(5);
    this.alarm(
      'Api5xxAlarm',
      this.api.metricServerError({ period, statistic: 'Sum' }),
      5,
      'The API answered 5 or more 5xx in 5 minutes (function failures, or TrueLayer unavailable: see the data function logs).',
    );
    for (const name of functionNames) {
      const fn = this.functions[name];
      this.alarm(`${pascal(name)}ErrorsAlarm`, fn.metricErrors({ period, statistic: 'Sum' }), 1, `The ${name} function failed (uncaught error or timeout).`);
      this.alarm(`${pascal(name)}ThrottlesAlarm`, fn.metricThrottles({ period, statistic: 'Sum' }), 1, `The ${name} function was throttled (account or reserved concurrency exhausted).`);
    }
    const throttles = (metricName: string, indexName?: string) =>
      this.table.metric(metricName, {
        period,
        statistic: 'Sum',
        dimensionsMap: { TableName: this.table.tableName, ...(indexName ? { GlobalSecondaryIndexName: indexName } : {}) },
      });
    this.alarm(
      'TableThrottlesAlarm',
      new MathExpression({
        expression: 'FILL(r, 0) + FILL(w, 0) + FILL(ir, 0)',
        usingMetrics: { r: throttles('ReadThrottleEvents'), w: throttles('WriteThrottleEvents'), ir: throttles('ReadThrottleEvents', tableDefinition.ownerIndex.name) },
        period,
        label: 'DynamoDB throttle events',
      }),
      1,
      'DynamoDB throttled reads or writes on the connections table or its owner index.',
    );
  }
}

/** An existing secret, by its complete ARN (with the 6-character suffix, as describe-secret prints it). */
const importSecret = (scope: Construct, arn: string): ISecret => Secret.fromSecretCompleteArn(scope, 'ClientSecret', arn);
