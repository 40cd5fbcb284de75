/**
 * The deployed service as two stacks. The data stack holds what must outlive any deploy (the table
 * and its key, the token key, the secrets, the user pool, the event bus) and is termination-protected;
 * the service stack holds what can be torn down and rebuilt at will (API, functions, the worker's
 * schedule and dead-letter queue, dashboard, alarms, deployments) and reaches the data stack's resources through CDK's cross-stack references.
 * Routes come from functions/routes.ts and the table from shared/table.ts, so nothing here can drift
 * from what the local stack serves.
 */

import type { StackProps } from 'aws-cdk-lib';
import { CfnOutput, CfnRule, Fn, Stack, Tags } from 'aws-cdk-lib';
import { EventBus } from 'aws-cdk-lib/aws-events';
import type { Construct } from 'constructs';
import { Api } from './constructs/api';
import { Deployments } from './constructs/deployments';
import { Functions } from './constructs/functions';
import { cognitoAccessTokenScope, Identity } from './constructs/identity';
import { KeysAndSecrets } from './constructs/keys-and-secrets';
import { Lifecycle } from './constructs/lifecycle';
import { Monitoring } from './constructs/monitoring';
import { Storage } from './constructs/storage';
import type { DeployOptions } from './deploy-options';
import { serviceName } from './names';

export { functionLogicalId } from './names';

/** What `sam local` gives the functions instead of AWS: the local stack's DynamoDB and the simulator (see README). */
export const samLocalEnvironment = {
  TABLE_NAME: 'truelayer-connections',
  TRUELAYER_ENV: 'local',
  TRUELAYER_AUTH_URL: 'http://host.docker.internal:3100',
  TRUELAYER_API_URL: 'http://host.docker.internal:3100',
  // The simulator's built-in client: public test values, not credentials.
  TRUELAYER_CLIENT_ID: 'sandbox-local',
  TRUELAYER_CLIENT_SECRET: 'local-secret',
  // Deliberately invalid, so a forgotten --env-vars fails with the config error that names it.
  LOCAL_TOKEN_KEY: 'set-me-in-events-env-json',
  DYNAMODB_ENDPOINT: 'http://host.docker.internal:8000',
  ALLOWED_RETURN_URLS: 'http://127.0.0.1:3000/,http://localhost:3000/',
  CORS_ORIGINS: '',
  CALLBACK_URL: 'http://127.0.0.1:3000/callback',
} as const;

/** The data stack's name for a service stack name. */
export const dataStackName = (stackName: string): string => `${stackName}-Data`;

/**
 * Tags on every resource that takes them (the stacks' own tags, which CloudFormation also propagates,
 * are set through `tags`). Dashboards are skipped: CloudFormation's schema for them has no Tags.
 */
const tagged = (stack: Stack, tags: DeployOptions['tags']): void => {
  for (const [key, value] of Object.entries(tags)) Tags.of(stack).add(key, value, { excludeResourceTypes: ['AWS::CloudWatch::Dashboard'] });
};

export interface StackOptionsProps extends StackProps {
  options: DeployOptions;
}

/** Stateful: nothing here is replaced or deleted by a deploy, and the stack itself refuses deletion. */
export class ConnectionsDataStack extends Stack {
  readonly storage: Storage;
  readonly keys: KeysAndSecrets;
  readonly identity: Identity | undefined;
  readonly eventBus: EventBus;

