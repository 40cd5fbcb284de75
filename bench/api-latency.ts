/**
 * Sections 2, 4 and 5: data calls over real HTTP through the local stack (local API Gateway → data
 * handler → embedded DynamoDB → simulator), compared with the same call made straight to the
 * simulator; a burst of calls on an expired token; and throughput under concurrent clients.
 */
import { performance } from 'node:perf_hooks';
import type { TestApi } from '../test/support/flow';
import { countServerRequests, countsSince } from './counting-proxy';
import type { TimedResponse } from './http';
import { psuIp, timedGet } from './http';
import type { Summary } from './stats';
import { rounded, summarize } from './stats';

export interface DataCallTarget {
  api: TestApi;
  sub: string;
  connectionId: string;
  /** An access token from a separate journey straight against the simulator. */
  directToken: string;
  /** The data path both sides read, e.g. `accounts`. */
  path: string;
}

export interface LatencyPair {
  stack: Summary;
  direct: Summary;
}

export interface ProxyOverheadResult {
  path: string;
  delayMs: number;
  /** Calls through the stack and straight to the simulator, both behind the injected bank delay. */
  withDelay: LatencyPair & { ratio: number };
  /** The same without injected delay: what the stack adds in absolute terms. */
  noDelay: LatencyPair & { overheadMedianMs: number; overheadP95Ms: number };
}

const stackCall = (target: DataCallTarget, jwt: string) => {
  const url = `${target.api.stack.apiUrl}/connections/${encodeURIComponent(target.connectionId)}/${target.path}`;
  const headers = { authorization: `Bearer ${jwt}`, 'x-psu-ip': psuIp };
  return () => timedGet(url, headers);
};

const directCall = (target: DataCallTarget) => {
  const url = `${target.api.stack.simUrl}/data/v1/${target.path}`;
  const headers = { authorization: `Bearer ${target.directToken}`, 'x-psu-ip': psuIp };
  return () => timedGet(url, headers);
};

const expectOk = (what: string, response: TimedResponse): number => {
  if (response.status !== 200) throw new Error(`${what} answered ${response.status}; the bench measures successful calls only`);
  return response.ms;
};

/** Alternates which side goes first, so neither always gets the warmer sockets or the quieter moment. */
const pairedSamples = async (
  stack: () => Promise<TimedResponse>,
  direct: () => Promise<TimedResponse>,
  count: number,
): Promise<LatencyPair> => {
  const stackMs: number[] = [];
  const directMs: number[] = [];
  for (let index = 0; index < count; index += 1) {
    if (index % 2 === 0) {
      stackMs.push(expectOk('the stack', await stack()));
      directMs.push(expectOk('the simulator', await direct()));
    } else {
      directMs.push(expectOk('the simulator', await direct()));
      stackMs.push(expectOk('the stack', await stack()));
    }
  }
  return { stack: summarize(stackMs), direct: summarize(directMs) };
};

export const measureProxyOverhead = async (
  target: DataCallTarget,
  options: { delayMs: number; delayedCalls: number; plainCalls: number; warmup: number },
): Promise<ProxyOverheadResult> => {
  const jwt = await target.api.token(target.sub);
  const stack = stackCall(target, jwt);
  const direct = directCall(target);
  await pairedSamples(stack, direct, options.warmup);

  const plain = await pairedSamples(stack, direct, options.plainCalls);

  await target.api.simFault({ path: '/data/v1/*', delay_ms: options.delayMs });
  let delayed: LatencyPair;
  try {
    delayed = await pairedSamples(stack, direct, options.delayedCalls);
  } finally {
    await fetch(`${target.api.stack.simUrl}/__sim/faults`, { method: 'DELETE' });
  }

  return {
    path: target.path,
    delayMs: options.delayMs,
    withDelay: {
      stack: rounded(delayed.stack),
      direct: rounded(delayed.direct),
      ratio: Math.round((delayed.stack.median / delayed.direct.median) * 1000) / 1000,
    },
    noDelay: {
      stack: rounded(plain.stack),
      direct: rounded(plain.direct),
      overheadMedianMs: Math.round((plain.stack.median - plain.direct.median) * 100) / 100,
      overheadP95Ms: Math.round((plain.stack.p95 - plain.direct.p95) * 100) / 100,
    },
  };
};

