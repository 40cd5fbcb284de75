/**
 * Deployment options from CDK context (`-c key=value` or cdk.json), validated in one place so a
 * typo fails `cdk synth` with one line naming the key, not a broken stack at deploy time.
 */
import type { Node } from 'constructs';
import * as z from 'zod';
import { functionSpecs } from '../functions/routes';
import { defaultMetricsNamespace } from '../shared/metrics';

/** CloudWatch Logs accepts only these retention periods (days). */
export const allowedRetentionDays = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

export interface DeployOptions {
  /** The stateless stack (API, functions, dashboard, alarms); the stateful one is `<stackName>-Data`. */
  stackName: string;
  /** Tags on both stacks and everything in them. */
  tags: { service: string; environment: string; owner: string };
  /** TrueLayer environment the functions talk to. `local` is not deployable: nothing there is reachable. */
  truelayerEnv: 'sandbox' | 'live';
  /** An OIDC issuer and its audiences; absent: a Cognito user pool and app client are created. */
  jwt: { issuer: string; audience: string[] } | undefined;
  /** An existing Secrets Manager secret with `{client_id, client_secret}`; absent: one is created with placeholders. */
  clientSecretArn: string | undefined;
  corsOrigins: string[];
  allowedReturnUrls: string[];
  /** The redirect URI registered at TrueLayer; absent: `<api url>/callback`. */
  callbackUrl: string | undefined;
  /** Steady-state requests per second across the API. */
  throttleRateLimit: number;
  throttleBurstLimit: number;
  /**
   * The public /callback routes' own, lower limit: a person's browser arrives there once per
   * connection, so more is a flood (or a scan for states) that should not eat the API's budget.
   */
  callbackThrottleRateLimit: number;
  callbackThrottleBurstLimit: number;
  logRetentionDays: (typeof allowedRetentionDays)[number];
  logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Alarms always notify an SNS topic; with this, the topic also mails this address. */
  alarmEmail: string | undefined;
  /** API p99 latency (ms) that raises the latency alarm. */
  latencyAlarmMs: number;
  /** CloudWatch namespace of the service's EMF metrics. */
  metricsNamespace: string;
  /** `canary`: CodeDeploy shifts 10 % for 5 minutes, rolling back on alarm; `allAtOnce`: for dev stacks. */
  deployment: 'canary' | 'allAtOnce';
  /** Reserved concurrency by function name; none unless asked (a new account's quota of 10 makes any reservation fail). */
  reservedConcurrency: Record<string, number>;
  /** Scopes a token must carry (one of) on JWT routes, for an external issuer. The Cognito default requires its access-token scope. */
  jwtScopes: string[];
  /** The customer-managed KMS key an imported client secret is encrypted with. */
  secretKmsKeyArn: string | undefined;
  /** A custom domain for the API, with its ACM certificate in the stack's region. */
  domain: { name: string; certificateArn: string } | undefined;
  truelayerProviders: string | undefined;
  /** Where the functions that publish connection events also POST them, signed per Standard Webhooks; absent: the event bus only. */
  webhookUrl: string | undefined;
  truelayerTimeoutMs: number | undefined;
  sourceMaps: boolean;
  /**
   * Synthesize a template for `sam local` only: the functions get the local stack's variables
   * (DynamoDB endpoint, simulator, local token key) in place of KMS and Secrets Manager, and a
   * CloudFormation rule makes the template impossible to deploy.
   */
  samLocal: boolean;
}

export const defaultStackName = 'TrueLayerConnections';

const text = z.preprocess((value) => (typeof value === 'string' ? value.trim() : value), z.string());
const optionalText = z.preprocess((value) => (typeof value === 'string' && value.trim() === '' ? undefined : value), text.optional());

const list = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((value) =>
    (Array.isArray(value) ? value : (value ?? '').split(',')).map((item) => item.trim()).filter((item) => item.length > 0),
  );

const httpUrl = (value: string): boolean => {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
};

const urlList = list.refine((items) => items.every(httpUrl), { message: 'each entry must be an absolute http(s) URL' });

