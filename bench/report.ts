/** The one results table: rows built from each section's numbers, rendered for stdout and Markdown. */
import type { ExpiryBurstResult, ProxyOverheadResult, ThroughputResult } from './api-latency';
import type { ColdStartResult } from './cold-start';
import type { LifecycleBenchResult } from './lifecycle';
import type { PaceResult } from './pace';
import type { RefreshWaitsMode, RefreshWaitsResult } from './refresh-waits';
import type { PerRequest, RemoteCallsResult } from './remote-calls';
import { ms } from './stats';

export type Status = 'met' | 'MISSED' | 'info' | 'not measured' | 'FAILED';

export interface Row {
  section: number;
  measure: string;
  result: string;
  target: string;
  status: Status;
}

export const targets = {
  bundleKiB: 300,
  coldLoadRatio: 1.8,
  latencyRatio: 1.1,
  remoteCalls: { dynamodb: 1, kms: 0, secretsManager: 0, truelayer: 1 },
  refreshesPerBurst: 1,
} as const;

export interface Sections {
  coldStart?: ColdStartResult | Error;
  proxyOverhead?: ProxyOverheadResult | Error;
  remoteCalls?: RemoteCallsResult | Error;
  expiryBurst?: ExpiryBurstResult | Error;
  throughput?: ThroughputResult | Error;
  lifecycle?: LifecycleBenchResult | Error;
  refreshWaits?: RefreshWaitsResult | Error;
  pace?: PaceResult | Error;
}

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
const failed = (section: number, measure: string, error: Error): Row => ({
  section,
  measure,
  result: `failed: ${error.message.split('\n')[0]}`,
  target: '',
  status: 'FAILED',
});
const statusList = (statuses: Record<string, number>): string =>
  Object.entries(statuses)
    .map(([status, count]) => `${count}× ${status}`)
    .join(', ');

const coldStartRows = (result: ColdStartResult | Error | undefined): Row[] => {
  if (!result) return [];
  if (result instanceof Error) return [failed(1, 'bundles and cold load', result)];
  return result.functions
    .flatMap((fn): Row[] => [
      {
        section: 1,
        measure: `\`${fn.name}\` bundle (esbuild, stack options)`,
        result: `${kib(fn.bundleBytes)} (largest: ${fn.largestInputs
          .slice(0, 2)
          .map((input) => `${input.group} ${input.kib.toFixed(0)} KiB`)
          .join(', ')})`,
        target: `≤ ${targets.bundleKiB} KiB`,
        status: fn.bundleBytes <= targets.bundleKiB * 1024 ? 'met' : 'MISSED',
      },
      {
        section: 1,
        measure: `\`${fn.name}\` cold load ÷ empty handler`,
        result: `${ms(fn.load.median)} vs ${ms(result.empty.median)} (+${fn.addedMs.toFixed(0)} ms, medians of ${result.rounds}) = ${fn.ratio.toFixed(2)}×`,
        target: `≤ ${targets.coldLoadRatio}×`,
        status: fn.ratio <= targets.coldLoadRatio ? 'met' : 'MISSED',
      },
    ])
    .concat(
      result.references.map(
        (reference): Row => ({
          section: 1,
          measure: `reference: ${reference.name}, bundled and loaded the same way`,
          result: `${kib(reference.bundleBytes)}; ${ms(reference.load.median)} (+${reference.addedMs.toFixed(0)} ms) = ${reference.ratio.toFixed(2)}×`,
          target: '(floor)',
          status: 'info',
        }),
      ),
    );
};

const proxyOverheadRows = (result: ProxyOverheadResult | Error | undefined): Row[] => {
  if (!result) return [];
  if (result instanceof Error) return [failed(2, 'data call through the stack ÷ direct', result)];
  const { withDelay, noDelay } = result;
  return [
    {
      section: 2,
      measure: `\`GET …/${result.path}\` with ${result.delayMs} ms bank latency: stack ÷ direct`,
      result: `${ms(withDelay.stack.median)} ÷ ${ms(withDelay.direct.median)} (medians of ${withDelay.stack.n}) = ${withDelay.ratio.toFixed(3)}×`,
      target: `≤ ${targets.latencyRatio.toFixed(2)}×`,
      status: withDelay.ratio <= targets.latencyRatio ? 'met' : 'MISSED',
    },
    {
      section: 2,
      measure: 'overhead of the stack, no injected latency',
      result: `median +${noDelay.overheadMedianMs.toFixed(1)} ms, p95 +${noDelay.overheadP95Ms.toFixed(1)} ms (stack ${ms(noDelay.stack.median)} / ${ms(noDelay.stack.p95)}, direct ${ms(noDelay.direct.median)} / ${ms(noDelay.direct.p95)}; n=${noDelay.stack.n} each)`,
      target: '(absolute)',
      status: 'info',
    },
  ];
};

const operationList = (counts: Record<string, number>): string =>
  Object.entries(counts)
    .map(([operation, n]) => `${operation.replace(/^[A-Za-z0-9_]+\./, '')} ${n}`)
    .join(', ');

