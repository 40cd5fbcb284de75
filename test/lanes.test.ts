/** The unit lane stays pure: every file listed in it exists and none starts a server, a child process or a synth. */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { unitTestFiles } from '../vitest.config';

/** What a unit test must not use: each starts a server, a child process or a CDK synth. */
const serverMarkers: readonly RegExp[] = [
  /\bTestApi\b/,
  /\bstartLocalStack\b/,
  /\bstartSimulator\b/,
  /\bstartDynamo\b/,
  /\bstartFixtureGateway\b/,
  /\bcreateApiGateway\b/,
  /\bcreateServer\b/,
  /\.listen\(/,
  /fixture-server/,
  /\bmoto\b/,
  /\bTemplate\.fromStack\b/,
  /\bsynth\b/,
  /node:child_process/,
];

const root = new URL('../', import.meta.url);

describe('test lanes', () => {
  it.each(unitTestFiles.filter((file) => file !== 'test/lanes.test.ts'))('%s is pure', (file) => {
    const path = new URL(file, root);
    expect(existsSync(path), `${file} is listed in test/lanes.ts but does not exist`).toBe(true);
    const source = readFileSync(path, 'utf8');
    expect(serverMarkers.filter((marker) => marker.test(source)).map(String)).toEqual([]);
  });

  it('lists each file once', () => {
    expect(new Set(unitTestFiles).size).toBe(unitTestFiles.length);
  });
});