export interface ExpiryBurstResult {
  concurrency: number;
  advancedSeconds: number;
  /** `grant_type=refresh_token` calls the simulator received during the burst. */
  refreshes: number;
  /** Data API calls the simulator received during the burst. */
  upstreamDataCalls: number;
  /** Requests that reached the embedded DynamoDB during the burst, by operation (waiters re-read the item). */
  dynamodb: Record<string, number>;
  /** Milliseconds from the burst's start until the refresh reached the simulator's token endpoint. */
  refreshStartedAtMs: number | undefined;
  ok: number;
  statuses: Record<string, number>;
  latency: Summary;
}

/** Moves the shared clock past the access token's expiry, then fires `concurrency` data calls at once. */
export const measureExpiryBurst = async (
  target: DataCallTarget,
  options: { concurrency: number; advanceSeconds: number },
): Promise<ExpiryBurstResult> => {
  const { api } = target;
  api.advance(options.advanceSeconds);
  // The caller's own JWT may have lapsed with the clock too; get it before the burst starts.
  const call = stackCall(target, await api.token(target.sub));
  const before = await api.simStats();
  const dynamo = countServerRequests(Number(new URL(api.stack.dynamoEndpoint).port));
  const simulator = countServerRequests(Number(new URL(api.stack.simUrl).port));
  const started = performance.now();
  let responses: TimedResponse[];
  try {
    responses = await Promise.all(Array.from({ length: options.concurrency }, () => call()));
  } finally {
    dynamo.stop();
    simulator.stop();
  }
  const refreshSeen = simulator.firstSeen()['POST /connect/token'];
  const after = await api.simStats();
  const statuses: Record<string, number> = {};
  for (const response of responses) statuses[response.status] = (statuses[response.status] ?? 0) + 1;
  const dataCalls = (stats: typeof before) => Object.values(stats.data).reduce((total, count) => total + count, 0);
  return {
    concurrency: options.concurrency,
    advancedSeconds: options.advanceSeconds,
    refreshes: after.token.refresh_token - before.token.refresh_token,
    upstreamDataCalls: dataCalls(after) - dataCalls(before),
    dynamodb: countsSince({}, dynamo.counts()),
    refreshStartedAtMs: refreshSeen === undefined ? undefined : Math.round((refreshSeen - started) * 10) / 10,
    ok: statuses['200'] ?? 0,
    statuses,
    latency: rounded(summarize(responses.map((response) => response.ms))),
  };
};

export interface ThroughputResult {
  clients: number;
  seconds: number;
  requests: number;
  ok: number;
  statuses: Record<string, number>;
  requestsPerSecond: number;
  latency: Summary;
}

/** `clients` loops, each sending its next data call as soon as the last one answered, for `seconds`. */
export const measureThroughput = async (
  target: DataCallTarget,
  options: { clients: number; seconds: number },
): Promise<ThroughputResult> => {
  const call = stackCall(target, await target.api.token(target.sub));
  for (let index = 0; index < options.clients; index += 1) await call();
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const client = async () => {
    while (performance.now() < deadline) {
      const response = await call();
      latencies.push(response.ms);
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: options.clients }, client));
  const elapsedSeconds = (performance.now() - started) / 1000;
  const ok = statuses['200'] ?? 0;
  return {
    clients: options.clients,
    seconds: Math.round(elapsedSeconds * 100) / 100,
    requests: latencies.length,
    ok,
    statuses,
    requestsPerSecond: Math.round((ok / elapsedSeconds) * 10) / 10,
    latency: rounded(summarize(latencies)),
  };
};
