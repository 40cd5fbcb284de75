/** `npm run sim`: the TrueLayer simulator on its own (TRUELAYER_SIM_PORT, default 3100). */
import { defaultSimClient, SimulatorPortInUseError, startSimulator } from './sim';

const fail = (message: string): never => {
  process.stderr.write(`${message}\n`);
  process.exit(1);
};

const portFrom = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const port = Number(raw);
  return Number.isInteger(port) && port >= 0 && port <= 65_535 ? port : fail(`${name} must be a port number (0-65535), got "${raw}".`);
};

const port = portFrom('TRUELAYER_SIM_PORT', 3100);
const host = process.env.TRUELAYER_SIM_HOST?.trim() || '127.0.0.1';
const apiPort = portFrom('PORT', 3000);
const extraRedirectUris = [
  // The local API's callback, when it runs on another port than the default client's 3000.
  `http://127.0.0.1:${apiPort}/callback`,
  `http://localhost:${apiPort}/callback`,
  ...(process.env.TRUELAYER_SIM_REDIRECT_URIS ?? '')
    .split(',')
    .map((uri) => uri.trim())
    .filter((uri) => uri.length > 0),
];

const main = async (): Promise<void> => {
  const simulator = await startSimulator({
    port,
    host,
    extraRedirectUris,
    rotateRefreshTokens: process.env.TRUELAYER_SIM_ROTATE_REFRESH_TOKENS !== 'false',
  }).catch((error: unknown) => {
    if (error instanceof SimulatorPortInUseError)
      return fail(`TrueLayer simulator: ${error.message}; stop what uses it or set TRUELAYER_SIM_PORT to a free port.`);
    return fail(`TrueLayer simulator could not start: ${error instanceof Error ? error.message : String(error)}`);
  });
  process.stdout.write(
    `TrueLayer simulator on ${simulator.url}  (auth dialog ${simulator.url}/, token ${simulator.url}/connect/token, Data API ${simulator.url}/data/v1)\n` +
      `client_id ${defaultSimClient.client_id} (its secret is in the README); mock users john/doe, john/eternal, error.*/error. Ctrl-C stops it.\n`,
  );
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    simulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
};

void main();
