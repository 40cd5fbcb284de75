/**
 * The service's errors. Each carries the HTTP status and stable `code` it maps to, so the one
 * problem+json mapper (shared/http/problem.ts) needs no special cases.
 */
export interface ServiceErrorOptions {
  status: number;
  code: string;
  title: string;
  detail: string;
  cause?: unknown;
  /** Extra members for the problem body (e.g. `upstream_code`). Never tokens or secrets. */
  extra?: Record<string, unknown>;
  /** Response headers (e.g. Retry-After). */
  headers?: Record<string, string>;
}

export class ServiceError extends Error {
  override name = 'ServiceError';
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly extra: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(options: ServiceErrorOptions) {
    super(options.detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status;
    this.code = options.code;
    this.title = options.title;
    this.detail = options.detail;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }
}

export class ValidationError extends ServiceError {
  override name = 'ValidationError';
  constructor(detail: string, extra?: Record<string, unknown>) {
    super({ status: 400, code: 'validation_error', title: 'Invalid request', detail, extra });
  }
}

export class NotFoundError extends ServiceError {
  override name = 'NotFoundError';
  constructor(detail = 'No connection with this id exists for this user.') {
    super({ status: 404, code: 'not_found', title: 'Not found', detail });
  }
}

export class InvalidStateError extends ServiceError {
  override name = 'InvalidStateError';
  constructor(detail: string) {
    super({ status: 400, code: 'invalid_state', title: 'Invalid or used state', detail });
  }
}

export class ConnectionInactiveError extends ServiceError {
  override name = 'ConnectionInactiveError';
  constructor(reason: string | undefined, extra?: Record<string, unknown>) {
    super({
      status: 409,
      code: 'connection_inactive',
      title: 'Connection inactive',
      detail: `This connection is inactive${reason ? ` (${reason})` : ''}: create a new connection, or extend it if its consent expired.`,
      extra: { status_reason: reason, ...extra },
    });
  }
}

export class ConnectionNotReadyError extends ServiceError {
  override name = 'ConnectionNotReadyError';
  constructor(status: string) {
    super({
      status: 409,
      code: 'connection_not_ready',
      title: 'Connection not authorized yet',
      detail: `This connection is ${status}: the user must finish the bank authorization first.`,
    });
  }
}

export class UpstreamError extends ServiceError {
  override name = 'UpstreamError';
}

export class DependencyUnavailableError extends ServiceError {
  override name = 'DependencyUnavailableError';
  constructor(detail: string, cause?: unknown) {
    super({ status: 503, code: 'service_unavailable', title: 'Service temporarily unavailable', detail, cause, headers: { 'retry-after': '1' } });
  }
}
