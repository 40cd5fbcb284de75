/** TrueLayer client credentials: from Secrets Manager when deployed, given directly on one machine. */
import type { Config } from '../config';
import { CredentialsError } from '../errors';
import { SecretReadError, type SecretReader } from '../secrets/extension-secrets';
import * as z from '../zod';

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

export interface ClientCredentialsSource {
  get(): Promise<ClientCredentials>;
}

/** The value the CDK stack puts in the secret until an operator sets the real one. */
export const PLACEHOLDER = 'REPLACE_ME';

const secretSchema = z.object({
  client_id: z.string().check(z.trim(), z.minLength(1)),
  client_secret: z.string().check(z.trim(), z.minLength(1)),
});

export interface SecretCredentialsOptions {
  /** Name or ARN of the secret holding `{"client_id": "…", "client_secret": "…"}`. */
  secretId: string;
  /** Where the secret's text comes from (and how long it is cached): the Parameters and Secrets extension when deployed. */
  reader: SecretReader;
}

/**
 * The credentials in a Secrets Manager secret, read through a SecretReader (which caches them).
 * Concurrent callers share one read. A secret found invalid is read afresh next time, past the
 * reader's cache, so fixing it takes effect without waiting that out.
 */
export class SecretCredentials implements ClientCredentialsSource {
  readonly secretId: string;
  readonly #reader: SecretReader;
  #inFlight: Promise<ClientCredentials> | undefined;
  #refetch = false;

  constructor(options: SecretCredentialsOptions) {
    if (!options.secretId) throw new RangeError('SecretCredentials needs a secretId');
    this.secretId = options.secretId;
    this.#reader = options.reader;
  }

  /** `forceFetch` skips the reader's cache, e.g. after TrueLayer answered `invalid_client` to a rotated secret. */
  get(options: { forceFetch?: boolean } = {}): Promise<ClientCredentials> {
    if (this.#inFlight && !options.forceFetch) return this.#inFlight;
    const pending = this.#load(options.forceFetch === true || this.#refetch).finally(() => {
      if (this.#inFlight === pending) this.#inFlight = undefined;
    });
    this.#inFlight = pending;
    return pending;
  }

  async #load(forceFetch: boolean): Promise<ClientCredentials> {
    let raw: string;
    try {
      raw = await this.#reader.read(this.secretId, { forceFetch });
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

/** A read error says what failed (status, ResourceNotFoundException, AccessDeniedException) without the value. */
const describeFailure = (error: unknown): string =>
  error instanceof SecretReadError ? error.detail : error instanceof Error ? error.name : 'unknown error';

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

/** The source the configuration asks for: a secret by id needs the reader to read it with. */
export const createCredentialsSource = (
  credentials: Config['credentials'],
  options: { reader: SecretReader | undefined },
): ClientCredentialsSource => {
  if (!('secretId' in credentials)) return new StaticCredentials(credentials);
  if (!options.reader)
    throw new CredentialsError('a client credentials secret id needs a secret reader', { secretId: credentials.secretId });
  return new SecretCredentials({ secretId: credentials.secretId, reader: options.reader });
};
