import { defineConfig } from 'vitest/config';

const e2e = 'test/e2e/**';

/**
 * The two test lanes. `unit`: pure code, no servers, no child processes, no CDK synth; it runs in
 * seconds (`npm run test:unit`). `integration`: everything else (the local stack, the simulator,
 * embedded DynamoDB, moto, bundles, synth). A new test file lands in `integration` unless it is
 * listed here, so nothing is ever left out of `npm test`; add a pure one here to run it with the
 * unit lane (test/lanes.test.ts refuses a listed file that starts a server). Paths from the
 * repository root, one file each (no globs, so that test can read every one).
 */
export const unitTestFiles: readonly string[] = [
  'test/lanes.test.ts',
  'test/core/auth-state.test.ts',
  'test/core/composition.test.ts',
  'test/core/config.test.ts',
  'test/core/lifecycle.test.ts',
  'test/core/return-url.test.ts',
  'test/core/schedule.test.ts',
  'test/core/state-machine.test.ts',
  'test/crypto/kms-data-key-provider.test.ts',
  'test/crypto/token-cipher.test.ts',
  'test/events/event-shape.test.ts',
  'test/infra/deploy-options.test.ts',
  'test/logger/logger.test.ts',
  'test/logger/redact.test.ts',
  'test/openapi/document.test.ts',
  'test/secrets/client-credentials.test.ts',
  'test/truelayer/data-paths.test.ts',
  'test/truelayer/scopes.test.ts',
];

export default defineConfig({
  test: {
    exclude: [e2e, 'node_modules/**'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      // Pure code: no servers, seconds (`npm run test:unit`).
      { extends: true, test: { name: 'unit', include: [...unitTestFiles] } },
      // The local stack, the simulator, embedded DynamoDB, moto, bundles and synth: every other test file.
      { extends: true, test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: [e2e, 'node_modules/**', ...unitTestFiles] } },
    ],
  },
});
