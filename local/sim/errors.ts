/** TrueLayer's error bodies (`{error, error_description?, error_details?}`), with the words TrueLayer uses. */

export interface TrueLayerErrorBody {
  error: string;
  error_description?: string;
  error_details?: Record<string, unknown>;
}

export interface SimError {
  status: number;
  body: TrueLayerErrorBody;
  headers?: Record<string, string>;
}

export const tlError = (status: number, error: string, description?: string, details: Record<string, unknown> = {}): SimError => ({
  status,
  body: { error, ...(description === undefined ? {} : { error_description: description }), error_details: details },
});

/** Data API errors by code, in TrueLayer's wording. */
export const dataErrors = {
  validationError: () => tlError(400, 'validation_error', 'The supplied parameters are not valid.'),
  invalidDateRange: (reason: string) => tlError(400, 'invalid_date_range', 'Invalid date range provided.', { reason }),
  unauthorized: (reason: string) => tlError(401, 'unauthorized', 'Unauthorized.', { reason }),
  invalidToken: (expiredAtMs: number) => {
    const at = new Date(expiredAtMs)
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d{3}Z$/, 'Z');
    // TrueLayer's example carries no error_details for this one.
    return { status: 401, body: { error: 'invalid_token', error_description: `The token expired at '${at}'` } } satisfies SimError;
  },
  accessDenied: (reason: string) => tlError(403, 'access_denied', 'Access to a specific resource has been denied.', { reason }),
  accountNotFound: () => tlError(404, 'account_not_found', 'account not found'),
  unattendedLimit: () =>
    tlError(429, 'provider_request_limit_exceeded', 'Maximum number of requests per user allowed by provider exceeded.'),
  internal: () => tlError(500, 'internal_server_error', 'Internal server error.'),
} as const;

/** What a fault answers when it names a status but no body. */
export const defaultErrorForStatus = (status: number, area: 'data' | 'auth'): TrueLayerErrorBody => {
  if (area === 'auth') {
    if (status === 400) return { error: 'invalid_request', error_description: 'Invalid request', error_details: {} };
    if (status === 401)
      return {
        error: 'unauthorized_client',
        error_description: 'The client credentials you have entered are incorrect. Please check and try again.',
        error_details: {},
      };
    if (status >= 500)
      return {
        error: 'internal_server_error',
        error_description: 'Sorry, we are experiencing technical difficulties. Please try again later.',
        error_details: {},
      };
  }
  const known: Record<number, TrueLayerErrorBody> = {
    400: { error: 'validation_error', error_description: 'The supplied parameters are not valid.', error_details: {} },
    401: { error: 'unauthorized', error_description: 'Unauthorized.', error_details: {} },
    403: { error: 'access_denied', error_description: 'Access to a specific resource has been denied.', error_details: {} },
    404: { error: 'account_not_found', error_description: 'account not found', error_details: {} },
    429: { error: 'provider_too_many_requests', error_description: 'Provider rate limit exceeded.', error_details: {} },
    500: { error: 'internal_server_error', error_description: 'Internal server error.', error_details: {} },
    501: { error: 'endpoint_not_supported', error_description: 'Feature not supported by the provider', error_details: {} },
    502: { error: 'provider_error', error_description: 'The provider service is unavailable.', error_details: {} },
    503: { error: 'provider_error', error_description: 'The provider service is unavailable.', error_details: {} },
    504: { error: 'provider_timeout', error_description: 'The provider service timed out.', error_details: {} },
  };
  const found = known[status];
  if (found !== undefined) return found;
  return status >= 500
    ? { error: 'internal_server_error', error_description: 'Internal server error.', error_details: {} }
    : { error: 'validation_error', error_description: 'The supplied parameters are not valid.', error_details: {} };
};

/** `/connections/extend` answers in RFC 7807 problem+json, unlike TrueLayer's other endpoints. */
export interface ExtendProblem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance: string;
  trace_id: string;
  errors?: Record<string, string[]>;
}

export const problemType = 'https://docs.truelayer.com/#connection-api-errors';

export const extendProblem = (
  status: number,
  title: string,
  traceId: string,
  extra: { detail?: string; errors?: Record<string, string[]> } = {},
): ExtendProblem => ({
  type: problemType,
  title,
  status,
  ...(extra.detail === undefined ? {} : { detail: extra.detail }),
  instance: '/connections/extend',
  trace_id: traceId,
  ...(extra.errors === undefined ? {} : { errors: extra.errors }),
});

export const defaultProblemForStatus = (status: number, traceId: string): ExtendProblem => {
  const titles: Record<number, string> = {
    400: 'One or more validation errors occurred.',
    401: 'Unauthorized',
    422: 'No way to extend this connection',
    429: 'Too Many Requests',
    500: 'Internal Server Error',
    503: 'Service Unavailable',
    504: 'Gateway Timeout',
  };
  return extendProblem(status, titles[status] ?? (status >= 500 ? 'Internal Server Error' : 'Bad Request'), traceId);
};
