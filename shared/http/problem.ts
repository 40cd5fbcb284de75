/** RFC 9457 problem+json: every error the service answers, mapped in one place. 5xx internals never leak. */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ConfigError } from '../config';
import { ServiceError } from '../errors';
import { CredentialsError } from '../truelayer/client-credentials';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [extra: string]: unknown;
}

const typeBase = 'https://github.com/truelayer-connections/docs/problems#';

export const problemBody = (error: unknown): ProblemBody => {
  if (error instanceof ServiceError) {
    const extra = Object.fromEntries(Object.entries(error.extra).filter(([, value]) => value !== undefined));
    return { type: `${typeBase}${error.code}`, title: error.title, status: error.status, detail: error.detail, code: error.code, ...extra };
  }
  // An operator's mistake, not the caller's: say so without the details, which go to the log.
  if (error instanceof CredentialsError || error instanceof ConfigError) {
    return {
      type: `${typeBase}service_not_configured`,
      title: 'Service not configured',
      status: 503,
      detail: 'The service is not fully configured yet (TrueLayer credentials or settings); the operator has been told in the logs.',
      code: 'service_not_configured',
    };
  }
  // Middy and other http-errors carry a status and an `expose` flag: show only exposed 4xx messages.
  const candidate = error as { statusCode?: unknown; status?: unknown; expose?: unknown; message?: unknown };
  const status = typeof candidate?.statusCode === 'number' ? candidate.statusCode : undefined;
  if (status && status >= 400 && status < 500) {
    const detail = candidate.expose === true && typeof candidate.message === 'string' ? candidate.message : 'The request could not be processed.';
    return { type: `${typeBase}bad_request`, title: 'Bad request', status, detail, code: status === 415 ? 'unsupported_media_type' : 'bad_request' };
  }
  return {
    type: `${typeBase}internal_error`,
    title: 'Internal error',
    status: 500,
    detail: 'Something went wrong on our side; it has been logged. Try again later.',
    code: 'internal_error',
  };
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

export const jsonResponse = (statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  body: JSON.stringify(body),
});