/** `setup`: what the same client sent while connecting, proof that its path really ran. */
const remoteCallRow = (name: string, count: PerRequest, target: number, setup?: Record<string, number>): Row => {
  if (!count.measured)
    return {
      section: 3,
      measure: `${name} requests per steady-state data request`,
      result: count.reason,
      target: String(target),
      status: 'not measured',
    };
  const operations = operationList(count.operations);
  const setupNote = setup && Object.keys(setup).length ? `; while connecting: ${operationList(setup)}` : '';
  return {
    section: 3,
    measure: `${name} requests per steady-state data request`,
    result: `${count.perRequest.toFixed(2)}${operations ? ` (${operations})` : ''}${setupNote}`,
    target: String(target),
    status: count.perRequest === target ? 'met' : 'MISSED',
  };
};

const remoteCallsRows = (result: RemoteCallsResult | Error | undefined): Row[] => {
  if (!result) return [];
  if (result instanceof Error) return [failed(3, 'remote calls per data request', result)];
  return [
    remoteCallRow('DynamoDB', result.dynamodb, targets.remoteCalls.dynamodb),
    remoteCallRow('KMS (moto)', result.kms, targets.remoteCalls.kms, result.setup.kms),
    remoteCallRow('Secrets Manager (moto)', result.secretsManager, targets.remoteCalls.secretsManager, result.setup.secretsManager),
    remoteCallRow('TrueLayer', result.truelayer, targets.remoteCalls.truelayer),
  ];
};

const expiryRows = (result: ExpiryBurstResult | Error | undefined): Row[] => {
  if (!result) return [];
  if (result instanceof Error) return [failed(4, 'concurrent calls on an expired token', result)];
  const allOk = result.ok === result.concurrency;
  return [
    {
      section: 4,
      measure: `upstream refreshes, ${result.concurrency} concurrent calls after expiry`,
      result: `${result.refreshes} (${statusList(result.statuses)}; ${result.upstreamDataCalls} Data API calls)`,
      target: String(targets.refreshesPerBurst),
      status: result.refreshes === targets.refreshesPerBurst && allOk ? 'met' : 'MISSED',
    },
    {
      section: 4,
      measure: 'latency of that burst',
      result: `p50 ${ms(result.latency.median)}, p99 ${ms(result.latency.p99)}; refresh reached TrueLayer at ${ms(result.refreshStartedAtMs ?? Number.NaN)}; ${Object.values(result.dynamodb).reduce((sum, n) => sum + n, 0)} DynamoDB requests (${operationList(result.dynamodb)})`,
      target: '(absolute)',
      status: 'info',
    },
  ];
};

const throughputRows = (result: ThroughputResult | Error | undefined): Row[] => {
  if (!result) return [];
  if (result instanceof Error) return [failed(5, 'throughput', result)];
  const errors = result.requests - result.ok;
  return [
    {
      section: 5,
      measure: `throughput, ${result.clients} concurrent clients for ${result.seconds.toFixed(0)} s`,
      result: `${result.requestsPerSecond.toFixed(1)} req/s; p50 ${ms(result.latency.median)}, p99 ${ms(result.latency.p99)}; ${errors === 0 ? 'no errors' : `${errors} not 200 (${statusList(result.statuses)})`}`,
      target: '(absolute)',
      status: errors === 0 ? 'info' : 'MISSED',
    },
  ];
};

const share = (mode: RefreshWaitsMode): string =>
  `${mode.waited}/${mode.reads} (${((100 * mode.waited) / Math.max(1, mode.reads)).toFixed(1)} %)`;

const refreshWaitRows = (result: RefreshWaitsResult | Error | undefined): Row[] => {
  if (!result) return [];
  if (result instanceof Error) return [failed(6, 'reads waiting on a refresh', result)];
  const { before, after, plan } = result;
  const allOk = before.notOk === 0 && after.notOk === 0;
  return [
    {
      section: 6,
      measure: `data reads that waited on a refresh, a simulated day (a read every ${plan.readEverySeconds / 60} min)`,
      result: `before ${share(before)}, after ${share(after)}; upstream refreshes ${before.refreshes} vs ${after.refreshes}${allOk ? '' : `; not 200: ${before.notOk} / ${after.notOk}`}`,
      target: 'after < before',
      status: after.waited < before.waited && allOk ? 'met' : 'MISSED',
    },
    {
      section: 6,
      measure: 'latency of the reads during which a refresh ran',
      result: `before p50 ${ms(before.refreshReads.median)}, after p50 ${ms(after.refreshReads.median)} (token ${plan.tokenDelayMs} ms, data ${plan.dataDelayMs} ms upstream); all reads p50 ${ms(before.all.median)} vs ${ms(after.all.median)}`,
      target: '(absolute)',
      status: 'info',
    },
  ];
};

/** Lambda's synchronous response limit is 6 MB; a page stays far below it. */
const lambdaResponseLimitBytes = 6 * 1024 * 1024;

