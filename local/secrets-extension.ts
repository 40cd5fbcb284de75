/**
 * A local stand-in for the AWS Parameters and Secrets Lambda Extension: the same
 * `GET /secretsmanager/get?secretId=…` with the same session-token check, answered by a real
 * Secrets Manager client (AWS, or moto in tests and the bench), so the handlers run the code path
 * they run deployed. It does not cache: the reader in front of it does, and tests count its calls.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { GetSecretValueCommand, type GetSecretValueCommandOutput, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { closeServer, httpOrigin, listen, sendJson } from './http';

export interface SecretsExtensionOptions {
  /** Reads the secrets; its credentials and endpoint decide where from. */
  client: SecretsManagerClient;
  /**
   * What callers must send in X-Aws-Parameters-Secrets-Token, as the extension checks
   * AWS_SESSION_TOKEN. Absent (a shell with long-term keys has no session token): no check, since
   * there is nothing to check against, and the handlers, reading the same variable, send none.
   */
  sessionToken?: string | undefined;
  /** Default 2773, the extension's; 0 picks a free one. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
}

export interface RunningSecretsExtension {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** An AWS-style refusal: the error's name as `__type`, never a secret's value. */
const refuse = (res: ServerResponse, status: number, type: string, message: string): void =>
  sendJson(res, status, { __type: type, message });

/** GetSecretValue's output as its JSON protocol carries it: binary as base64, the date in epoch seconds. */
const asJson = (output: GetSecretValueCommandOutput): Record<string, unknown> => {
  const { $metadata: _metadata, SecretBinary, CreatedDate, ...rest } = output;
  return {
    ...rest,
    ...(SecretBinary ? { SecretBinary: Buffer.from(SecretBinary).toString('base64') } : {}),
    ...(CreatedDate ? { CreatedDate: CreatedDate.getTime() / 1000 } : {}),
  };
};

const handle = async (options: SecretsExtensionOptions, req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname !== '/secretsmanager/get') return refuse(res, 404, 'NotFound', `no route ${url.pathname}`);
  if (req.method !== 'GET') return refuse(res, 405, 'MethodNotAllowed', 'only GET is served');
  if (options.sessionToken !== undefined && req.headers['x-aws-parameters-secrets-token'] !== options.sessionToken)
    return refuse(res, 403, 'Forbidden', 'missing or wrong X-Aws-Parameters-Secrets-Token');
  const secretId = url.searchParams.get('secretId');
  if (!secretId) return refuse(res, 400, 'BadRequest', 'secretId is required');
  const versionId = url.searchParams.get('versionId');
  const versionStage = url.searchParams.get('versionStage');
  try {
    const output = await options.client.send(
      new GetSecretValueCommand({
        SecretId: secretId,
        ...(versionId ? { VersionId: versionId } : {}),
        ...(versionStage ? { VersionStage: versionStage } : {}),
      }),
    );
    sendJson(res, 200, asJson(output));
  } catch (error) {
    // A refusal by Secrets Manager (unknown secret, access denied, throttling) is a 400, as the extension
    // answers a missing secret whatever status the service used (moto: 404); no answer at all is a 502.
    const err = error as Error & { $metadata?: { httpStatusCode?: number } };
    const status = err.$metadata?.httpStatusCode;
    refuse(res, status && status >= 400 && status < 500 ? 400 : 502, err.name || 'Error', err.message || 'GetSecretValue failed');
  }
};

/** Starts the stand-in; `close()` stops it (not the client, which the caller owns). */
export const startSecretsExtension = async (options: SecretsExtensionOptions): Promise<RunningSecretsExtension> => {
  const server = createServer((req, res) => {
    handle(options, req, res).catch(() => {
      if (!res.headersSent) refuse(res, 500, 'InternalFailure', 'the stand-in failed');
      else res.destroy();
    });
  });
  const host = options.host ?? '127.0.0.1';
  const { port } = await listen(server, options.port ?? 2773, host);
  return { port, url: httpOrigin(host, port), close: () => closeServer(server) };
};
