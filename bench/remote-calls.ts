/**
 * Section 3: the remote calls one steady-state data request makes. Runs in a child process of its
 * own (`remote-calls-child.ts`), because the handlers build their AWS clients once per process from
 * process.env: there the local stack runs with TOKEN_KMS_KEY_ID and TRUELAYER_SECRET_ID pointing at
 * moto's server (when python3 has moto), so the real KMS client path runs and is counted, and the
 * secret is read as deployed (through the Parameters and Secrets extension, here its local stand-in,
 * whose Secrets Manager client calls moto), without touching the stack the latency sections measure.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type RunningSecretsExtension, startSecretsExtension } from '../local/secrets-extension';
import { TestApi } from '../test/support/flow';
import type { MotoServer } from '../test/support/moto';
import { motoAvailability, startMoto } from '../test/support/moto';
import type { CountingProxy } from './counting-proxy';
import { countServerRequests, countsSince, startCountingProxy, total } from './counting-proxy';
import { psuIp, truelayerCallCount } from './http';

/** A count per steady-state request, or why it could not be measured. */
export type PerRequest = { measured: true; perRequest: number; operations: Record<string, number> } | { measured: false; reason: string };

export interface RemoteCallsResult {
  requests: number;
  path: string;
  dynamodb: PerRequest;
  kms: PerRequest;
  secretsManager: PerRequest;
  truelayer: PerRequest;
  /** Calls made while connecting and warming up: shows the counted client paths were really exercised. */
  setup: { kms: Record<string, number>; secretsManager: Record<string, number>; dynamodb: Record<string, number> };
}

const resultMarker = 'BENCH_RESULT ';

const perRequest = (operations: Record<string, number>, requests: number): PerRequest => ({
  measured: true,
  perRequest: Math.round((total(operations) / requests) * 100) / 100,
  operations,
});

interface AwsStandIns {
  moto: MotoServer;
  proxy: CountingProxy;
  extension: RunningSecretsExtension;
  extensionClient: SecretsManagerClient;
  env: Record<string, string>;
}

/**
 * moto with a KMS key and the client secret, behind one counting proxy that the handlers' KMS client
 * and the extension stand-in's Secrets Manager client are both sent to.
 */
const startAwsStandIns = async (): Promise<AwsStandIns> => {
  const moto = await startMoto({ region: 'eu-west-2' });
  try {
    const kms = new KMSClient(moto.clientConfig);
    const secrets = new SecretsManagerClient(moto.clientConfig);
    const key = await kms.send(new CreateKeyCommand({ Description: 'truelayer-connections bench token key' }));
    const secretId = 'truelayer-connections/bench/client-credentials';
    await secrets.send(
      new CreateSecretCommand({
        Name: secretId,
        SecretString: JSON.stringify({ client_id: 'sandbox-local', client_secret: 'local-secret' }),
      }),
    );
    kms.destroy();
    secrets.destroy();
    const proxy = await startCountingProxy(moto.endpoint);
    const sessionToken = 'bench-session-token';
    const extensionClient = new SecretsManagerClient({ ...moto.clientConfig, endpoint: proxy.url });
    const extension = await startSecretsExtension({ client: extensionClient, sessionToken, port: 0 });
    return {
      moto,
      proxy,
      extension,
      extensionClient,
      env: {
        TOKEN_KMS_KEY_ID: key.KeyMetadata?.KeyId ?? '',
        TRUELAYER_SECRET_ID: secretId,
        // The SDK's service-specific endpoint setting: the handlers' own KMS client, unchanged, reaches moto.
        AWS_ENDPOINT_URL_KMS: proxy.url,
        // What the extension layer and Lambda give a deployed function: where the extension listens, and the token it checks.
        PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(extension.port),
        AWS_SESSION_TOKEN: sessionToken,
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_REGION: 'eu-west-2',
      },
    };
  } catch (error) {
    await moto.stop();
    throw error;
  }
};

const service = (counts: Record<string, number>, prefix: string): Record<string, number> =>
  Object.fromEntries(Object.entries(counts).filter(([operation]) => operation.startsWith(prefix)));