const integer = (min: number, max: number) =>
  z.preprocess((value) => (typeof value === 'string' && value.trim() !== '' ? Number(value) : value), z.number().int().min(min).max(max));

const flag = z.preprocess((value) => (value === 'true' ? true : value === 'false' ? false : value), z.boolean());

const tagValue = text.pipe(
  z.string().regex(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,256}$/u, 'a tag value: letters, digits, spaces and _ . : / = + - @'),
);

/** `data=10,callback=5` from -c, or `{"data": 10}` from cdk.json. */
const concurrencyMap = z
  .union([z.string(), z.record(z.string(), z.union([z.number(), z.string()]))])
  .optional()
  .transform((value, ctx) => {
    const entries: [string, unknown][] =
      value === undefined
        ? []
        : typeof value === 'string'
          ? value
              .split(',')
              .map((item) => item.trim())
              .filter(Boolean)
              .map((item) => item.split('=').map((part) => part.trim()) as [string, string])
          : Object.entries(value);
    const result: Record<string, number> = {};
    for (const [name, raw] of entries) {
      const count = typeof raw === 'string' ? Number(raw) : raw;
      if (!(name in functionSpecs))
        ctx.addIssue({ code: 'custom', message: `${name} is not a function (${Object.keys(functionSpecs).join(', ')})` });
      else if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > 1000)
        ctx.addIssue({ code: 'custom', message: `${name}: a whole number 0-1000` });
      else result[name] = count;
    }
    return result;
  });

const kmsKeyArn = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

const schema = z
  .object({
    stackName: text
      .pipe(z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'letters, digits and hyphens, starting with a letter'))
      .default(defaultStackName),
    truelayerEnv: z.enum(['sandbox', 'live']).default('sandbox'),
    jwtIssuer: optionalText.pipe(z.url({ protocol: /^https$/ }).optional()),
    jwtAudience: list,
    clientSecretArn: optionalText.pipe(
      z
        .string()
        .regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/, 'a Secrets Manager secret ARN')
        .optional(),
    ),
    corsOrigins: urlList,
    allowedReturnUrls: urlList,
    callbackUrl: optionalText.pipe(z.url({ protocol: /^https$/ }).optional()),
    throttleRateLimit: integer(1, 10_000).default(50),
    throttleBurstLimit: integer(1, 5_000).default(100),
    callbackThrottleRateLimit: integer(1, 10_000).default(10),
    callbackThrottleBurstLimit: integer(1, 5_000).default(20),
    logRetentionDays: integer(1, 3653)
      .refine((days) => (allowedRetentionDays as readonly number[]).includes(days), {
        message: `one of ${allowedRetentionDays.join(', ')}`,
      })
      .default(30),
    logLevel: z
      .preprocess((value) => (typeof value === 'string' ? value.toUpperCase() : value), z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']))
      .default('INFO'),
    alarmEmail: optionalText.pipe(z.email().optional()),
    latencyAlarmMs: integer(100, 30_000).default(5_000),
    metricsNamespace: text
      .pipe(z.string().regex(/^(?!AWS\/)[A-Za-z0-9/_.#:-]{1,255}$/, 'letters, digits and / _ . # : -, not starting with AWS/'))
      .default(defaultMetricsNamespace),
    deployment: z.enum(['canary', 'allAtOnce']).default('canary'),
    reservedConcurrency: concurrencyMap,
    jwtScopes: list,
    secretKmsKeyArn: optionalText.pipe(z.string().regex(kmsKeyArn, 'a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)').optional()),
    domainName: optionalText.pipe(
      z
        .string()
        .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'a lower-case DNS name')
        .optional(),
    ),
    certificateArn: optionalText.pipe(
      z
        .string()
        .regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/, 'an ACM certificate ARN')
        .optional(),
    ),
    wafAclArn: optionalText,
    service: tagValue.default('truelayer-connections'),
    environment: tagValue.default('dev'),
    owner: tagValue.default('platform'),
    truelayerProviders: optionalText,
    webhookUrl: optionalText.pipe(z.url({ protocol: /^https$/, error: 'an https URL' }).optional()),
    truelayerTimeoutMs: integer(1_000, 25_000).optional(),
    sourceMaps: flag.default(false),
    samLocal: flag.default(false),
  })
  .superRefine((options, ctx) => {
    if (Boolean(options.jwtIssuer) !== options.jwtAudience.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['jwtIssuer'],
        message: 'set jwtIssuer and jwtAudience together (or neither, for the Cognito user pool)',
      });
    }
    if (options.jwtScopes.length > 0 && !options.jwtIssuer) {
      ctx.addIssue({
        code: 'custom',
        path: ['jwtScopes'],
        message: 'applies to an external issuer (-c jwtIssuer); the Cognito default already admits access tokens only',
      });
    }
    if (options.secretKmsKeyArn && !options.clientSecretArn) {
      ctx.addIssue({
        code: 'custom',
        path: ['secretKmsKeyArn'],
        message: 'applies to an imported secret (-c clientSecretArn); the created secret uses the AWS managed key',
      });
    }
    if (Boolean(options.domainName) !== Boolean(options.certificateArn)) {
      ctx.addIssue({ code: 'custom', path: ['domainName'], message: 'set domainName and certificateArn together' });
    }
    if (options.wafAclArn) {
      ctx.addIssue({
        code: 'custom',
        path: ['wafAclArn'],
        message:
          'AWS WAF cannot be associated with an API Gateway HTTP API; put the web ACL on a CloudFront distribution in front of -c domainName instead',
      });
    }
    // Most likely the two swapped; a burst at API Gateway's 5,000 maximum may sit below a higher rate.
    if (options.throttleBurstLimit < options.throttleRateLimit && options.throttleBurstLimit < 5_000) {
      ctx.addIssue({ code: 'custom', path: ['throttleBurstLimit'], message: 'should be at least throttleRateLimit' });
    }
  });

