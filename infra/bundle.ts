/**
 * How every Lambda is bundled: one set of esbuild settings, rendered both as the CDK NodejsFunction
 * bundling options (what `cdk synth` runs) and as esbuild build options (what `bundleFunction` runs
 * for the size test and the bench), so the two cannot drift.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions, Metafile } from 'esbuild';
import type { FunctionName } from '../functions/routes';
import { functionSpecs } from '../functions/routes';

export const repositoryRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** The Lambda runtime the bundles target: Node.js 22 (`nodejs22.x`). */
export const bundleTarget = 'node22';

/**
 * ESM output has no `require`; a CommonJS dependency that calls it (esbuild's `__require` shim
 * falls back to the global) would throw "Dynamic require of … is not supported". The banner gives
 * the module a real one. The alias keeps the name from clashing with anything in the bundle.
 */
export const esmRequireBanner =
  "import{createRequire as __tlcCreateRequire}from'node:module';const require=__tlcCreateRequire(import.meta.url);";

export interface BundleSettings {
  /**
   * Emit `index.mjs.map` beside the bundle and link it (the function then needs
   * NODE_OPTIONS=--enable-source-maps to use it). Off by default: smaller bundles, faster cold
   * starts, and no source shipped.
   */
  sourceMaps: boolean;
}

export const defaultBundleSettings: BundleSettings = { sourceMaps: false };

/**
 * Modules replaced inside the bundles by the one piece of them a function uses (see each file):
 * Lambda's credentials come from the environment, so the SDK's full default chain is not bundled;
 * the X-Ray SDK needs one `semver` function, for a patcher the service never calls.
 */
export const bundleAliases = {
  '@aws-sdk/credential-provider-node': './infra/lambda-credentials.ts',
  semver: './infra/xray-semver.ts',
} as const;

/** The settings both renderings share. `external` is empty: the AWS SDK is bundled, not taken from the runtime. */
const shared = {
  target: bundleTarget,
  platform: 'node',
  format: 'esm',
  minify: true,
  treeShaking: true,
  // `module` first: the AWS SDK and most libraries ship ES builds there, which tree-shake.
  mainFields: ['module', 'main'],
  banner: esmRequireBanner,
  external: [] as string[],
} as const;

/** NodejsFunction `bundling` props: local esbuild (a dev dependency), never Docker. */
export const cdkBundlingOptions = (settings: BundleSettings = defaultBundleSettings): BundlingOptions => ({
  target: shared.target,
  format: OutputFormat.ESM,
  minify: shared.minify,
  mainFields: [...shared.mainFields],
  banner: shared.banner,
  externalModules: [...shared.external],
  bundleAwsSDK: true,
  sourceMap: settings.sourceMaps,
  ...(settings.sourceMaps ? { sourceMapMode: SourceMapMode.DEFAULT, sourcesContent: false } : {}),
  esbuildArgs: {
    '--tree-shaking': String(shared.treeShaking),
    ...Object.fromEntries(Object.entries(bundleAliases).map(([from, to]) => [`--alias:${from}`, to])),
  },
  forceDockerBundling: false,
});

/** The same bundle as the CDK one, as esbuild build options for `entry` into `outfile`. */
export const esbuildOptions = (entry: string, outfile: string, settings: BundleSettings = defaultBundleSettings): BuildOptions => ({
  entryPoints: [entry],
  outfile,
  bundle: true,
  target: shared.target,
  platform: shared.platform,
  format: shared.format,
  minify: shared.minify,
  treeShaking: shared.treeShaking,
  mainFields: [...shared.mainFields],
  banner: { js: shared.banner },
  external: [...shared.external],
  alias: { ...bundleAliases },
  sourcemap: settings.sourceMaps ? 'linked' : false,
  ...(settings.sourceMaps ? { sourcesContent: false } : {}),
  absWorkingDir: repositoryRoot,
  logLevel: 'silent',
});

export interface BundleResult {
  name: FunctionName;
  /** Entry file, relative to the repository root. */
  entry: string;
  /** Size of `index.mjs` in bytes. */
  bytes: number;
  /** esbuild's metafile: which inputs contributed how many bytes (`largestInputs` summarises it). */
  metafile: Metafile;
  /** Where the bundle was written; only present when `keep` was set (otherwise it is removed). */
  outdir?: string;
}

export interface BundleFunctionOptions extends Partial<BundleSettings> {
  /** Keep the temp directory (and return it as `outdir`) instead of removing it. */
  keep?: boolean;
}

/** Bundles one function exactly as the stack does, into a temp directory, and measures it. */
export const bundleFunction = async (name: FunctionName, options: BundleFunctionOptions = {}): Promise<BundleResult> => {
  const spec = functionSpecs[name];
  const { build } = await import('esbuild');
  const outdir = await mkdtemp(join(tmpdir(), `tlc-bundle-${name}-`));
  try {
    const outfile = join(outdir, 'index.mjs');
    const settings: BundleSettings = { sourceMaps: options.sourceMaps ?? defaultBundleSettings.sourceMaps };
    const result = await build({ ...esbuildOptions(join(repositoryRoot, spec.entry), outfile, settings), metafile: true, write: true });
    const { size } = await stat(outfile);
    return { name, entry: spec.entry, bytes: size, metafile: result.metafile, ...(options.keep ? { outdir } : {}) };
  } finally {
    if (!options.keep) await rm(outdir, { recursive: true, force: true });
  }
};

export interface InputShare {
  /** A package (`@aws-sdk/client-kms`, `zod`) or a project folder (`shared/truelayer`). */
  group: string;
  bytes: number;
}

/** Groups a bundle's output bytes by package (or project folder), largest first: where the size comes from. */
export const largestInputs = (metafile: Metafile, limit = 15): InputShare[] => {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const group = match?.[1] ?? input.split('/').slice(0, 2).join('/');
      totals.set(group, (totals.get(group) ?? 0) + bytesInOutput);
    }
  }
  return [...totals]
    .map(([group, bytes]) => ({ group, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, limit);
};
