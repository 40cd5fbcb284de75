/**
 * moto's server (`python3 -m moto.server`) as a real KMS / Secrets Manager endpoint for tests, where
 * the machine has it. Tests that need it use `describe.skipIf(!moto.available)` so `npm test` passes
 * on a machine without python3 or moto.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

const python = process.env.MOTO_PYTHON ?? 'python3';

export type MotoAvailability = { available: true; reason?: undefined } | { available: false; reason: string };

let availability: MotoAvailability | undefined;

/** Whether `python3 -m moto.server` can run here; checked once per test process, synchronously for `skipIf`. */
export const motoAvailability = (): MotoAvailability => {
  if (availability) return availability;
  if (process.env.MOTO_DISABLE === '1') {
    availability = { available: false, reason: 'MOTO_DISABLE=1 is set' };
    return availability;
  }
  const probe = spawnSync(python, ['-c', 'import moto, moto.server; print(moto.__version__)'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (probe.error) {
    availability = {
      available: false,
      reason: `${python} is not runnable (${(probe.error as NodeJS.ErrnoException).code ?? probe.error.message})`,
    };
  } else if (probe.status !== 0) {
    availability = { available: false, reason: `${python} cannot import moto's server (pip install 'moto[server]')` };
  } else {
    availability = { available: true };
  }
  return availability;
};

/** Call at the top of a test file: prints why the moto tests there are skipped, once. */
export const noteIfMotoMissing = (what: string): boolean => {
  const state = motoAvailability();
  if (!state.available) console.warn(`[moto] skipping ${what}: ${state.reason}`);
  return state.available;
};

export interface MotoServer {
  endpoint: string;
  port: number;
  /** SDK client settings that point a v3 client at this server. */
  clientConfig: {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  stop(): Promise<void>;
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const exited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

const waitForExit = (child: ChildProcess, ms: number): Promise<boolean> =>
  exited(child)
    ? Promise.resolve(true)
    : new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), ms);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });

const stopChild = async (child: ChildProcess): Promise<void> => {
  if (exited(child)) return;
  child.kill('SIGTERM');
  if (!(await waitForExit(child, 5_000))) {
    child.kill('SIGKILL');
    await waitForExit(child, 5_000);
  }
};

const launch = async (port: number, timeoutMs: number): Promise<ChildProcess> => {
  const child = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // moto logs every request to stderr: keep reading it (a full pipe would stall the server) but keep only the tail.
  let stderrTail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-4_000);
  });
  const killOnExit = (): void => {
    if (!exited(child)) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited(child)) throw new Error(`moto server exited early (code ${child.exitCode}): ${stderrTail.trim()}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.ok) return child;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  await stopChild(child);
  throw new Error(`moto server did not answer on port ${port} within ${timeoutMs} ms: ${stderrTail.trim()}`);
};

/** Starts moto on a free loopback port and resolves once it answers HTTP. */
export const startMoto = async (options: { timeoutMs?: number; region?: string } = {}): Promise<MotoServer> => {
  const timeoutMs = options.timeoutMs ?? 30_000;
  let lastError: unknown;
  // The free port is only free until someone else takes it: retry a couple of times on a lost race.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    try {
      const child = await launch(port, timeoutMs);
      const endpoint = `http://127.0.0.1:${port}`;
      return {
        endpoint,
        port,
        clientConfig: {
          endpoint,
          region: options.region ?? 'eu-west-2',
          credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
        },
        stop: () => stopChild(child),
      };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
};
