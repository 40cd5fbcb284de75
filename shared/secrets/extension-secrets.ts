/**
 * Secrets through the AWS Parameters and Secrets Lambda Extension: a GET on localhost instead of
 * the AWS SDK, so no Secrets Manager client is bundled. The extension runs beside the function
 * (a layer), calls GetSecretValue with the function's role and caches the answer itself.
 */
import { request } from 'node:http';
import { type Clock, systemClock } from '../clock';
import type { TracePort } from '../metrics';

/** The text of a secret by its name or ARN. */
export interface SecretReader {
  /** `forceFetch` skips this process's cache (the extension may still answer from its own). */
  read(secretId: string, options?: { forceFetch?: boolean }): Promise<string>;
}

/** Names the secret and what went wrong (HTTP status, error type), never the value. */
export class SecretReadError extends Error {
  override name = 'SecretReadError';
  readonly secretId: string;
  /** The extension's HTTP status, when it answered. */
  readonly status: number | undefined;
  /** The error type the extension reported (e.g. ResourceNotFoundException), when it named one. */
  readonly errorType: string | undefined;
  /** What went wrong, safe to log: status and type, or why there was no answer. */
  readonly detail: string;

  constructor(secretId: string, detail: string, options: { status?: number; errorType?: string; cause?: unknown } = {}) {
    super(`could not read secret ${secretId}: ${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.secretId = secretId;
    this.detail = detail;
    this.status = options.status;
    this.errorType = options.errorType;
  }
}

/**
 * One stored secret's text by id (the webhook signing secret, the account hash key), trimmed, through
 * a reader (which caches it). An empty secret is refused, naming it.
 */
export class StoredSecret {
  constructor(private readonly options: { secretId: string; reader: SecretReader }) {}

  async get(): Promise<string> {
    const text = (await this.options.reader.read(this.options.secretId)).trim();
    if (text === '') throw new SecretReadError(this.options.secretId, 'the secret has no value');
    return text;
  }
}

/** The extension's port when PARAMETERS_SECRETS_EXTENSION_HTTP_PORT is unset. */
export const DEFAULT_EXTENSION_PORT = 2773;

export interface ExtensionSecretReaderOptions {
  /** The extension's port (PARAMETERS_SECRETS_EXTENSION_HTTP_PORT). Default 2773. */
  port?: number;
  /**
   * The token the extension checks against the function's own AWS_SESSION_TOKEN. Default: that
   * variable, read at each call rather than copied into the configuration, where a log could show it.
   */
  sessionToken?: () => string | undefined;
  /** How long one request may take. Default 5000 ms. */
  timeoutMs?: number;
  /**
   * How long this process reuses a value without asking the extension, in seconds; 0: ask every
   * time. Default 60. The extension keeps its own copy for SECRETS_MANAGER_TTL on top of this.
   */
  maxAgeSeconds?: number;
  clock?: Clock;
  /** A subsegment per request to the extension (cache hits make none), annotated with its status. */
  trace?: TracePort;
}

const tokenHeader = 'X-Aws-Parameters-Secrets-Token';

/** What the extension answers with: Secrets Manager's GetSecretValue output as JSON. */
interface GetSecretValueAnswer {
  SecretString?: unknown;
  /** Base64, as GetSecretValue's JSON carries it. */
  SecretBinary?: unknown;
}

/**
 * Reads through the extension, keeping each value `maxAgeSeconds` in this process: a warm function
 * makes no request at all, not even to localhost. Concurrent reads of one id share one request; a
 * failed read leaves nothing behind, so the next one asks again.
 */
export class ExtensionSecretReader implements SecretReader {
  readonly port: number;
  readonly #sessionToken: () => string | undefined;
  readonly #timeoutMs: number;
  readonly #maxAgeMs: number;
  readonly #clock: Clock;
  readonly #trace: TracePort | undefined;
  /** `sequence` orders requests, so an older one finishing late never replaces what a newer one stored. */
  readonly #cache = new Map<string, { value: string; at: number; sequence: number }>();
  readonly #inFlight = new Map<string, Promise<string>>();
  #sequence = 0;

  constructor(options: ExtensionSecretReaderOptions = {}) {
    const port = options.port ?? DEFAULT_EXTENSION_PORT;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError('port must be an integer from 1 to 65535');
    const maxAge = options.maxAgeSeconds ?? 60;
    if (!Number.isFinite(maxAge) || maxAge < 0) throw new RangeError('maxAgeSeconds must be a non-negative number');
    const timeoutMs = options.timeoutMs ?? 5_000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError('timeoutMs must be a positive number');
    this.port = port;
    this.#sessionToken = options.sessionToken ?? (() => process.env.AWS_SESSION_TOKEN);
    this.#timeoutMs = timeoutMs;
    this.#maxAgeMs = maxAge * 1000;
    this.#clock = options.clock ?? systemClock;
    this.#trace = options.trace;
  }

  read(secretId: string, options: { forceFetch?: boolean } = {}): Promise<string> {
    if (!secretId) return Promise.reject(new RangeError('read needs a secret id'));
    if (!options.forceFetch) {
      const cached = this.#cache.get(secretId);
      if (cached && this.#clock.now() - cached.at < this.#maxAgeMs) return Promise.resolve(cached.value);
      const inFlight = this.#inFlight.get(secretId);
      if (inFlight) return inFlight;
    }
    this.#sequence += 1;
    const sequence = this.#sequence;
    const pending = this.#traced(secretId).then((value) => {
      if (sequence > (this.#cache.get(secretId)?.sequence ?? 0)) this.#cache.set(secretId, { value, at: this.#clock.now(), sequence });
      return value;
    });
    this.#inFlight.set(secretId, pending);
    const forget = () => {
      if (this.#inFlight.get(secretId) === pending) this.#inFlight.delete(secretId);
    };
    pending.then(forget, forget);
    return pending;
  }

  /** The secret id is not annotated: names of secrets stay out of traces, as everything but statuses does. */
  #traced(secretId: string): Promise<string> {
    if (!this.#trace) return this.#fetch(secretId);
    return this.#trace.subsegment('Secrets Manager (extension)', async (annotate) => {
      try {
        const value = await this.#fetch(secretId);
        annotate('status', 200);
        return value;
      } catch (error) {
        if (error instanceof SecretReadError && error.status !== undefined) annotate('status', error.status);
        throw error;
      }
    });
  }

  #fetch(secretId: string): Promise<string> {
    const token = this.#sessionToken();
    return new Promise<string>((resolve, reject) => {
      const fail = (detail: string, options: { status?: number; errorType?: string; cause?: unknown } = {}) =>
        reject(new SecretReadError(secretId, detail, options));
      const req = request(
        {
          host: 'localhost',
          port: this.port,
          method: 'GET',
          path: `/secretsmanager/get?secretId=${encodeURIComponent(secretId)}`,
          headers: token ? { [tokenHeader]: token } : {},
          timeout: this.#timeoutMs,
          // A fresh connection each time: a kept-alive socket may have been closed while Lambda froze
          // the function between invocations, and reads are rare enough (the cache above) not to mind.
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', (error) => fail('the answer broke off', { cause: error }));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const body = Buffer.concat(chunks).toString('utf8');
            if (status !== 200) {
              const errorType = errorTypeOf(body);
              const hint = status === 403 && !token ? ' (no AWS_SESSION_TOKEN to send)' : '';
              return fail(`the Parameters and Secrets extension answered ${status}${errorType ? ` ${errorType}` : ''}${hint}`, {
                status,
                ...(errorType ? { errorType } : {}),
              });
            }
            const text = secretTextOf(body);
            if (text === undefined) return fail('the extension answered 200 without a SecretString or SecretBinary', { status });
            resolve(text);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)));
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ECONNREFUSED')
          return fail(`nothing listens on localhost:${this.port}: is the Parameters and Secrets extension layer attached?`, {
            cause: error,
          });
        fail(`the request to the Parameters and Secrets extension failed (${error.code ?? error.message})`, { cause: error });
      });
      req.end();
    });
  }
}

/** The secret's text, or undefined for a body that is not GetSecretValue's output. Never throws with the body in it. */
const secretTextOf = (body: string): string | undefined => {
  let answer: GetSecretValueAnswer;
  try {
    answer = JSON.parse(body) as GetSecretValueAnswer;
  } catch {
    // JSON.parse's message quotes the body, which holds the secret: not passed on.
    return undefined;
  }
  if (typeof answer !== 'object' || answer === null) return undefined;
  if (typeof answer.SecretString === 'string') return answer.SecretString;
  if (typeof answer.SecretBinary === 'string') return Buffer.from(answer.SecretBinary, 'base64').toString('utf8');
  return undefined;
};

/**
 * The error type of a refusal: `__type` of a JSON body (AWS's `prefix#Name` form shortened to the
 * name), else the first `…Exception`/`…Error` word of a text one. Only the name, so nothing else
 * the body says reaches a log.
 */
const errorTypeOf = (body: string): string | undefined => {
  try {
    const parsed = JSON.parse(body) as { __type?: unknown };
    if (typeof parsed?.__type === 'string' && parsed.__type) return parsed.__type.split('#').pop()?.split(':')[0];
  } catch {
    // a text body
  }
  return /\b([A-Z][A-Za-z]*(?:Exception|Error))\b/.exec(body)?.[1];
};
