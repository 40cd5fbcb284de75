/**
 * One Lambda per entry of `functionSpecs` (functions/routes.ts), whatever the entries are: its own
 * log group and role, exactly the grants its capabilities name, X-Ray tracing, JSON logs, the
 * Parameters and Secrets extension where it reads a secret, and a published version behind the
 * `live` alias that API Gateway calls and CodeDeploy shifts.
 */
import { join } from 'node:path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import {
  Alias,
  Architecture,
  LoggingFormat,
  ParamsAndSecretsLayerVersion,
  ParamsAndSecretsLogLevel,
  ParamsAndSecretsVersions,
  Runtime,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { Capability, FunctionSpec } from '../../functions/routes';
import { functionSpecs } from '../../functions/routes';
import { KMS_ENCRYPTION_CONTEXT_KEYS } from '../../shared/crypto/data-keys';
import { tableDefinition } from '../../shared/table';
import { cdkBundlingOptions, repositoryRoot } from '../bundle';
import { functionLogicalId, liveAliasName, pascal, serviceName } from '../names';

/** What the capabilities reach. Optional parts are simply absent from stacks that have none. */
export interface FunctionResources {
  table: ITable;
  tableKey: IKey;
  /** Secondary index names of the table (the owner index is the one `table:read` may query). */
  indexNames: readonly string[];
  tokenKey: IKey;
  clientSecret: ISecret;
  /** The customer-managed key of an imported client secret. */
  clientSecretKey?: IKey | undefined;
  eventBus?: IEventBus | undefined;
  webhookSecret?: ISecret | undefined;
  /** The key that hashes account numbers to find duplicate connections. */
  accountHashSecret?: ISecret | undefined;
}

export interface FunctionsProps {
  resources: FunctionResources;
  /** Variables every function gets (configuration from context, or the sam local set). */
  environment: Record<string, string>;
  /** Give each function the variables its capabilities bring (bus name, secret ids); off for sam local. */
  capabilityEnvironment: boolean;
  /**
   * Attach the Parameters and Secrets extension to the functions that read a secret. Off for sam
   * local, where no secret is given by id and the layer would only make sam download it.
   */
  secretsExtension: boolean;
  logRetentionDays: number;
  sourceMaps: boolean;
  /** Reserved concurrency by function name; only functions named here get any. */
  reservedConcurrency: Readonly<Record<string, number>>;
}

/** A function as the other parts see it: the function itself and the alias callers must use. */
export interface DeployedFunction {
  spec: FunctionSpec;
  fn: NodejsFunction;
  alias: Alias;
}

export class Functions extends Construct {
  readonly byName: Record<string, DeployedFunction>;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: FunctionsProps,
  ) {
    super(scope, id);
    for (const name of Object.keys(props.reservedConcurrency)) {
      if (!(name in functionSpecs))
        throw new Error(`reservedConcurrency names ${name}, which is not a function (${Object.keys(functionSpecs).join(', ')})`);
    }
    this.byName = Object.fromEntries(Object.values(functionSpecs).map((spec: FunctionSpec) => [spec.name, this.create(spec)]));
  }

  get all(): DeployedFunction[] {
    return Object.values(this.byName);
  }

  private create(spec: FunctionSpec): DeployedFunction {
    const id = functionLogicalId(spec.name);
    const logGroup = new LogGroup(this, `${pascal(spec.name)}Logs`, { retention: this.props.logRetentionDays as RetentionDays });
    // An explicit role: no AWS managed policy, logs only to this function's own group.
    const role = new Role(this, `${pascal(spec.name)}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${serviceName} ${spec.name}: ${spec.uses.join(', ')}`,
    });
    logGroup.grantWrite(role);
    for (const capability of spec.uses)
      for (const statement of statementsFor(capability, this.props.resources)) role.addToPolicy(statement);

    const reserved = this.props.reservedConcurrency[spec.name];
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
      loggingFormat: LoggingFormat.JSON,
      tracing: Tracing.ACTIVE,
      environment: {
        ...this.props.environment,
        ...(this.props.capabilityEnvironment ? environmentFor(spec.uses, this.props.resources) : {}),
      },
      ...(reserved !== undefined ? { reservedConcurrentExecutions: reserved } : {}),
      ...(this.props.secretsExtension && readsSecret(spec.uses) ? { paramsAndSecrets: secretsExtension } : {}),
      bundling: cdkBundlingOptions({ sourceMaps: this.props.sourceMaps }),
    });
    (fn.node.defaultChild as CfnFunction).overrideLogicalId(id);
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x on purpose: bundles target node22 and are tested on it; moving to a newer runtime is a deliberate change, not drift.',
    });
    // Only the `Resource::*` finding: a wildcard anywhere else still fails the check.
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active X-Ray tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions (Resource "*" is the only form AWS accepts); every other grant names one resource.',
    });
    const alias = new Alias(this, `${pascal(spec.name)}LiveAlias`, { aliasName: liveAliasName, version: fn.currentVersion });
    return { spec, fn, alias };
  }
}

/** The capabilities that read a Secrets Manager secret: the functions that have one get the extension. */
const secretReadingCapabilities: readonly Capability[] = ['clientSecret:read', 'webhookSecret:read', 'accountHashKey:read'];

const readsSecret = (uses: readonly Capability[]): boolean => uses.some((use) => secretReadingCapabilities.includes(use));

/**
 * The AWS-managed Parameters and Secrets Lambda Extension: the functions read secrets from it on
 * localhost (shared/secrets/extension-secrets.ts) and it calls GetSecretValue with the function's
 * role, so the grants above are all it needs. It keeps a secret 5 minutes (its maximum), so a warm
 * function asks Secrets Manager about once per secret in that time; a function reads at most three
 * secrets, so a small cache is plenty. Its timeout answers the function (which gives up after 5 s)
 * with an error before the function stops waiting. Warnings only: it logs to the function's group.
 */
