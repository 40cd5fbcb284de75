/** `npm start` as a user runs it: comes up, answers, stops on SIGTERM; a taken port is one clear line. */

import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import type { Server } from 'node:net';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from './helpers';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const readyLine = /local stack ready at (http:\/\/\S+) \(pid (\d+)\)/;

interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];

const start = (env: Record<string, string>): Started => {
  const child = spawn('npx', ['tsx', 'local/start.ts'], {
    cwd: repositoryRoot,
    // Its own process group, so cleanup can reach tsx and node behind npx (npm does not forward signals).
    detached: true,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', DYNAMODB_PATH: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exit };
};

/** Resolves once the ready line is printed, with the API URL and the stack's own pid; rejects if the process ends first. */
const ready = (started: Started): Promise<{ apiUrl: string; pid: number }> =>
  new Promise((resolve, reject) => {
    const check = () => {
      const match = readyLine.exec(started.stdout());
      if (match?.[1] && match[2]) {
        started.child.stdout?.off('data', check);
        resolve({ apiUrl: match[1], pid: Number(match[2]) });
      }
    };
    started.child.stdout?.on('data', check);
    void started.exit.then(({ code }) =>
      reject(new Error(`npm start exited (${code}) before ready:\n${started.stdout()}\n${started.stderr()}`)),
    );
  });

const occupy = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });

afterEach(() => {
  for (const child of children.splice(0)) {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // The group is already gone.
    }
  }
});

describe('npm start', () => {
  it('comes up on the given ports, answers, and exits 0 on SIGTERM', async () => {
    const [port, simPort, dynamoPort] = [await freePort(), await freePort(), await freePort()];
    const started = start({ PORT: String(port), TRUELAYER_SIM_PORT: String(simPort), DYNAMODB_PORT: String(dynamoPort) });
    const { apiUrl, pid } = await ready(started);
    expect(apiUrl).toBe(`http://127.0.0.1:${port}`);

    const token = await fetch(`${apiUrl}/__local/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'alice' }),
    });
    expect(token.status).toBe(200);
    expect((await token.json()) as object).toHaveProperty('access_token');
    expect((await fetch(`http://127.0.0.1:${simPort}/__sim/stats`)).status).toBe(200);
    expect(started.stdout()).toContain(`--endpoint-url http://127.0.0.1:${dynamoPort}`);

    // What Ctrl-C or a service manager does to the stack's process; npx, tsx and the shell pass on its exit code.
    process.kill(pid, 'SIGTERM');
    expect((await started.exit).code).toBe(0);
    expect(started.stdout()).toContain('local stack stopped');
    await expect(fetch(`${apiUrl}/__local/clock`)).rejects.toThrow();
  });

  it.each([
    ['PORT', 'the API'],
    ['TRUELAYER_SIM_PORT', 'the simulator'],
    ['DYNAMODB_PORT', 'DynamoDB'],
  ])('prints one line and exits 1 when %s (%s) is taken', async (variable) => {
    const ports: Record<string, string> = {
      PORT: String(await freePort()),
      TRUELAYER_SIM_PORT: String(await freePort()),
      DYNAMODB_PORT: String(await freePort()),
    };
    const taken = await occupy(Number(ports[variable]));
    try {
      const started = start(ports);
      const { code } = await started.exit;
      expect(code).toBe(1);
      expect(started.stderr().trim()).toBe(`port ${ports[variable]} is already in use (set ${variable} to use another)`);
      expect(started.stdout()).not.toMatch(readyLine);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
