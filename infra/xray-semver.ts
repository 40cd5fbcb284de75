/**
 * Stands in for `semver` inside the Lambda bundles (an esbuild alias, see infra/bundle.ts). The X-Ray
 * SDK that Powertools Tracer brings requires it in one place only, its patcher for the AWS SDK v2,
 * to check `gte(AWS.VERSION, '2.7.15')`; the service uses SDK v3 clients, which Tracer captures
 * without that patcher. The whole of semver is ~28 KiB of every bundle; this is the one function used.
 */
const parts = (version: string): number[] =>
  version
    .replace(/^[v=\s]+/, '')
    .split(/[.+-]/, 3)
    .map((part) => Number.parseInt(part, 10) || 0);

/** `a >= b` for plain `major.minor.patch` versions (pre-release tags are ignored). */
export const gte = (a: string, b: string): boolean => {
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i += 1) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return true;
};

export default { gte };