  constructor(scope: Construct, id: string, props: StackOptionsProps) {
    super(scope, id, {
      description: `${serviceName}: stored state (table, keys, secrets, user pool, event bus); termination-protected`,
      terminationProtection: true,
      tags: props.options.tags,
      ...props,
    });
    const { options } = props;
    tagged(this, options.tags);
    this.storage = new Storage(this, 'Storage');
    this.keys = new KeysAndSecrets(this, 'KeysAndSecrets', {
      clientSecretArn: options.clientSecretArn,
      secretKmsKeyArn: options.secretKmsKeyArn,
    });
    this.identity = options.jwt ? undefined : new Identity(this, 'Identity');
    this.eventBus = new EventBus(this, 'ConnectionEvents', {
      eventBusName: `${this.stackName}-connection-events`,
      description: 'connection.* events of truelayer-connections',
    });

    new CfnOutput(this, 'TableName', { value: this.storage.table.tableName });
    new CfnOutput(this, 'TokenKeyArn', { value: this.keys.tokenKey.keyArn });
    new CfnOutput(this, 'ClientSecretName', {
      value: this.keys.clientSecret.secretName,
      description: 'Put {"client_id","client_secret"} here with aws secretsmanager put-secret-value',
    });
    new CfnOutput(this, 'ClientSecretArn', { value: this.keys.clientSecret.secretArn });
    new CfnOutput(this, 'WebhookSecretArn', {
      value: this.keys.webhookSecret.secretArn,
      description: 'Signing key of connection-event webhooks: share it with the receiving app',
    });
    new CfnOutput(this, 'EventBusName', { value: this.eventBus.eventBusName, description: 'connection.* events arrive here' });
    if (this.identity) {
      new CfnOutput(this, 'UserPoolId', { value: this.identity.userPool.userPoolId, description: "Cognito user pool of the API's users" });
      new CfnOutput(this, 'UserPoolClientId', {
        value: this.identity.client.userPoolClientId,
        description: 'Cognito app client id (the JWT audience)',
      });
    }
  }
}

export interface ConnectionsStackProps extends StackOptionsProps {
  data: ConnectionsDataStack;
}

/** Stateless: API, functions, dashboard, alarms and deployments; safe to destroy and deploy again. */
export class ConnectionsStack extends Stack {
  readonly options: DeployOptions;
  readonly functions: Functions;
  readonly api: Api;
  readonly monitoring: Monitoring;
  readonly deployments: Deployments;
  /** The schedule of the lifecycle worker and its dead-letter queue. */
  readonly lifecycle: Lifecycle;
  readonly data: ConnectionsDataStack;