const secretsExtension = ParamsAndSecretsLayerVersion.fromVersion(ParamsAndSecretsVersions.V1_0_103, {
  secretsManagerTtl: Duration.minutes(5),
  secretsManagerTimeout: Duration.seconds(4),
  cacheSize: 10,
  logLevel: ParamsAndSecretsLogLevel.WARN,
});

/** The row's encryption context must accompany every use of the token key (the key policy insists too). */
const withRowContext = {
  'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': [...KMS_ENCRYPTION_CONTEXT_KEYS] },
  Null: { 'kms:EncryptionContextKeys': 'false' },
};

/**
 * Exactly what one capability needs, on exactly one resource. A capability this does not know stops
 * the synth (and, being typed, the compile): a new one must be granted here on purpose.
 */
export const statementsFor = (capability: Capability, resources: FunctionResources): PolicyStatement[] => {
  const { table, tableKey, tokenKey, clientSecret } = resources;
  // The owner index only: the due index is the worker's, granted by 'dueIndex:read'.
  const ownerIndex = tableDefinition.ownerIndex.name;
  if (!resources.indexNames.includes(ownerIndex)) throw new Error(`the table has no ${ownerIndex} index for table:read`);
  const indexArns = [`${table.tableArn}/index/${ownerIndex}`];
  const prepared = preparedStatements(capability, resources);
  if (prepared) return prepared;
  // Typed so that a capability added to functions/routes.ts and not handled here fails the compile.
  const handled = capability as Exclude<Capability, PreparedCapability>;
  switch (handled) {
    case 'table:read':
      return [
        new PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:Query'], resources: [table.tableArn, ...indexArns] }),
        // DynamoDB encrypts with the table's customer-managed key on the caller's behalf.
        new PolicyStatement({ actions: ['kms:Decrypt', 'kms:DescribeKey'], resources: [tableKey.keyArn] }),
      ];
    case 'table:write':
      return [
        new PolicyStatement({ actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], resources: [table.tableArn] }),
        new PolicyStatement({
          actions: [
            'kms:Decrypt',
            'kms:DescribeKey',
            'kms:Encrypt',
            'kms:GenerateDataKey',
            'kms:GenerateDataKeyWithoutPlaintext',
            'kms:ReEncryptFrom',
            'kms:ReEncryptTo',
          ],
          resources: [tableKey.keyArn],
        }),
      ];
    case 'tokenKey:encrypt':
      return [new PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [tokenKey.keyArn], conditions: withRowContext })];
    case 'tokenKey:decrypt':
      return [new PolicyStatement({ actions: ['kms:Decrypt'], resources: [tokenKey.keyArn], conditions: withRowContext })];
    case 'clientSecret:read':
      // GetSecretValue only: the functions never describe, list or write the secret.
      return [
        new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [clientSecret.secretArn] }),
        ...(resources.clientSecretKey
          ? [
              new PolicyStatement({
                actions: ['kms:Decrypt'],
                resources: [resources.clientSecretKey.keyArn],
                // Only as Secrets Manager decrypting this secret for the function.
                conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(table).region}.amazonaws.com` } },
              }),
            ]
          : []),
      ];
    default:
      return unknownCapability(handled);
  }
};

type PreparedCapability = 'events:publish' | 'webhookSecret:read' | 'dueIndex:read' | 'accountHashKey:read';

/**
 * Capabilities other branches bring (the lifecycle worker's), ready before they land, so adding them to
 * a function spec needs no infra edit. Anything else is an error.
 */
const preparedStatements = (capability: string, resources: FunctionResources): PolicyStatement[] | undefined => {
  switch (capability as PreparedCapability) {
    case 'events:publish':
      if (!resources.eventBus) throw new Error('events:publish needs the connection event bus');
      return [new PolicyStatement({ actions: ['events:PutEvents'], resources: [resources.eventBus.eventBusArn] })];
    case 'webhookSecret:read':
      if (!resources.webhookSecret) throw new Error('webhookSecret:read needs the webhook secret');
      return [new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [resources.webhookSecret.secretArn] })];
    case 'dueIndex:read':
      // The lifecycle worker's sparse index of due connections: Query on that index only.
      return [
        new PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: [`${resources.table.tableArn}/index/${tableDefinition.dueIndex.name}`],
        }),
        new PolicyStatement({ actions: ['kms:Decrypt', 'kms:DescribeKey'], resources: [resources.tableKey.keyArn] }),
      ];
    case 'accountHashKey:read':
      if (!resources.accountHashSecret) throw new Error('accountHashKey:read needs the account-hash secret');
      return [new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [resources.accountHashSecret.secretArn] })];
    default:
      return undefined;
  }
};

const unknownCapability = (capability: never): never => {
  throw new Error(`no grant is defined for capability ${String(capability)}: add it to statementsFor in infra/constructs/functions.ts`);
};

/** Variables a capability brings: where to find what it grants. */
export const environmentFor = (uses: readonly Capability[], resources: FunctionResources): Record<string, string> => {
  const names = new Set<string>(uses);
  return {
    ...(names.has('events:publish') && resources.eventBus ? { EVENT_BUS_NAME: resources.eventBus.eventBusName } : {}),
    ...(names.has('webhookSecret:read') && resources.webhookSecret ? { WEBHOOK_SECRET_ID: resources.webhookSecret.secretArn } : {}),
    ...(names.has('accountHashKey:read') && resources.accountHashSecret
      ? { ACCOUNT_HASH_SECRET_ID: resources.accountHashSecret.secretArn }
      : {}),
  };
};
