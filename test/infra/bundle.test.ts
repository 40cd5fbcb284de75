/** The Lambda bundles, built exactly as the stack builds them: they load as ES modules and stay small. */

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Capability, FunctionName } from '../../functions/routes';
import { functionSpecs } from '../../functions/routes';
import type { BundleResult } from '../../infra/bundle';
import { bundleFunction, cdkBundlingOptions, esbuildOptions, esmRequireBanner, largestInputs } from '../../infra/bundle';

const functionNames = Object.keys(functionSpecs) as FunctionName[];
/** The size target: met by the functions that keep no connection (openapi, providers). */
const targetBytes = 300 * 1024;
// The functions that keep connections miss it: the DynamoDB client alone, with the @smithy/@aws-sdk core
// every AWS SDK v3 client shares, is ~200 KiB; KMS and EventBridge add ~45 KiB, zod/mini ~35 KiB, X-Ray
// tracing (Powertools Tracer bundles aws-xray-sdk-core and its CommonJS dependencies) ~95 KiB once semver
// is aliased away, and Standard Webhooks signing the rest: ~475-540 KiB. Their guard catches regressions
// from there; `npm run bench` reports every size and cold load against the targets.
const budgetBytes = (name: FunctionName): number =>
  functionSpecs[name].uses.some((use) => use.startsWith('table:')) ? 550 * 1024 : targetBytes;
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

const results = new Map<FunctionName, BundleResult>();

beforeAll(async () => {
  for (const name of functionNames) results.set(name, await bundleFunction(name, { keep: true }));
  console.info(
    [
      'bundle sizes:',
      ...functionNames.map((name) => {
        const result = results.get(name)!;
        const top = largestInputs(result.metafile, 4)
          .map((share) => `${share.group} ${kib(share.bytes)}`)
          .join(', ');
        return `  ${name.padEnd(12)} ${kib(result.bytes).padStart(10)}  (largest: ${top})`;
      }),
    ].join('\n'),
  );
});

afterAll(async () => {
  for (const result of results.values()) if (result.outdir) await rm(result.outdir, { recursive: true, force: true });
});

describe('bundle settings', () => {
  it('are the same for CDK and for bundleFunction: node22 ESM, minified, tree-shaken, SDK bundled, no Docker', () => {
    const cdk = cdkBundlingOptions();
    const direct = esbuildOptions('functions/data.ts', '/tmp/out.mjs');
    expect(cdk).toMatchObject({
      target: 'node22',
      minify: true,
      externalModules: [],
      bundleAwsSDK: true,
      forceDockerBundling: false,
      sourceMap: false,
    });
    expect(cdk.format).toBe('esm');
    expect(cdk.banner).toBe(esmRequireBanner);
    expect(cdk.esbuildArgs).toEqual({
      '--tree-shaking': 'true',
      '--alias:@aws-sdk/credential-provider-node': './infra/lambda-credentials.ts',
      '--alias:semver': './infra/xray-semver.ts',
    });
    expect(direct.alias).toEqual({
      '@aws-sdk/credential-provider-node': './infra/lambda-credentials.ts',
      semver: './infra/xray-semver.ts',
    });
    expect(direct).toMatchObject({
      bundle: true,
      target: cdk.target,
      format: 'esm',
      platform: 'node',
      minify: true,
      treeShaking: true,
      external: [],
      sourcemap: false,
    });
    expect(direct.mainFields).toEqual(cdk.mainFields);
    expect(direct.banner).toEqual({ js: cdk.banner });
  });

  it('emit linked source maps only when asked, for CDK and for bundleFunction alike', () => {
    expect(cdkBundlingOptions({ sourceMaps: true })).toMatchObject({ sourceMap: true, sourceMapMode: 'default' });
    expect(esbuildOptions('functions/data.ts', '/tmp/out.mjs', { sourceMaps: true }).sourcemap).toBe('linked');
  });
});

describe.each(functionNames)('the %s bundle', (name) => {
  it('loads as an ES module on Node and exports the handler', async () => {
    const result = results.get(name)!;
    // Loading runs module initialisation (the composition root is lazy, so no AWS call is made) and
    // proves the createRequire banner lets the CommonJS dependencies load.
    const module = (await import(pathToFileURL(join(result.outdir!, 'index.mjs')).href)) as { handler?: unknown };
    expect(typeof module.handler).toBe('function');
  });

  it('carries no Secrets Manager client: secrets come from the Parameters and Secrets extension', () => {
    const inputs = Object.keys(results.get(name)!.metafile.inputs);
    expect(inputs.some((input) => input.includes('@aws-sdk/client-dynamodb')) || name === 'openapi').toBe(true);
    expect(inputs.filter((input) => /client-secrets-manager|powertools\/parameters/.test(input))).toEqual([]);
  });

  it(`is at most ${kib(budgetBytes(name))}`, () => {
    const result = results.get(name)!;
    const top = largestInputs(result.metafile, 5)
      .map((share) => `${share.group}=${kib(share.bytes)}`)
      .join(', ');
    expect(result.bytes, `${name} is ${kib(result.bytes)}; largest inputs: ${top}`).toBeLessThanOrEqual(budgetBytes(name));
  });
});

/** The AWS SDK clients a capability calls: a bundle carries these and no other. */
const clientsOf = (uses: readonly Capability[]): string[] => {
  const clients = new Set<string>();
  for (const capability of uses) {
    if (capability.startsWith('table:') || capability === 'dueIndex:read') clients.add('@aws-sdk/client-dynamodb');
    if (capability.startsWith('tokenKey:')) clients.add('@aws-sdk/client-kms');
    if (capability === 'events:publish') clients.add('@aws-sdk/client-eventbridge');
  }
  return [...clients].sort();
};

describe('per-function composition', () => {
  it.each(functionNames)('%s bundles exactly the AWS SDK clients its capabilities call', (name) => {
    const result = results.get(name)!;
    const bundled = largestInputs(result.metafile, 1_000)
      .map((share) => share.group)
      .filter((group) => /^@aws-sdk\/client-/.test(group))
      .sort();
    expect(bundled).toEqual(clientsOf(functionSpecs[name].uses));
  });

  it.each(functionNames)('%s bundles the X-Ray SDK exactly when it calls something (holds a capability)', (name) => {
    const groups = largestInputs(results.get(name)!.metafile, 1_000).map((share) => share.group);
    expect(groups.includes('aws-xray-sdk-core')).toBe(functionSpecs[name].uses.length > 0);
  });
});

describe('the semver stand-in for the X-Ray SDK', () => {
  it('answers gte as semver does for release versions', async () => {
    const { gte } = await import('../../infra/xray-semver');
    expect(gte('2.7.15', '2.7.15')).toBe(true);
    expect(gte('2.1502.0', '2.7.15')).toBe(true);
    expect(gte('2.7.9', '2.7.15')).toBe(false);
    expect(gte('v3.0.0', '2.7.15')).toBe(true);
    expect(gte('1.99.99', '2.7.15')).toBe(false);
  });
});
