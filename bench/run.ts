/**
 * `npm run bench`: bundle size and cold load per function, the stack's latency against the
 * simulator's, remote calls per data request, a burst on an expired token, and throughput. Prints
 * one table to stdout (progress goes to stderr) and writes bench/results/latest.{md,json}.
 *
 * `npm run bench -- --only 1,3` runs some sections and writes nothing.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { arch, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { dataScopes } from '../shared/truelayer/scopes';
import { TestApi } from '../test/support/flow';
import type { DataCallTarget } from './api-latency';
import { measureExpiryBurst, measureProxyOverhead, measureThroughput } from './api-latency';
import { measureColdStarts } from './cold-start';
import { directAccessToken } from './http';
import { measureLifecycleRun } from './lifecycle';
import { measurePace } from './pace';
import { measureRefreshWaits } from './refresh-waits';
import { runRemoteCallsChild } from './remote-calls';
import type { Row, Sections } from './report';
import { buildRows, markdownTable, textTable } from './report';

/** Sizes chosen to keep the whole run near two minutes on a 2-core machine. */
const plan = {
  coldStart: { rounds: 15 },
  proxyOverhead: { delayMs: 100, delayedCalls: 40, plainCalls: 100, warmup: 10 },
  remoteCalls: { requests: 20, warmup: 3, timeoutMs: 120_000 },
  expiryBurst: { concurrency: 50, advanceSeconds: 3_700 },
  throughput: { clients: 20, seconds: 10 },
  // A read every 4 minutes, inside the 5-minute refresh-ahead window, for a day: 360 reads per mode.
  refreshWaits: { hours: 24, readEverySeconds: 240, tokenDelayMs: 100, dataDelayMs: 250, refreshAheadMs: 300_000, timeoutMs: 300_000 },
  dataPath: 'accounts',
  lifecycle: { connections: 100_000, due: 1_000 },
} as const;

const log = (line: string) => process.stderr.write(`${line}\n`);

const parseOnly = (argv: readonly string[]): Set<number> | undefined => {
  const index = argv.findIndex((arg) => arg === '--only' || arg.startsWith('--only='));
  if (index < 0) return undefined;
  const arg = argv[index] ?? '';
  const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : (argv[index + 1] ?? '');
  const sections = value
    .split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n >= 1 && n <= 8);
  if (sections.length === 0) throw new Error('--only takes section numbers 1 to 8, e.g. --only 1,3');
  return new Set(sections);
};

const attempt = async <T>(name: string, work: () => Promise<T>): Promise<T | Error> => {
  const started = performance.now();
  log(`${name}…`);
  try {
    const result = await work();
    log(`  done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return result;
  } catch (error) {
    log(`  failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return error instanceof Error ? error : new Error(String(error));
  }
};

/** Sections 2, 5, 6 and 4 share one local stack, in that order: 4 moves the clock, which nothing after it minds. */
const runStackSections = async (only: Set<number> | undefined, sections: Sections): Promise<void> => {
  const wanted = (n: number) => !only || only.has(n);
  if (![2, 4, 5, 7].some(wanted)) return;
  let api: TestApi | undefined;
  const setup = await attempt('starting the local stack and connecting the mock bank', async () => {
    api = await TestApi.start();
    const sub = 'bench-user';
    const connectionId = await api.connect(sub);
    const directToken = await directAccessToken(api, api.stack.simUrl, dataScopes);
    return { api, sub, connectionId, directToken, path: plan.dataPath } satisfies DataCallTarget;
  });
  try {
    if (setup instanceof Error) {
      if (wanted(2)) sections.proxyOverhead = setup;
      if (wanted(5)) sections.throughput = setup;
      if (wanted(4)) sections.expiryBurst = setup;
      if (wanted(7)) sections.pace = setup;
      return;
    }
    if (wanted(2))
      sections.proxyOverhead = await attempt('2. data call through the stack vs straight to the simulator', () =>
        measureProxyOverhead(setup, plan.proxyOverhead),
      );
    if (wanted(5)) sections.throughput = await attempt('5. throughput', () => measureThroughput(setup, plan.throughput));
    if (wanted(7))
      sections.pace = await attempt("7. reading at the bank's pace: a two-year history in pages, the unattended budget", () =>
        measurePace(setup.api),
      );
    if (wanted(4))
      sections.expiryBurst = await attempt('4. concurrent calls on an expired token', () => measureExpiryBurst(setup, plan.expiryBurst));
  } finally {
    await api?.close();
  }
};

const gitCommit = (): string | undefined => {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return commit || undefined;
  } catch {
    return undefined;
  }
};

