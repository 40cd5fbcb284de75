/** TrueLayer client credentials: from Secrets Manager when deployed, given directly on one machine. */
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Config } from '../config';
import * as z from '../zod';

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

export interface ClientCredentialsSource {
  get(): Promise<ClientCredentials>;
}

/** Names the secret and what is wrong with it, never its value. */
export class CredentialsError extends Error {
  override name = 'CredentialsError';
  readonly secretId: string | undefined;

  constructor(message: string, options: { secretId?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.secretId = options.secretId;
  }
}

/** The value the CDK stack puts in the secret until an operator sets the real one. */
export const PLACEHOLDER = 'REPLACE_ME';

export const DEFAULT_MAX_AGE_SECONDS = 300;

const secretSchema = z.object({
  client_id: z.string().check(z.trim(), z.minLength(1)),
  client_secret: z.string().check(z.trim(), z.minLength(1)),
});

export interface SecretsManagerCredentialsOptions {
  /** Name or ARN of the secret holding `{"client_id": "…", "client_secret": "…"}`. */
  secretId: string;
  /** Built by Powertools on first use when absent. */
  client?: SecretsManagerClient;
  /** How long a fetched value is reused, in seconds. */
  maxAgeSeconds?: number;
}

/**
 * Reads the secret through Powertools' SecretsProvider, which caches it for `maxAgeSeconds`: one
 * GetSecretValue per container every few minutes. Concurrent callers share one in-flight fetch. A
 * secret found invalid is fetched afresh next time, so fixing it takes effect without waiting out the cache.
 */
export class SecretsManagerCredentials implements ClientCredentialsSource {
  readonly secretId: string;
  readonly #maxAgeSeconds: number;
  readonly #client: SecretsManagerClient | undefined;
  #provider: SecretsProvider | undefined;
  #inFlight: Promise<ClientCredentials> | undefined;
  #refetch = false;

  constructor(options: SecretsManagerCredentialsOptions) {
    if (!options.secretId) throw new RangeError('SecretsManagerCredentials needs a secretId');
    const maxAge = options.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS;
    if (!Number.isFinite(maxAge) || maxAge < 0) throw new RangeError('maxAgeSeconds must be a non-negative number');
    this.secretId = options.secretId;
    this.#maxAgeSeconds = maxAge;
    this.#client = options.client;
  }

  /** `forceFetch` skips the cache, e.g. after TrueLayer answered `invalid_client` to a rotated secret. */
  get(options: { forceFetch?: boolean } = {}): Promise<ClientCredentials> {
    if (this.#inFlight && !options.forceFetch) return this.#inFlight;
    const pending = this.#load(options.forceFetch === true || this.#refetch).finally(() => {
      if (this.#inFlight === pending) this.#inFlight = undefined;
    });
    this.#inFlight = pending;
    return pending;
  }

  async #load(forceFetch: boolean): Promise<ClientCredentials> {
    this.#provider ??= new SecretsProvider(this.#client ? { awsSdkV3Client: this.#client } : {});
    let raw: unknown;
    try {
      raw = await this.#provider.get(this.secretId, { maxAge: this.#maxAgeSeconds, forceFetch });
    } catch (error) {
      throw new CredentialsError(`could not read the TrueLayer client credentials secret ${this.secretId}: ${describeFailure(error)}`, {
        secretId: this.secretId,
        cause: error,
      });
    }
    try {
      const credentials = parseSecret(raw, this.secretId);
      this.#refetch = false;
      return credentials;
    } catch (error) {
      this.#refetch = true;
      throw error;
    }
  }
}

/** SDK errors name what failed (ResourceNotFoundException, AccessDeniedException) without the value. */
const describeFailure = (error: unknown): string => {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.name : 'unknown error';
};

/** Validates the secret's text; exported for the local stack and tests. Messages never quote the value. */
export const parseSecret = (raw: unknown, secretId: string): ClientCredentials => {
  const fail = (problem: string): never => {
    throw new CredentialsError(`the TrueLayer client credentials secret ${secretId} ${problem}`, { secretId });
  };
  if (raw === undefined || raw === null) return fail('has no value');
  const text = raw instanceof Uint8Array ? Buffer.from(raw).toString('utf8') : raw;
  if (typeof text !== 'string' || text.trim() === '') return fail('has no value');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // JSON.parse's own message quotes the text, so it is not passed on as the cause.
    return fail('is not JSON; store {"client_id": "…", "client_secret": "…"}');
  }
  const parsed = secretSchema.safeParse(json);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || 'value'))];
    return fail(`must be a JSON object with non-empty string fields client_id and client_secret (problem with: ${fields.join(', ')})`);
  }
  const { client_id: clientId, client_secret: clientSecret } = parsed.data;
  if (clientId === PLACEHOLDER || clientSecret === PLACEHOLDER) {
    return fail(`still holds the ${PLACEHOLDER} placeholder the stack created; put your TrueLayer client_id and client_secret in it`);
  }
  return { clientId, clientSecret };
};

/** Credentials given in configuration: the local stack and tests. */
export class StaticCredentials implements ClientCredentialsSource {
  readonly #credentials: ClientCredentials;

  constructor(credentials: ClientCredentials) {
    if (!credentials.clientId || !credentials.clientSecret)
      throw new CredentialsError('static client credentials need a clientId and a clientSecret');
    this.#credentials = { clientId: credentials.clientId, clientSecret: credentials.clientSecret };
  }

  async get(): Promise<ClientCredentials> {
    return { ...this.#credentials };
  }
}

/** The source the configuration asks for. */
export const createCredentialsSource = (
  credentials: Config['credentials'],
  options: { secretsClient?: SecretsManagerClient; maxAgeSeconds?: number } = {},
): ClientCredentialsSource =>
  'secretId' in credentials
    ? new SecretsManagerCredentials({
        secretId: credentials.secretId,
        ...(options.secretsClient ? { client: options.secretsClient } : {}),
        ...(options.maxAgeSeconds !== undefined ? { maxAgeSeconds: options.maxAgeSeconds } : {}),
      })
    : new StaticCredentials(credentials);
