/**
 * Deployment options from CDK context (`-c key=value` or cdk.json), validated in one place so a
 * typo fails `cdk synth` with one line naming the key, not a broken stack at deploy time.
 */
import type { Node } from 'constructs';
import * as z from 'zod';

/** CloudWatch Logs accepts only these retention periods (days). */
export const allowedRetentionDays = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

export interface DeployOptions {
  stackName: string;
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
  logRetentionDays: (typeof allowedRetentionDays)[number];
  logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Alarms notify this address through an SNS topic; absent: alarms only (no topic). */
  alarmEmail: string | undefined;
  truelayerProviders: string | undefined;
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
  .transform((value) => (Array.isArray(value) ? value : (value ?? '').split(',')).map((item) => item.trim()).filter((item) => item.length > 0));

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

const schema = z
  .object({
    stackName: text.pipe(z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'letters, digits and hyphens, starting with a letter')).default(defaultStackName),
    truelayerEnv: z.enum(['sandbox', 'live']).default('sandbox'),
    jwtIssuer: optionalText.pipe(z.url({ protocol: /^https$/ }).optional()),
    jwtAudience: list,
    clientSecretArn: optionalText.pipe(z.string().regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/, 'a Secrets Manager secret ARN').optional()),
    corsOrigins: urlList,
    allowedReturnUrls: urlList,
    callbackUrl: optionalText.pipe(z.url({ protocol: /^https$/ }).optional()),
    throttleRateLimit: integer(1, 10_000).default(50),
    throttleBurstLimit: integer(1, 5_000).default(100),
    logRetentionDays: integer(1, 3653)
      .refine((days) => (allowedRetentionDays as readonly number[]).includes(days), { message: `one of ${allowedRetentionDays.join(', ')}` })
      .default(30),
    logLevel: z.preprocess((value) => (typeof value === 'string' ? value.toUpperCase() : value), z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR'])).default('INFO'),
    alarmEmail: optionalText.pipe(z.email().optional()),
    truelayerProviders: optionalText,
    truelayerTimeoutMs: integer(1_000, 25_000).optional(),
    sourceMaps: flag.default(false),
    samLocal: flag.default(false),
  })
  .superRefine((options, ctx) => {
    if (Boolean(options.jwtIssuer) !== options.jwtAudience.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['jwtIssuer'], message: 'set jwtIssuer and jwtAudience together (or neither, for the Cognito user pool)' });
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
    truelayerEnv: o.truelayerEnv,
    jwt: o.jwtIssuer ? { issuer: o.jwtIssuer, audience: o.jwtAudience } : undefined,
    clientSecretArn: o.clientSecretArn,
    corsOrigins: o.corsOrigins,
    allowedReturnUrls: o.allowedReturnUrls,
    callbackUrl: o.callbackUrl,
    throttleRateLimit: o.throttleRateLimit,
    throttleBurstLimit: o.throttleBurstLimit,
    logRetentionDays: o.logRetentionDays as DeployOptions['logRetentionDays'],
    logLevel: o.logLevel,
    alarmEmail: o.alarmEmail,
    truelayerProviders: o.truelayerProviders,
    truelayerTimeoutMs: o.truelayerTimeoutMs,
    sourceMaps: o.sourceMaps,
    samLocal: o.samLocal,
  };
};

/** Reads every known key from a construct's context (the App's, in practice). */
export const deployOptionsFrom = (node: Node): DeployOptions =>
  parseDeployOptions(Object.fromEntries(contextKeys.map((key) => [key, node.tryGetContext(key) as unknown])));