const machine = () => {
  const processors = cpus();
  return {
    cores: processors.length,
    cpu: processors[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    os: `${platform()} ${release()} ${arch()}`,
  };
};

const loadAverage = (): number[] => loadavg().map((value) => Math.round(value * 100) / 100);

const methodNotes = `How each row is measured:

1. Each function in \`functionSpecs\` is bundled by \`bundleFunction\` (infra/bundle.ts: the esbuild
   options the CDK stack uses). Cold load: a fresh \`node <file>\` is spawned for the bundle and for
   an empty ESM handler, interleaved, ${plan.coldStart.rounds} times each; wall time from spawn to exit, nothing called.
   The ratio compares medians. Both include Node's own start-up, so the difference (+ms) is what the bundle adds.
   The reference rows bundle one dependency alone (the DynamoDB client; Powertools Tracer) with the same
   options and time it the same way: no function that holds it can load faster or weigh less.
2. \`GET /connections/{id}/${plan.dataPath}\` through the local stack (HTTP → local API Gateway with JWT check →
   data handler → embedded DynamoDB → simulator) against \`GET /data/v1/${plan.dataPath}\` sent straight to the
   simulator with an access token from a separate client journey, calls alternating, X-PSU-IP on every call.
   With \`POST /__sim/faults {"path":"/data/v1/*","delay_ms":${plan.proxyOverhead.delayMs}}\`: ${plan.proxyOverhead.delayedCalls} calls each; without: ${plan.proxyOverhead.plainCalls} each.
3. A child process runs its own stack with TOKEN_KMS_KEY_ID and TRUELAYER_SECRET_ID pointing at moto's
   server through a counting proxy: the real KMS client (via AWS_ENDPOINT_URL_KMS), and the secret read as
   deployed, through the Parameters and Secrets extension's local stand-in, whose Secrets Manager client
   goes through the same proxy (PARAMETERS_SECRETS_EXTENSION_HTTP_PORT, AWS_SESSION_TOKEN). After connecting and ${plan.remoteCalls.warmup} warm-up calls, ${plan.remoteCalls.requests} sequential data calls are
   counted: DynamoDB requests at the embedded DynamoDB's own HTTP server, TrueLayer calls from the simulator's stats.
4. The shared clock moves ${plan.expiryBurst.advanceSeconds} s forward (past the 1-hour access token), then ${plan.expiryBurst.concurrency} data calls start at
   once; refreshes are \`grant_type=refresh_token\` calls counted by the simulator.
5. ${plan.throughput.clients} clients, each sending its next data call when the last one answered, for ${plan.throughput.seconds} s, on one connection;
   req/s counts 200s only.
6. Two child processes, each with its own stack: "before" with TOKEN_REFRESH_AHEAD_MS=0 (a read refreshes only
   a token past expiry, then makes its data call), "after" with ${plan.refreshWaits.refreshAheadMs / 60_000} minutes (a read finding the token that close
   to expiry refreshes it alongside its data call, awaiting both). One data read every ${plan.refreshWaits.readEverySeconds / 60} minutes of the shared
   clock for ${plan.refreshWaits.hours} hours; the simulator delays token calls ${plan.refreshWaits.tokenDelayMs} ms and Data API answers ${plan.refreshWaits.dataDelayMs} ms (the token is
   checked on arrival, as at TrueLayer's gateway). A read "waited on a refresh" when a refresh happened during it
   (the simulator's count moved) and it took longer than the median read without one plus ${plan.refreshWaits.tokenDelayMs} ms.
7. \`john\`/\`busy\` (50,000 transactions over two years on one account) connected through the dialog, then its
   whole history read page by page (\`limit\` 1000, then 500) with X-PSU-IP and \`Accept-Encoding: identity\`, so
   the body measured is the Lambda's whole response; pages/s is sequential, one client. The unattended budget's
   cost: DynamoDB requests (counted at the embedded DynamoDB's HTTP server) per unattended read of a fresh endpoint
   while slots remain (4 reads), per read past the budget answered from the cache (10), per user-present read (10),
   and in all for 40 concurrent unattended reads of another fresh endpoint.
8. ${plan.lifecycle.connections.toLocaleString('en-GB')} connections are seeded into a fresh embedded DynamoDB with BatchWriteItem (not timed
   against anything); ${plan.lifecycle.due.toLocaleString('en-GB')} have a consent that ended, the rest are active and due weeks later. One
   lifecycle worker run (in-process, as the scheduled Lambda runs it) queries the sparse due index and
   ends the due ones; items read = index entries returned + items read with GetItem. A second run follows.

Every process of the bench shares the machine with whatever else runs on it: the load average above
says how busy it was, and section 1 and 5 numbers move with it.`;

const writeResults = async (rows: readonly Row[], sections: Sections, meta: Record<string, unknown>): Promise<string[]> => {
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  const serialise = (value: unknown): unknown => (value instanceof Error ? { error: value.message } : value);
  const json = {
    ...meta,
    targets: {
      bundleKiB: 300,
      coldLoadRatio: 1.8,
      latencyRatio: 1.1,
      remoteCallsPerDataRequest: { dynamodb: 1, kms: 0, secretsManager: 0, truelayer: 1 },
      refreshesPerExpiryBurst: 1,
      readsWaitingOnRefresh: 'after < before',
    },
    rows,
    sections: Object.fromEntries(Object.entries(sections).map(([name, value]) => [name, serialise(value)])),
  };
  const m = meta as {
    date: string;
    node: string;
    machine: ReturnType<typeof machine>;
    loadAverage: { start: number[]; end: number[] };
    durationSeconds: number;
    commit?: string;
  };
  const markdown = `# Benchmark results

\`npm run bench\`, ${m.date}${m.commit ? ` at commit ${m.commit}` : ''}: Node ${m.node}, ${m.machine.os}, ${m.machine.cores} cores (${m.machine.cpu}),
${m.machine.memoryGiB} GiB; load average ${m.loadAverage.start.join(' / ')} at the start, ${m.loadAverage.end.join(' / ')} at the end; ${m.durationSeconds} s in all.

${markdownTable(rows)}

${methodNotes}
`;
  const written: string[] = [];
  for (const [name, text] of [
    ['latest.json', `${JSON.stringify(json, null, 2)}\n`],
    ['latest.md', markdown],
  ] as const) {
    const path = join(dir, name);
    await writeFile(`${path}.tmp`, text);
    await rename(`${path}.tmp`, path);
    written.push(path);
  }
  return written;
};

const main = async (): Promise<void> => {
  const only = parseOnly(process.argv.slice(2));
  const wanted = (n: number) => !only || only.has(n);
  const started = performance.now();
  const startLoad = loadAverage();
  const sections: Sections = {};

  if (wanted(1)) sections.coldStart = await attempt('1. bundles and cold load', () => measureColdStarts({ ...plan.coldStart, log }));
  await runStackSections(only, sections);
  if (wanted(3))
    sections.remoteCalls = await attempt('3. remote calls per steady-state data request', () =>
      runRemoteCallsChild({ ...plan.remoteCalls, path: plan.dataPath }),
    );
  if (wanted(6))
    sections.refreshWaits = await attempt('6. reads waiting on a refresh over a simulated day', () =>
      measureRefreshWaits(plan.refreshWaits),
    );
  if (wanted(8))
    sections.lifecycle = await attempt('8. lifecycle worker over a large table', () => measureLifecycleRun({ ...plan.lifecycle, log }));

  const rows = buildRows(sections);
  const commit = gitCommit();
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    machine: machine(),
    loadAverage: { start: startLoad, end: loadAverage() },
    durationSeconds: Math.round((performance.now() - started) / 1000),
    ...(commit ? { commit } : {}),
  };
  process.stdout.write(`\n${textTable(rows)}\n\n`);
  log(
    `Node ${meta.node}, ${meta.machine.cores} cores, load average ${meta.loadAverage.start.join('/')} → ${meta.loadAverage.end.join('/')}, ${meta.durationSeconds} s`,
  );
  if (only) {
    log('a partial run (--only): bench/results left as they were');
  } else {
    for (const path of await writeResults(rows, sections, meta)) log(`wrote ${path}`);
  }
  process.exit(rows.some((row) => row.status === 'FAILED') ? 1 : 0);
};

await main();
