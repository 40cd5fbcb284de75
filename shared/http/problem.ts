/** RFC 9457 problem+json: every error the service answers, mapped in one place. 5xx internals never leak. */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ConfigError, CredentialsError, type ProblemCode, problemCatalogue, problemTypeBase, ServiceError } from '../errors';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [extra: string]: unknown;
}

/** The problem body for a catalogue code: status and title come from the catalogue, nowhere else. */
const catalogued = (code: ProblemCode, detail: string, title?: string, extra: Record<string, unknown> = {}): ProblemBody => {
  const definition = problemCatalogue[code];
  return { type: `${problemTypeBase}${code}`, title: title ?? definition.title, status: definition.status, detail, code, ...extra };
};

export const problemBody = (error: unknown): ProblemBody => {
  if (error instanceof ServiceError) {
    const extra = Object.fromEntries(Object.entries(error.extra).filter(([, value]) => value !== undefined));
    return catalogued(error.code, error.detail, error.title, extra);
  }
  // An operator's mistake, not the caller's: say so without the details, which go to the log.
  if (error instanceof CredentialsError || error instanceof ConfigError) {
    return catalogued(
      'service_not_configured',
      'The service is not fully configured yet (TrueLayer credentials or settings); the operator has been told in the logs.',
    );
  }
  // http-errors (middy's) carry a status and an `expose` flag: show only exposed 4xx messages.
  const candidate = error as { statusCode?: unknown; expose?: unknown; message?: unknown };
  const status = typeof candidate?.statusCode === 'number' ? candidate.statusCode : undefined;
  if (status && status >= 400 && status < 500) {
    const detail =
      candidate.expose === true && typeof candidate.message === 'string' ? candidate.message : 'The request could not be processed.';
    return catalogued(status === 415 ? 'unsupported_media_type' : status === 413 ? 'payload_too_large' : 'bad_request', detail);
  }
  return catalogued('internal_error', 'Something went wrong on our side; it has been logged. Try again later.');
};

export const problemResponse = (error: unknown): APIGatewayProxyStructuredResultV2 => {
  const body = problemBody(error);
  return {
    statusCode: body.status,
    headers: {
      'content-type': 'application/problem+json',
      'cache-control': 'no-store',
      ...(error instanceof ServiceError ? error.headers : {}),
    },
    body: JSON.stringify(body),
  };
};

export const jsonResponse = (
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  body: JSON.stringify(body),
});