export const contextKeys = Object.keys(schema.shape) as (keyof typeof schema.shape)[];

export class DeployOptionsError extends Error {
  override name = 'DeployOptionsError';
}

/** Parses context values (strings from `-c`, or JSON values from cdk.json). */
export const parseDeployOptions = (raw: Record<string, unknown>): DeployOptions => {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `-c ${issue.path.join('.') || 'context'}: ${issue.message}`);
    throw new DeployOptionsError(`invalid deployment context: ${problems.join('; ')}`);
  }
  const o = parsed.data;
  return {
    stackName: o.stackName,
    tags: { service: o.service, environment: o.environment, owner: o.owner },
    truelayerEnv: o.truelayerEnv,
    jwt: o.jwtIssuer ? { issuer: o.jwtIssuer, audience: o.jwtAudience } : undefined,
    clientSecretArn: o.clientSecretArn,
    corsOrigins: o.corsOrigins,
    allowedReturnUrls: o.allowedReturnUrls,
    callbackUrl: o.callbackUrl,
    throttleRateLimit: o.throttleRateLimit,
    throttleBurstLimit: o.throttleBurstLimit,
    callbackThrottleRateLimit: o.callbackThrottleRateLimit,
    callbackThrottleBurstLimit: o.callbackThrottleBurstLimit,
    logRetentionDays: o.logRetentionDays as DeployOptions['logRetentionDays'],
    logLevel: o.logLevel,
    alarmEmail: o.alarmEmail,
    latencyAlarmMs: o.latencyAlarmMs,
    metricsNamespace: o.metricsNamespace,
    deployment: o.deployment,
    reservedConcurrency: o.reservedConcurrency,
    jwtScopes: o.jwtScopes,
    secretKmsKeyArn: o.secretKmsKeyArn,
    domain: o.domainName && o.certificateArn ? { name: o.domainName, certificateArn: o.certificateArn } : undefined,
    truelayerProviders: o.truelayerProviders,
    webhookUrl: o.webhookUrl,
    truelayerTimeoutMs: o.truelayerTimeoutMs,
    sourceMaps: o.sourceMaps,
    samLocal: o.samLocal,
  };
};

/** Reads every known key from a construct's context (the App's, in practice). */
export const deployOptionsFrom = (node: Node): DeployOptions =>
  parseDeployOptions(Object.fromEntries(contextKeys.map((key) => [key, node.tryGetContext(key) as unknown])));
