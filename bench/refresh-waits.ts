/**
 * Section 6: how often a data read waits on a token refresh over a simulated day of steady traffic,
 * without and with the refresh ahead of expiry (TOKEN_REFRESH_AHEAD_MS). Each mode runs in a child
 * process of its own (`refresh-waits-child.ts`), because the handlers read their configuration once
 * per process.
 *
 * One read every `readEverySeconds` of the shared clock for `hours`; the simulator delays every
 * token call by `tokenDelayMs` and every Data API answer by `dataDelayMs` (longer), so a read that
 * waited for a refresh before its data call takes about their sum, and one that ran the refresh
 * alongside its data call about the data call alone. Of the reads during which a refresh happened
 * (the simulator's count moved), one counts as having waited when it took longer than the median
 * read without a refresh plus the token delay: the threshold moves with the machine's load.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { TestApi } from '../test/support/flow';
import { psuIp } from './http';
import { rounded, type Summary, summarize } from './stats';

export interface RefreshWaitsPlan {
  hours: number;
  readEverySeconds: number;
  tokenDelayMs: number;
  dataDelayMs: number;
  /** TOKEN_REFRESH_AHEAD_MS of the "after" run. */
  refreshAheadMs: number;
  timeoutMs: number;
}

export interface RefreshWaitsMode {
  refreshAheadMs: number;
  reads: number;
  notOk: number;
  refreshes: number;
  /** Reads during which a refresh happened and that took longer than a plain read plus the token delay. */
  waited: number;
  /** That threshold, in ms. */
  thresholdMs: number;
  /** Latency of the reads during which a refresh happened. */
  refreshReads: Summary;
  all: Summary;
}

export interface RefreshWaitsResult {
  plan: Omit<RefreshWaitsPlan, 'timeoutMs'>;
  before: RefreshWaitsMode;
  after: RefreshWaitsMode;
}

const resultMarker = 'BENCH_RESULT ';

/** Runs in the child: one stack with the given refresh-ahead window, a simulated day of reads. */
export const measureRefreshWaitsMode = async (
  plan: Omit<RefreshWaitsPlan, 'timeoutMs'>,
  refreshAheadMs: number,
): Promise<RefreshWaitsMode> => {
  const api = await TestApi.start({ env: { TOKEN_REFRESH_AHEAD_MS: String(refreshAheadMs) } });
  try {
    const sub = 'bench-refresh-waits';
    const id = await api.connect(sub);
    await api.simFault({ path: '/connect/token', delay_ms: plan.tokenDelayMs });
    await api.simFault({ path: '/data/v1/*', delay_ms: plan.dataDelayMs });
    const reads = Math.floor((plan.hours * 3600) / plan.readEverySeconds);
    const latencies: number[] = [];
    const plainLatencies: number[] = [];
    const refreshLatencies: number[] = [];
    let notOk = 0;
    const start = await api.simStats();
    let refreshesSoFar = start.token.refresh_token;
    for (let i = 0; i < reads; i += 1) {
      api.advance(plan.readEverySeconds);
      const token = await api.token(sub);
      const started = performance.now();
      const response = await fetch(`${api.stack.apiUrl}/connections/${id}/accounts`, {
        headers: { authorization: `Bearer ${token}`, 'x-psu-ip': psuIp },
      });
      await response.arrayBuffer();
      const took = performance.now() - started;
      if (response.status !== 200) notOk += 1;
      latencies.push(took);
      const refreshes = (await api.simStats()).token.refresh_token;
      (refreshes > refreshesSoFar ? refreshLatencies : plainLatencies).push(took);
      refreshesSoFar = refreshes;
    }
    const thresholdMs = summarize(plainLatencies).median + plan.tokenDelayMs;
    return {
      refreshAheadMs,
      reads,
      notOk,
      refreshes: refreshesSoFar - start.token.refresh_token,
      waited: refreshLatencies.filter((took) => took > thresholdMs).length,
      thresholdMs: Math.round(thresholdMs * 10) / 10,
      refreshReads: rounded(summarize(refreshLatencies), 1),
      all: rounded(summarize(latencies), 1),
    };
  } finally {
    await api.close();
  }
};

export const reportFromChild = (result: RefreshWaitsMode): void => {
  process.stdout.write(`${resultMarker}${JSON.stringify(result)}\n`);
};

const runChild = (plan: RefreshWaitsPlan, refreshAheadMs: number): Promise<RefreshWaitsMode> =>
  new Promise((resolve, reject) => {
    const entry = fileURLToPath(new URL('./refresh-waits-child.ts', import.meta.url));
    const { timeoutMs, ...childPlan } = plan;
    const child = spawn(process.execPath, ['--import', 'tsx', entry, JSON.stringify(childPlan), String(refreshAheadMs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, LOG_LEVEL: 'ERROR' },
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((candidate) => candidate.startsWith(resultMarker));
      if (code === 0 && line) resolve(JSON.parse(line.slice(resultMarker.length)) as RefreshWaitsMode);
      else reject(new Error(`the refresh-waits child exited with ${code ?? signal}${line ? '' : ' and no result'}`));
    });
  });

/** Before (no refresh ahead) and after (refresh ahead of expiry), one after the other. */
export const measureRefreshWaits = async (plan: RefreshWaitsPlan): Promise<RefreshWaitsResult> => {
  const before = await runChild(plan, 0);
  const after = await runChild(plan, plan.refreshAheadMs);
  const { timeoutMs: _timeout, ...shown } = plan;
  return { plan: shown, before, after };
};
