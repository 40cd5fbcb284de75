/**
 * The service's structured logger: Powertools Logger (JSON lines, Lambda context when a handler adds
 * it) with a formatter that redacts tokens, codes, states and secrets wherever they appear in an item.
 */
import { LogFormatter, Logger, LogItem } from '@aws-lambda-powertools/logger';
import type { LogAttributes, LogLevel, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';
import { problemCatalogue } from './errors';

export const SERVICE_NAME = 'truelayer-connections';
export const REDACTED = '[REDACTED]';

const MAX_DEPTH = 24;

/** Key names compared lower-cased with `-` and `_` removed, so `refreshToken`, `Set-Cookie`, `CLIENT_SECRET` all match. */
const SENSITIVE_KEYS = new Set([
  'code',
  'completioncode',
  'state',
  'token',
  'tokens',
  'secret',
  'password',
  'passwd',
  'authorization',
  'proxyauthorization',
  'cookie',
  'cookies',
  'setcookie',
  'apikey',
  'privatekey',
  'codeverifier',
  'clientassertion',
]);

const normalizeKey = (key: string): string => key.toLowerCase().replace(/[-_]/g, '');

/** Whether a key's value is withheld from logs. */
export const isSensitiveKey = (key: string): boolean => {
  const normalized = normalizeKey(key);
  return (
    SENSITIVE_KEYS.has(normalized) ||
    // access_token, refresh_token, id_token, x-amz-security-token, sessionToken, …
    normalized.endsWith('token') ||
    normalized.endsWith('tokens') ||
    // client_secret, clientSecret, webhook_secret, …
    normalized.endsWith('secret') ||
    normalized.endsWith('password')
  );
};

/**
 * A `code` holding a Node or undici error code (ECONNRESET, ERR_INVALID_URL, UND_ERR_CONNECT_TIMEOUT)
 * is kept: it is what diagnoses an outage, and an OAuth code never has that shape.
 */
const isDiagnosticCode = (key: string, value: unknown): boolean =>
  normalizeKey(key) === 'code' &&
  (typeof value === 'number' || (typeof value === 'string' && /^(?:E[A-Z]{2,20}|ERR_[A-Z0-9_]{1,60}|UND_ERR_[A-Z_]{1,40})$/.test(value)));

/**
 * A `code` is an OAuth authorization code by where it sits: beside `state`, `redirect_uri` or
 * `grant_type`, or inside a query, form or parameter map. Anywhere else (a problem, a TrueLayer
 * error, a log field) a `code` that reads as an error word (`upstream_unavailable`, `invalid_grant`,
 * `not_found`) is a diagnosis and stays readable; anything else under `code` is still withheld.
 */
const OAUTH_SIBLINGS = new Set(['state', 'redirecturi', 'granttype', 'codeverifier', 'clientid', 'clientsecret', 'completioncode']);
const OAUTH_CONTAINERS = new Set([
  'querystringparameters',
  'multivaluequerystringparameters',
  'query',
  'params',
  'form',
  'fields',
  'body',
  'searchparams',
]);
const SINGLE_WORD_CODES = new Set([...Object.keys(problemCatalogue), 'timeout', 'forbidden', 'conflict', 'unauthorized']);

const isOAuthCarrier = (parentKey: string | undefined, keys: readonly string[]): boolean =>
  (parentKey !== undefined && OAUTH_CONTAINERS.has(normalizeKey(parentKey))) || keys.some((key) => OAUTH_SIBLINGS.has(normalizeKey(key)));

const isErrorWord = (key: string, value: unknown): boolean =>
  normalizeKey(key) === 'code' &&
  typeof value === 'string' &&
  (/^[a-z][a-z0-9]{0,40}(?:[_.][a-z0-9]{1,40}){1,6}$/.test(value) || SINGLE_WORD_CODES.has(value));

const QUERY_KEYS =
  'code|state|token|access_token|refresh_token|id_token|client_secret|password|code_verifier|completion_code|client_assertion';
const JSON_KEYS = `${QUERY_KEYS}|secret|authorization|cookie|set-cookie`;

const STRING_RULES: ReadonlyArray<readonly [RegExp, string]> = [
  // JWTs (and JWE's first parts): three or more base64url segments, the header starting `eyJ`.
  [/eyJ[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*){2,4}/g, REDACTED],
  // Authorization header values quoted in text.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/-]+=*/gi, `$1 ${REDACTED}`],
  // `code=…` in query strings, form bodies and fragments, also percent-encoded inside another URL.
  [new RegExp(`(^|[?&;#\\s"'(,{[]|%26|%3F|%23)(${QUERY_KEYS})(=|%3D)[^&\\s"'#;,)}\\]]*`, 'gi'), `$1$2$3${REDACTED}`],
  // `"refresh_token": "…"` in JSON quoted inside a message (an upstream body, say).
  [new RegExp(`"(${JSON_KEYS})"(\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'gi'), `"$1"$2"${REDACTED}"`],
  // `refresh_token: '…'` as util.inspect prints objects inside messages.
  [new RegExp(`\\b(${JSON_KEYS})(\\s*:\\s*)'(?:[^'\\\\]|\\\\.)*'`, 'gi'), `$1$2'${REDACTED}'`],
];

/** Redacts secrets inside free text: URLs, messages, stack traces. */
export const redactString = (text: string): string =>
  STRING_RULES.reduce((current, [pattern, replacement]) => current.replace(pattern, replacement), text);

type ErrorToObject = (error: Error) => Record<string, unknown>;

/** Mirrors Powertools' error shape, so `redact` on its own gives what the logger prints. */
const plainError: ErrorToObject = (error) => {
  const { name, message, stack } = error;
  const result: Record<string, unknown> = { name, message, stack };
  if (error.cause !== undefined) result.cause = error.cause;
  for (const key of Object.keys(error)) {
    if (!(key in result)) result[key] = (error as unknown as Record<string, unknown>)[key];
  }
  return result;
};

const isBinary = (value: object): boolean => ArrayBuffer.isView(value) || value instanceof ArrayBuffer;

const redactWith = (value: unknown, toObject: ErrorToObject, ancestors: object[], depth: number, parentKey?: string): unknown => {
  if (typeof value === 'string') return redactString(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth > MAX_DEPTH) return '[Truncated]';
  // Bytes in a log are as likely a data key as anything else, and unreadable either way.
  if (isBinary(value)) return `${REDACTED} binary`;
  if (ancestors.includes(value)) return '[Circular]';
  ancestors.push(value);
  try {
    const next = (child: unknown, key?: string): unknown => redactWith(child, toObject, ancestors, depth + 1, key);
    if (value instanceof Error) return next(toObject(value), parentKey);
    if (Array.isArray(value)) return value.map((child) => next(child, parentKey));
    if (value instanceof Map) return next(Object.fromEntries([...value].map(([k, v]) => [String(k), v])));
    if (value instanceof Set) return next([...value]);
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return next(toJSON.call(value));
    const source = value as Record<string, unknown>;
    // An API Gateway event's base64 body cannot be searched, and on /callback it carries code and state.
    const opaqueBody = source.isBase64Encoded === true && typeof source.body === 'string';
    const result: Record<string, unknown> = {};
    const keys = Object.keys(source);
    const oauth = isOAuthCarrier(parentKey, keys);
    for (const key of keys) {
      const child = source[key];
      if (child === undefined || child === null) result[key] = child;
      else if (isSensitiveKey(key) && !isDiagnosticCode(key, child) && (oauth || !isErrorWord(key, child))) result[key] = REDACTED;
      else if (opaqueBody && key === 'body') result[key] = REDACTED;
      else result[key] = next(child, key);
    }
    return result;
  } finally {
    ancestors.pop();
  }
};

/**
 * A copy of `value` safe to log: values under sensitive keys (any case, any depth, inside errors too)
 * become "[REDACTED]", and JWTs, bearer values and `code=`/`state=`/`token=`-style parameters inside
 * any string are replaced. Errors become plain objects; cycles become "[Circular]". Pure.
 */
export const redact = (value: unknown): unknown => redactWith(value, plainError, [], 0);

/**
 * Powertools' standard JSON layout, redacted. Powertools 2.35 has no redaction hook of its own
 * (data masking exists only in the Python library), so this formatter is the supported way in.
 */
export class RedactingLogFormatter extends LogFormatter {
  override formatAttributes(attributes: UnformattedAttributes, additionalLogAttributes: LogAttributes): LogItem {
    const base: LogAttributes = {
      level: attributes.logLevel,
      message: attributes.message,
      timestamp: this.formatTimestamp(attributes.timestamp),
      service: attributes.serviceName,
      cold_start: attributes.lambdaContext?.coldStart,
      function_arn: attributes.lambdaContext?.invokedFunctionArn,
      function_memory_size: attributes.lambdaContext?.memoryLimitInMB,
      function_name: attributes.lambdaContext?.functionName,
      function_request_id: attributes.lambdaContext?.awsRequestId,
      sampling_rate: attributes.sampleRateValue,
      xray_trace_id: attributes.xRayTraceId,
      tenant_id: attributes.lambdaContext?.tenantId,
    };
    const item = new LogItem({ attributes: base }).addAttributes(additionalLogAttributes);
    const formatError: ErrorToObject = (error) => super.formatError(error);
    item.setAttributes(redactWith(item.getAttributes(), formatError, [], 0) as LogAttributes);
    return item;
  }

  /** Powertools calls this for any Error it meets while serializing; redact that path too. */
  override formatError(error: Error): LogAttributes {
    return redact(super.formatError(error)) as LogAttributes;
  }
}

export interface CreateLoggerOptions {
  serviceName?: string;
  /** Defaults to the environment: AWS_LAMBDA_LOG_LEVEL, POWERTOOLS_LOG_LEVEL or LOG_LEVEL, else INFO. */
  logLevel?: LogLevel;
  persistentKeys?: LogAttributes;
}

/** The service's logger. Add request ids with `injectLambdaContext` (middy) or `logger.addContext(context)`. */
export const createLogger = (options: CreateLoggerOptions = {}): Logger =>
  new Logger({
    serviceName: options.serviceName ?? process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME,
    logFormatter: new RedactingLogFormatter(),
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
    ...(options.persistentKeys ? { persistentKeys: options.persistentKeys } : {}),
  });
