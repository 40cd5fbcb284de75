/**
 * The error catalogue: every problem `code` the service answers, defined once with its HTTP status
 * and title. Errors are built only from here (`new ServiceError({ code, detail })` or a subclass),
 * so the one problem+json mapper (shared/http/problem.ts) needs no special cases and a status can
 * never drift between two places that raise the same code.
 */
interface ProblemDefinition {
  status: number;
  title: string;
}

export const problemCatalogue = {
  // 400: the request itself is wrong; the detail says what to change.
  validation_error: { status: 400, title: 'Invalid request' },
  bad_request: { status: 400, title: 'Bad request' },
  invalid_state: { status: 400, title: 'Invalid or used state' },
  invalid_date_range: { status: 400, title: 'Invalid date range' },
  invalid_cursor: { status: 400, title: 'Invalid cursor' },
  invalid_completion_code: { status: 400, title: 'Invalid completion code' },
  return_url_required: { status: 400, title: 'No return URL configured' },
  upstream_bad_request: { status: 400, title: 'TrueLayer refused the request' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  upstream_forbidden: { status: 403, title: 'TrueLayer refused access' },
  // The local stack's /__local controls, asked on a host other than 127.0.0.1/localhost.
  local_only: { status: 403, title: 'Local controls answer on 127.0.0.1 and localhost only' },
  not_found: { status: 404, title: 'Not found' },
  account_not_found: { status: 404, title: 'Account not found at TrueLayer' },
  upstream_not_found: { status: 404, title: 'Not found at TrueLayer' },
  // 409: the connection is not in a state that allows this; the detail says what would.
  connection_inactive: { status: 409, title: 'Connection inactive' },
  connection_not_ready: { status: 409, title: 'Connection not authorized yet' },
  connection_not_confirmed: { status: 409, title: 'Connection not confirmed by its owner' },
  cannot_extend: { status: 409, title: 'Connection cannot be extended' },
  conflict: { status: 409, title: 'Connection changed' },
  // A refresh another request is making is not our failure: a client retries after Retry-After.
  refresh_in_progress: { status: 409, title: 'Token refresh in progress' },
  too_many_pending_connections: { status: 409, title: 'Too many pending connections' },
  payload_too_large: { status: 413, title: 'Body too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  upstream_rate_limited: { status: 429, title: 'Rate limited by the bank or TrueLayer' },
  unattended_limit_reached: { status: 429, title: 'Unattended call budget used up' },
  // 5xx: our fault (500) or an upstream's (502–504).
  internal_error: { status: 500, title: 'Internal error' },
  tokens_unreadable: { status: 500, title: 'Stored tokens unreadable' },
  upstream_not_supported: { status: 501, title: 'Not supported by the provider' },
  upstream_unauthorized: { status: 502, title: 'TrueLayer refused the token' },
  upstream_error: { status: 502, title: 'TrueLayer failed' },
  service_unavailable: { status: 503, title: 'Service temporarily unavailable' },
  service_not_configured: { status: 503, title: 'Service not configured' },
  upstream_unavailable: { status: 503, title: 'TrueLayer or the bank is unavailable' },
  upstream_timeout: { status: 504, title: 'TrueLayer timed out' },
} as const satisfies Record<string, ProblemDefinition>;

export type ProblemCode = keyof typeof problemCatalogue;

/** Where a problem `type` points: the README's error table has one row per code. */
export const problemTypeBase = 'https://github.com/truelayer-connections/truelayer-connections#problem-';

export interface ServiceErrorOptions {
  code: ProblemCode;
  detail: string;
  /** A title more specific than the catalogue's, for the same status and code. */
  title?: string;
  cause?: unknown;
  /** Extra members for the problem body (e.g. `upstream_code`). Never tokens or secrets. */
  extra?: Record<string, unknown>;
  /** Response headers (e.g. Retry-After). */
  headers?: Record<string, string>;
}

export class ServiceError extends Error {
  override name = 'ServiceError';
  readonly status: number;
  readonly code: ProblemCode;
  readonly title: string;
  readonly detail: string;
  readonly extra: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(options: ServiceErrorOptions) {
    super(options.detail, options.cause === undefined ? undefined : { cause: options.cause });
    const definition = problemCatalogue[options.code];
    this.status = definition.status;
    this.code = options.code;
    this.title = options.title ?? definition.title;
    this.detail = options.detail;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }
}

export class ValidationError extends ServiceError {
  override name = 'ValidationError';
  constructor(detail: string, extra?: Record<string, unknown>) {
    super({ code: 'validation_error', detail, extra });
  }
}

export class NotFoundError extends ServiceError {
  override name = 'NotFoundError';
  constructor(detail = 'No connection with this id exists for this user.') {
    super({ code: 'not_found', detail });
  }
}

export class InvalidStateError extends ServiceError {
  override name = 'InvalidStateError';
  constructor(detail: string) {
    super({ code: 'invalid_state', detail });
  }
}

export class ConnectionInactiveError extends ServiceError {
  override name = 'ConnectionInactiveError';
  constructor(reason: string | undefined, extra?: Record<string, unknown>) {
    super({
      code: 'connection_inactive',
      detail: `This connection is inactive${reason ? ` (${reason})` : ''}: create a new connection, or extend it if its consent expired.`,
      extra: { status_reason: reason, ...extra },
    });
  }
}

export class ConnectionNotReadyError extends ServiceError {
  override name = 'ConnectionNotReadyError';
  constructor(status: string) {
    super({ code: 'connection_not_ready', detail: `This connection is ${status}: the user must finish the bank authorization first.` });
  }
}

/** An `authorized` connection its owner has not completed: nothing may be read through it yet. */
export class ConnectionNotConfirmedError extends ServiceError {
  override name = 'ConnectionNotConfirmedError';
  constructor() {
    super({
      code: 'connection_not_confirmed',
      detail:
        'Its owner has not completed this connection yet: POST /connections/{id}/complete with the completion_code the return_url received.',
    });
  }
}

export class UpstreamError extends ServiceError {
  override name = 'UpstreamError';
}

export class DependencyUnavailableError extends ServiceError {
  override name = 'DependencyUnavailableError';
  constructor(detail: string, cause?: unknown) {
    super({ code: 'service_unavailable', detail, cause, headers: { 'retry-after': '1' } });
  }
}

/**
 * The service is not configured: the environment is missing or wrong (thrown by shared/config.ts,
 * whose message is one line naming what to set). Answered as 503 service_not_configured.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * The TrueLayer client credentials secret is missing or wrong: names the secret and what is wrong
 * with it, never its value. Answered as 503 service_not_configured.
 */
export class CredentialsError extends Error {
  override name = 'CredentialsError';
  readonly secretId: string | undefined;

  constructor(message: string, options: { secretId?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.secretId = options.secretId;
  }
}
