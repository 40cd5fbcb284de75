/** What the connection use cases need, built once per container by the composition root. */
import type { Clock } from '../clock';
import type { Config } from '../config';
import type { TokenCipher } from '../crypto/token-cipher';
import type { Outbox } from '../lifecycle/outbox';
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
  /** Seals what is not a token pair but is as secret (the PKCE verifier) or must not be forged (list cursors). */
  cipher: Pick<TokenCipher, 'encrypt' | 'decrypt'>;
  auth: Pick<TrueLayerAuthClient, 'authLink' | 'exchangeCode' | 'revoke'>;
  data: Pick<TrueLayerDataClient, 'get' | 'me' | 'extend'>;
  log: Logish;
  /** Business counters (shared/metrics.ts names them); the composition root decides where they go. */
  metrics: MetricsPort;
  newId: () => string;
  newState: () => string;
  /** Publishes what a state change put in the outbox (best effort in the request path). */
  outbox: Outbox;
  /** The key account numbers are hashed with to find duplicates; undefined when none is configured. */
  accountHashKey?: () => Promise<string | undefined>;
  /** 32 random bytes, base64url: PKCE verifiers and completion codes (a test may fix them). */
  newSecret: () => string;
}

/**
 * The time one request has, in real epoch ms. `answerBy`: when the client must have its answer (API
 * Gateway gives up at 29 s); a waiter stops waiting then. `workUntil`: when the invocation itself
 * ends (the function's timeout, later); a token call may run until then, so that a pair TrueLayer
 * rotated is stored even when the client was already told to retry.
 */
export interface RequestBudget {
  answerBy?: number | undefined;
  workUntil?: number | undefined;
}

/** The caller, as the JWT authorizer established it. */
export interface Caller {
  owner: string;
}
