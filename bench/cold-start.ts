/**
 * Section 1: each function's bundle, built with the stack's esbuild settings (`bundleFunction`), and
 * how long a fresh `node` takes to load it compared with an empty ESM handler. Each run imports the
 * module and calls nothing, which is the part of a Lambda cold start the bundle decides.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { FunctionName } from '../functions/routes';
import { functionSpecs } from '../functions/routes';
import { bundleFunction, esbuildOptions, largestInputs, repositoryRoot } from '../infra/bundle';
import type { Summary } from './stats';
import { rounded, summarize } from './stats';

export interface FunctionColdStart {
  name: FunctionName;
  bundleBytes: number;
  /** The packages (or project folders) that make up most of the bundle. */
  largestInputs: { group: string; kib: number }[];
  load: Summary;
  /** Median load time of this bundle ÷ the empty handler's. */
  ratio: number;
  /** Median load time minus the empty handler's: what the bundle itself adds. */
  addedMs: number;
}

/** A bundle of one dependency and nothing else, built and timed like the functions: a floor for what holds it. */
export interface ReferenceColdStart {
  name: string;
  bundleBytes: number;
  load: Summary;
  ratio: number;
  addedMs: number;
}

export interface ColdStartResult {
  rounds: number;
  empty: Summary;
  functions: FunctionColdStart[];
  references: ReferenceColdStart[];
}

/**
 * What every function that keeps connections must carry, alone: the DynamoDB client (and with it the
 * @smithy/@aws-sdk core every AWS SDK v3 client shares), and Powertools Tracer (the X-Ray SDK). If one
 * of them alone misses a target, no function holding it can meet it.
 */
const referenceEntries: Record<string, string> = {
  'the DynamoDB client alone':
    "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';\nexport const handler = async () => new DynamoDBClient({});\n",
  'Powertools Tracer alone':
    "import { Tracer } from '@aws-lambda-powertools/tracer';\nconst tracer = new Tracer();\nexport const handler = async () => tracer.isTracingEnabled();\n",
};

const bundleReference = async (contents: string, outfile: string): Promise<number> => {
  const { build } = await import('esbuild');
  const { entryPoints: _none, ...options } = esbuildOptions('reference.ts', outfile);
  await build({ ...options, stdin: { contents, resolveDir: repositoryRoot, loader: 'ts', sourcefile: 'reference.ts' } });
  return (await stat(outfile)).size;
};

const emptyHandler = 'export const handler = async () => ({ statusCode: 200, body: "" });\n';

/** Wall time from spawning `node file` to its exit; a non-zero exit is an error, not a sample. */
const timeNodeLoad = (file: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2_000);
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const elapsed = performance.now() - started;
      if (code === 0) resolve(elapsed);
      else reject(new Error(`node ${file} exited with ${code ?? signal}: ${stderr.trim()}`));
    });
  });

export const measureColdStarts = async (options: { rounds: number; log: (line: string) => void }): Promise<ColdStartResult> => {
  const names = Object.keys(functionSpecs) as FunctionName[];
  const workdir = await mkdtemp(join(tmpdir(), 'tlc-bench-cold-'));
  const bundles: { name: FunctionName; file: string; outdir: string; bytes: number; inputs: { group: string; kib: number }[] }[] = [];
  try {
    const emptyFile = join(workdir, 'empty-handler.mjs');
    await writeFile(emptyFile, emptyHandler);
    for (const name of names) {
      const built = await bundleFunction(name, { keep: true });
      if (!built.outdir) throw new Error(`bundleFunction(${name}) kept no output directory`);
      bundles.push({
        name,
        file: join(built.outdir, 'index.mjs'),
        outdir: built.outdir,
        bytes: built.bytes,
        inputs: largestInputs(built.metafile, 5).map(({ group, bytes }) => ({ group, kib: Math.round((bytes / 1024) * 10) / 10 })),
      });
      options.log(`  bundled ${name}: ${(built.bytes / 1024).toFixed(1)} KiB`);
    }

    const references: { name: string; file: string; bytes: number }[] = [];
    for (const [name, contents] of Object.entries(referenceEntries)) {
      const file = join(workdir, `reference-${references.length}.mjs`);
      references.push({ name, file, bytes: await bundleReference(contents, file) });
    }

    // One warm-up of each (page cache, esbuild's files just written), then interleaved rounds so
    // drift in the machine's load hits the empty handler and the bundles alike.
    await timeNodeLoad(emptyFile);
    for (const bundle of [...bundles, ...references]) await timeNodeLoad(bundle.file);
    const emptySamples: number[] = [];
    const samples = new Map<FunctionName, number[]>(names.map((name) => [name, []]));
    const referenceSamples = new Map<string, number[]>(references.map((reference) => [reference.name, []]));
    for (let round = 0; round < options.rounds; round += 1) {
      emptySamples.push(await timeNodeLoad(emptyFile));
      for (const bundle of bundles) samples.get(bundle.name)?.push(await timeNodeLoad(bundle.file));
      for (const reference of references) referenceSamples.get(reference.name)?.push(await timeNodeLoad(reference.file));
    }
    options.log(`  ${options.rounds} interleaved rounds of ${bundles.length + 1} fresh node processes`);

    const empty = summarize(emptySamples);
    return {
      rounds: options.rounds,
      empty: rounded(empty),
      functions: bundles.map((bundle) => {
        const load = summarize(samples.get(bundle.name) ?? []);
        return {
          name: bundle.name,
          bundleBytes: bundle.bytes,
          largestInputs: bundle.inputs,
          load: rounded(load),
          ratio: Math.round((load.median / empty.median) * 100) / 100,
          addedMs: Math.round((load.median - empty.median) * 10) / 10,
        };
      }),
      references: references.map((reference) => {
        const load = summarize(referenceSamples.get(reference.name) ?? []);
        return {
          name: reference.name,
          bundleBytes: reference.bytes,
          load: rounded(load),
          ratio: Math.round((load.median / empty.median) * 100) / 100,
          addedMs: Math.round((load.median - empty.median) * 10) / 10,
        };
      }),
    };
  } finally {
    await Promise.all([workdir, ...bundles.map((bundle) => bundle.outdir)].map((dir) => rm(dir, { recursive: true, force: true })));
  }
};