  constructor(scope: Construct, id: string, props: ConnectionsStackProps) {
    super(scope, id, {
      description: `${serviceName}: TrueLayer Data API v1 bank connections (HTTP API, Lambda, dashboard, alarms); stateless`,
      tags: props.options.tags,
      ...props,
    });
    this.options = props.options;
    const { data, options } = props;
    this.data = data;
    tagged(this, options.tags);
    this.addStackDependency(data);

    const identity = data.identity;
    const jwt = identity
      ? { issuer: identity.issuer, audience: [identity.client.userPoolClientId], scopes: [cognitoAccessTokenScope] }
      : { issuer: options.jwt?.issuer ?? '', audience: options.jwt?.audience ?? [], scopes: options.jwtScopes };

    const common = {
      POWERTOOLS_SERVICE_NAME: serviceName,
      POWERTOOLS_METRICS_NAMESPACE: options.metricsNamespace,
      // Traces carry names and statuses only: never a response or request body.
      POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
      POWERTOOLS_TRACER_CAPTURE_HTTPS_REQUESTS: 'false',
      LOG_LEVEL: options.logLevel,
      ...(options.sourceMaps ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
    };

    // The API's URL is needed for the callback URL the functions hand to TrueLayer; the API needs the
    // functions' aliases. CloudFormation resolves both in one deploy: the API resource does not depend on them.
    const environment = (callbackUrl: string): Record<string, string> =>
      options.samLocal
        ? { ...samLocalEnvironment, ...common }
        : {
            TABLE_NAME: data.storage.table.tableName,
            TRUELAYER_ENV: options.truelayerEnv,
            TRUELAYER_SECRET_ID: data.keys.clientSecret.secretArn,
            TOKEN_KMS_KEY_ID: data.keys.tokenKey.keyArn,
            ALLOWED_RETURN_URLS: options.allowedReturnUrls.join(','),
            CORS_ORIGINS: options.corsOrigins.join(','),
            CALLBACK_URL: callbackUrl,
            ...(options.truelayerProviders ? { TRUELAYER_PROVIDERS: options.truelayerProviders } : {}),
            ...(options.truelayerTimeoutMs ? { TRUELAYER_TIMEOUT_MS: String(options.truelayerTimeoutMs) } : {}),
            ...common,
          };

    this.functions = new Functions(this, 'Functions', {
      resources: {
        table: data.storage.table,
        tableKey: data.storage.tableKey,
        indexNames: data.storage.indexNames,
        tokenKey: data.keys.tokenKey,
        clientSecret: data.keys.clientSecret,
        clientSecretKey: data.keys.clientSecretKey,
        eventBus: data.eventBus,
        webhookSecret: data.keys.webhookSecret,
        accountHashSecret: data.keys.accountHashSecret,
      },
      environment: {},
      // sam local resolves nothing from the data stack.
      capabilityEnvironment: !options.samLocal,
      secretsExtension: !options.samLocal,
      logRetentionDays: options.logRetentionDays,
      sourceMaps: options.sourceMaps,
      reservedConcurrency: options.reservedConcurrency,
    });
    this.api = new Api(this, 'Api', {
      targets: Object.fromEntries(this.functions.all.map(({ spec, alias }) => [spec.name, alias])),
      jwt,
      corsOrigins: options.corsOrigins,
      throttleRateLimit: options.throttleRateLimit,
      throttleBurstLimit: options.throttleBurstLimit,
      callbackThrottle: { rateLimit: options.callbackThrottleRateLimit, burstLimit: options.callbackThrottleBurstLimit },
      logRetentionDays: options.logRetentionDays,
      domain: options.domain,
    });
    const callbackUrl = options.callbackUrl ?? `${this.api.url}/callback`;
    const env = environment(callbackUrl);
    for (const { fn } of this.functions.all) for (const [key, value] of Object.entries(env)) fn.addEnvironment(key, value);
    // Where the functions that publish events also POST them (signed with the webhook secret).
    if (options.webhookUrl && !options.samLocal) {
      for (const { spec, fn } of this.functions.all)
        if (spec.uses.includes('events:publish')) fn.addEnvironment('WEBHOOK_URL', options.webhookUrl);
    }

    this.monitoring = new Monitoring(this, 'Monitoring', {
      httpApi: this.api.httpApi,
      stage: this.api.stage,
      accessLogs: this.api.accessLogs,
      functions: this.functions.all.map(({ spec, fn }) => ({ name: spec.name, fn, scheduled: spec.schedule !== undefined })),
      table: data.storage.table,
      indexNames: data.storage.indexNames,
      metricsNamespace: options.metricsNamespace,
      alarmEmail: options.alarmEmail,
      latencyP99Ms: options.latencyAlarmMs,
    });
    // Before the deployments: the worker's alarms are the ones its canary rolls back on.
    this.lifecycle = new Lifecycle(this, 'Lifecycle', {
      scheduled: this.functions.all.filter(({ spec }) => spec.schedule !== undefined),
      monitoring: this.monitoring,
    });
    this.deployments = new Deployments(this, 'Deployments', {
      style: options.deployment,
      functions: this.functions.all.map(({ spec, alias }) => ({
        name: spec.name,
        alias,
        alarms: this.monitoring.deploymentAlarms.get(spec.name) ?? [],
      })),
    });
    this.monitoring.render();

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the API' });
    new CfnOutput(this, 'CallbackUrl', {
      value: callbackUrl,
      description: 'Register this redirect URI for your client in TrueLayer Console',
    });
    new CfnOutput(this, 'JwtIssuer', { value: jwt.issuer, description: 'Issuer the JWT authorizer accepts' });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.monitoring.topic.topicArn,
      description: 'Every alarm notifies this topic: subscribe your on-call tool',
    });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });
    new CfnOutput(this, 'LifecycleDeadLetterQueueUrl', {
      value: this.lifecycle.deadLetterQueue.queueUrl,
      description: 'Scheduled lifecycle runs that were not delivered or failed land here (alarmed)',
    });
    if (this.api.domain) {
      new CfnOutput(this, 'DomainTarget', {
        value: this.api.domain.regionalDomainName,
        description: `Point ${options.domain?.name} (CNAME or alias) here`,
      });
    }

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
}
