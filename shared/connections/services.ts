/** What the connection use cases need, built once per container by the composition root. */
import type { Clock } from '../clock';
import type { Config } from '../config';
import type { MetricsPort } from '../metrics';
import type { TrueLayerAuthClient } from '../truelayer/auth-client';
import type { TrueLayerDataClient } from '../truelayer/data-client';
import type { ConnectionRepository } from './repository';
import type { TokenVault } from './token-vault';

export interface Logish {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface ConnectionServices {
  config: Pick<Config, 'allowedReturnUrls' | 'providers' | 'truelayerEnv'>;
  clock: Clock;
  repository: ConnectionRepository;
  vault: TokenVault;
  auth: Pick<TrueLayerAuthClient, 'authLink' | 'exchangeCode' | 'revoke'>;
  data: Pick<TrueLayerDataClient, 'get' | 'me' | 'extend'>;
  log: Logish;
  /** Business counters (shared/metrics.ts names them); the composition root decides where they go. */
  metrics: MetricsPort;
  newId: () => string;
  newState: () => string;
}

/** The caller, as the JWT authorizer established it. */
export interface Caller {
  owner: string;
}