/** The child's work: one stack, one connection, `requests` sequential data calls after a warm-up. */
export const countRemoteCalls = async (options: { requests: number; warmup: number; path: string }): Promise<RemoteCallsResult> => {
  const moto = motoAvailability();
  let standIns: AwsStandIns | undefined;
  let awsReason = moto.available ? '' : `not measured: moto absent (${moto.reason})`;
  if (moto.available) {
    try {
      standIns = await startAwsStandIns();
    } catch (error) {
      awsReason = `not measured: moto did not start (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`;
    }
  }
  const api = await TestApi.start(standIns ? { env: standIns.env } : {});
  const dynamo = countServerRequests(Number(new URL(api.stack.dynamoEndpoint).port));
  try {
    const sub = 'bench-remote-calls';
    const connectionId = await api.connect(sub);
    const jwt = await api.token(sub);
    const call = async () => {
      const response = await fetch(`${api.stack.apiUrl}/connections/${connectionId}/${options.path}`, {
        headers: { authorization: `Bearer ${jwt}`, 'x-psu-ip': psuIp },
      });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`data call answered ${response.status}`);
    };
    for (let index = 0; index < options.warmup; index += 1) await call();

    const aws0 = standIns?.proxy.counts() ?? {};
    const dynamo0 = dynamo.counts();
    const sim0 = await api.simStats();
    for (let index = 0; index < options.requests; index += 1) await call();
    const aws1 = standIns?.proxy.counts() ?? {};
    const dynamo1 = dynamo.counts();
    const sim1 = await api.simStats();

    const awsSteady = countsSince(aws0, aws1);
    const setupKms = service(aws0, 'TrentService.');
    const setupSecrets = service(aws0, 'secretsmanager.');
    // A stand-in the handlers never reached would count 0 for the wrong reason: say so instead.
    const kms: PerRequest = !standIns
      ? { measured: false, reason: awsReason }
      : total(setupKms) === 0
        ? { measured: false, reason: 'not measured: the KMS client never reached moto (endpoint setting not honoured)' }
        : perRequest(service(awsSteady, 'TrentService.'), options.requests);
    const secretsManager: PerRequest = !standIns
      ? { measured: false, reason: awsReason }
      : total(setupSecrets) === 0
        ? { measured: false, reason: 'not measured: no secret read through the extension stand-in reached moto' }
        : perRequest(service(awsSteady, 'secretsmanager.'), options.requests);
    return {
      requests: options.requests,
      path: options.path,
      dynamodb: perRequest(countsSince(dynamo0, dynamo1), options.requests),
      kms,
      secretsManager,
      truelayer: {
        measured: true,
        perRequest: Math.round(((truelayerCallCount(sim1) - truelayerCallCount(sim0)) / options.requests) * 100) / 100,
        operations: {
          ...countsSince(sim0.data, sim1.data),
          ...(sim1.token.refresh_token - sim0.token.refresh_token
            ? { 'POST /connect/token (refresh)': sim1.token.refresh_token - sim0.token.refresh_token }
            : {}),
        },
      },
      setup: { kms: setupKms, secretsManager: setupSecrets, dynamodb: dynamo0 },
    };
  } finally {
    dynamo.stop();
    await api.close();
    await standIns?.extension.close();
    standIns?.extensionClient.destroy();
    await standIns?.proxy.close();
    await standIns?.moto.stop();
  }
};

/** Prints the result on one marked line, for the parent to find among anything else on stdout. */
export const reportFromChild = (result: RemoteCallsResult): void => {
  process.stdout.write(`${resultMarker}${JSON.stringify(result)}\n`);
};

/** Runs the child and returns its result; its stderr is passed through so failures stay visible. */
export const runRemoteCallsChild = (options: {
  requests: number;
  warmup: number;
  path: string;
  timeoutMs: number;
}): Promise<RemoteCallsResult> =>
  new Promise((resolve, reject) => {
    const entry = fileURLToPath(new URL('./remote-calls-child.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', entry, String(options.requests), String(options.warmup), options.path], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((candidate) => candidate.startsWith(resultMarker));
      if (code === 0 && line) resolve(JSON.parse(line.slice(resultMarker.length)) as RemoteCallsResult);
      else reject(new Error(`the remote-calls child exited with ${code ?? signal}${line ? '' : ' and no result'}`));
    });
  });
