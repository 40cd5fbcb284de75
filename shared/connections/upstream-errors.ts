/** TrueLayer's answers mapped to our problem codes (400→400, 403 access_denied→409, 429→429, 5xx→502/503/504), in one place. */
import { type ProblemCode, UpstreamError } from '../errors';
import { TrueLayerError } from '../truelayer/errors';

const upstream = (code: ProblemCode, title: string | undefined, detail: string, error: TrueLayerError, headers?: Record<string, string>) =>
  new UpstreamError({
    code,
    ...(title ? { title } : {}),
    detail,
    cause: error,
    headers,
    extra: {
      upstream_status: error.status || undefined,
      upstream_code: error.status ? error.code : undefined,
      ...(error.correlationId ? { upstream_correlation_id: error.correlationId } : {}),
    },
  });

/** Maps a TrueLayer failure that is not about the connection's own validity (those are handled by the caller). */
export const mapUpstreamError = (error: unknown): unknown => {
  if (!(error instanceof TrueLayerError)) return error;
  if (error.kind === 'timeout')
    return upstream('upstream_timeout', 'TrueLayer timed out', 'TrueLayer did not answer in time; try again.', error);
  if (error.kind === 'network')
    return upstream('upstream_unavailable', 'TrueLayer unreachable', 'TrueLayer could not be reached; try again.', error, {
      'retry-after': '5',
    });
  const s = error.status;
  const said = error.description ? `TrueLayer said: ${error.description}` : `TrueLayer answered ${s} ${error.code}.`;
  if (s === 400)
    return upstream(
      error.code === 'invalid_date_range' ? 'invalid_date_range' : 'upstream_bad_request',
      'TrueLayer refused the request',
      said,
      error,
    );
  if (s === 401)
    return upstream('upstream_unauthorized', 'TrueLayer refused the token', 'TrueLayer refused a freshly refreshed access token.', error);
  if (s === 403) return upstream('upstream_forbidden', 'TrueLayer refused access', said, error);
  if (s === 404)
    return upstream(error.code === 'account_not_found' ? 'account_not_found' : 'upstream_not_found', 'Not found at TrueLayer', said, error);
  if (s === 429) {
    const retryAfter = error.retryAfterSeconds ?? (error.code === 'provider_request_limit_exceeded' ? 3600 : 30);
    return upstream(
      'upstream_rate_limited',
      'Rate limited by the bank or TrueLayer',
      `${said} Retry after ${retryAfter} seconds${error.code === 'provider_request_limit_exceeded' ? ', or send X-PSU-IP when the user is present' : ''}.`,
      error,
      { 'retry-after': String(retryAfter) },
    );
  }
  if (s === 501) return upstream('upstream_not_supported', 'Not supported by the provider', said, error);
  if (s === 503)
    return upstream('upstream_unavailable', 'TrueLayer or the bank is unavailable', `${said} Try again shortly.`, error, {
      'retry-after': String(error.retryAfterSeconds ?? 5),
    });
  if (s === 504) return upstream('upstream_timeout', 'TrueLayer or the bank timed out', `${said} Try again shortly.`, error);
  if (s >= 500 || error.kind === 'upstream') return upstream('upstream_error', 'TrueLayer failed', said, error);
  return upstream('upstream_error', 'Unexpected answer from TrueLayer', said, error);
};