const paceRows = (result: PaceResult | Error | undefined): Row[] => {
  if (!result) return [];
  if (result instanceof Error) return [failed(7, "reading at the bank's pace", result)];
  const { budget } = result;
  const ops = (cost: { perRequest: number; operations: Record<string, number> }) =>
    `${cost.perRequest.toFixed(2)} (${operationList(cost.operations)})`;
  return [
    ...result.history.map(
      (run): Row => ({
        section: 7,
        measure: `two-year history of john/busy, \`limit=${run.limit}\``,
        result: `${run.transactions} transactions in ${run.pages} pages, ${run.pagesPerSecond.toFixed(1)} pages/s (${run.seconds.toFixed(1)} s); ${run.upstreamCalls} TrueLayer calls`,
        target: '1 TrueLayer call a page',
        status: run.upstreamCalls === run.pages ? 'met' : 'MISSED',
      }),
    ),
    ...result.history.map(
      (run): Row => ({
        section: 7,
        measure: `largest response, \`limit=${run.limit}\` (uncompressed)`,
        result: kib(run.largestResponseBytes),
        target: '≪ 6 MB',
        status: run.largestResponseBytes < lambdaResponseLimitBytes / 4 ? 'met' : 'MISSED',
      }),
    ),
    {
      section: 7,
      measure: 'DynamoDB requests per unattended read within the budget',
      result: ops(budget.withinBudget),
      target: '(cost)',
      status: 'info',
    },
    {
      section: 7,
      measure: 'DynamoDB requests per unattended read past it (from the cache)',
      result: ops(budget.fromCache),
      target: '(cost)',
      status: 'info',
    },
    {
      section: 7,
      measure: 'DynamoDB requests per user-present read (no budget)',
      result: ops(budget.attended),
      target: '(cost)',
      status: 'info',
    },
    {
      section: 7,
      measure: `${budget.burst.concurrency} concurrent unattended reads of one endpoint`,
      result: `${budget.burst.upstream} reached TrueLayer (${statusList(budget.burst.statuses)}); ${budget.burst.dynamodb} DynamoDB requests in all`,
      target: '≤ 4 upstream',
      status: budget.burst.upstream <= 4 ? 'met' : 'MISSED',
    },
  ];
};

const lifecycleRows = (result: LifecycleBenchResult | Error | undefined): Row[] => {
  if (!result) return [];
  if (result instanceof Error) return [failed(8, 'lifecycle worker run', result)];
  const { run, idleRun } = result;
  // An index entry and one consistent read per due item, whatever the table holds.
  const budget = 2 * result.dueSeeded;
  const allDone = run.due === result.dueSeeded && run.expired === result.dueSeeded && run.failures === 0;
  return [
    {
      section: 8,
      measure: `one worker run over ${result.connections.toLocaleString('en-GB')} connections, ${result.dueSeeded.toLocaleString('en-GB')} due`,
      result: `${run.itemsRead.toLocaleString('en-GB')} items read, ${run.seconds.toFixed(2)} s; ${run.expired} expired, ${run.eventsPublished} events published, ${run.failures} failures (seeded in ${result.seedSeconds.toFixed(0)} s)`,
      target: `≤ ${budget.toLocaleString('en-GB')} items read`,
      status: run.itemsRead <= budget && allDone ? 'met' : 'MISSED',
    },
    {
      section: 8,
      measure: 'the next run, nothing due',
      result: `${idleRun.itemsRead} items read, ${(idleRun.seconds * 1000).toFixed(0)} ms`,
      target: '0 items read',
      status: idleRun.itemsRead === 0 ? 'met' : 'MISSED',
    },
  ];
};

export const buildRows = (sections: Sections): Row[] => [
  ...coldStartRows(sections.coldStart),
  ...proxyOverheadRows(sections.proxyOverhead),
  ...remoteCallsRows(sections.remoteCalls),
  ...expiryRows(sections.expiryBurst),
  ...throughputRows(sections.throughput),
  ...refreshWaitRows(sections.refreshWaits),
  ...paceRows(sections.pace),
  ...lifecycleRows(sections.lifecycle),
];

const escapeCell = (text: string): string => text.replace(/\|/g, '\\|');

export const markdownTable = (rows: readonly Row[]): string =>
  [
    '| # | Measure | Result | Target | Status |',
    '|---|---|---|---|---|',
    ...rows.map(
      (row) =>
        `| ${row.section} | ${escapeCell(row.measure)} | ${escapeCell(row.result)} | ${escapeCell(row.target)} | ${row.status === 'met' || row.status === 'info' ? row.status : `**${row.status}**`} |`,
    ),
  ].join('\n');

/** A fixed-width table for the terminal. */
export const textTable = (rows: readonly Row[]): string => {
  const header = ['#', 'Measure', 'Result', 'Target', 'Status'];
  const cells = rows.map((row) => [String(row.section), row.measure.replace(/`/g, ''), row.result, row.target, row.status]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((line) => line[column]?.length ?? 0)));
  const line = (values: readonly string[]) =>
    values
      .map((value, column) => value.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...cells.map(line)].join('\n');
};
