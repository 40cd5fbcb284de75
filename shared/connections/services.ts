/** What the connection use cases need, built once per container by the composition root. */
import type { Clock } from '../clock';
import type { Config } from '../config';
import type { TrueLayerAuthClient } from '../truelayer/auth-client';
import type { TrueLayerDataClient } from '../truelayer/data-client';
import type { Outbox } from '../lifecycle/outbox';
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
  newId: () => string;
  newState: () => string;
  /** Publishes what a state change put in the outbox (best effort in the request path). */
  outbox: Outbox;
  /** The key account numbers are hashed with to find duplicates; undefined when none is configured. */
  accountHashKey?: () => Promise<string | undefined>;
}

/** The caller, as the JWT authorizer established it. */
export interface Caller {
  owner: string;
}
