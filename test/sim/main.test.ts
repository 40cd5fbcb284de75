/** `npm run sim` (local/sim-main.ts): starts where it says, stops on Ctrl-C, one clear line when the port is taken. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatorPortInUseError, startSimulator } from '../../local/sim/index';
import type { RunningSimulator } from '../../local/sim/types';
import { startHarness } from './helpers';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

let sim: RunningSimulator;

beforeAll(async () => {
  ({ sim } = await startHarness());
});

afterAll(async () => {
  await sim.close();
});

const runMain = (env: Record<string, string>) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/sim-main.ts'], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { child, output: () => ({ stdout, stderr }) };
};

describe('startSimulator', () => {
  it('rejects with SimulatorPortInUseError (code EADDRINUSE) when the port is taken', async () => {
    const attempt = startSimulator({ port: sim.port });
    await expect(attempt).rejects.toBeInstanceOf(SimulatorPortInUseError);
    await expect(attempt).rejects.toMatchObject({ code: 'EADDRINUSE', port: sim.port });
  });
});

describe('local/sim-main.ts', () => {
  it('prints one clear line and exits 1 when TRUELAYER_SIM_PORT is taken', async () => {
    const { child, output } = runMain({ TRUELAYER_SIM_PORT: String(sim.port) });
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(1);
    const lines = output().stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`port ${sim.port}`);
    expect(lines[0]).toContain('TRUELAYER_SIM_PORT');
  });

  it('prints where it listens, serves there, and stops on SIGINT', async () => {
    const { child, output } = runMain({ TRUELAYER_SIM_PORT: '0' });
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', () => {
        const match = /TrueLayer simulator on (http:\/\/127\.0\.0\.1:\d+)/.exec(output().stdout);
        if (match?.[1] !== undefined) resolve(match[1]);
      });
      child.once('exit', () => reject(new Error(`exited early: ${output().stderr}`)));
    });
    expect((await fetch(`${url}/__sim/stats`)).status).toBe(200);
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
  });

  it('refuses a TRUELAYER_SIM_PORT that is not a port, in one line', async () => {
    const { child, output } = runMain({ TRUELAYER_SIM_PORT: 'abc' });
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(1);
    expect(output().stderr.trim().split('\n')).toEqual([expect.stringContaining('TRUELAYER_SIM_PORT must be a port number')]);
  });
});
