/** The TrueLayer simulator's public surface, used by the local stack, the tests and `npm run sim`. */
import type { Clock } from '../../shared/clock';

export interface SimClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
}

export interface SimulatorOptions {
  /** Defaults to the shared local process clock. */
  clock?: Clock;
  /** 127.0.0.1 by default. */
  host?: string;
  /** 3100 by default; 0 picks a free port. */
  port?: number;
  /** Refresh-token rotation (old refresh token revoked on use). Default true. */
  rotateRefreshTokens?: boolean;
  /** Registered clients; default: the one `sandbox-local` client (`defaultSimClient`). */
  clients?: SimClient[];
  /** Redirect URIs added to the default client (e.g. the local API's callback). */
  extraRedirectUris?: string[];
  /**
   * The `error` for an unknown, reused or lapsed authorization code. Default `invalid_grant` (OAuth
   * and TrueLayer's OpenAPI example); TrueLayer's errors table says `invalid_authorization_code`.
   */
  authorizationCodeError?: 'invalid_grant' | 'invalid_authorization_code';
}

export interface RunningSimulator {
  /** e.g. http://127.0.0.1:3100 (no trailing slash); serves both the auth host and the API host. */
  url: string;
  port: number;
  /** Registers more redirect URIs on an existing client (the local API learns its port late). */
  addRedirectUris(clientId: string, uris: string[]): void;
  /** Same as POST /__sim/reset. */
  reset(): void;
  close(): Promise<void>;
}
