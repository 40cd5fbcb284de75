/** Reading API Gateway HTTP API (payload 2.0) events: the caller, bodies, the callback URL. */
import type { APIGatewayProxyEventV2, APIGatewayProxyEventV2WithJWTAuthorizer, Context } from 'aws-lambda';
import type { Caller, RequestBudget } from '../connections/services';
import { ServiceError, ValidationError } from '../errors';

export type HttpEvent = APIGatewayProxyEventV2WithJWTAuthorizer | APIGatewayProxyEventV2;

const MAX_BODY_BYTES = 64 * 1024;

/** The user the JWT authorizer let through; API Gateway guarantees a verified token on these routes. */
export const callerOf = (event: HttpEvent): Caller => {
  const claims = (event.requestContext as { authorizer?: { jwt?: { claims?: Record<string, unknown> } } }).authorizer?.jwt?.claims;
  const sub = claims?.sub;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 256) {
    throw new ServiceError({ code: 'unauthorized', detail: 'A bearer token with a subject (sub) is required.' });
  }
  return { owner: sub };
};

/**
 * This invocation's budget: the client's answer is due before API Gateway gives up (or the function
 * does, if sooner), the work may go on until the function's own timeout. Each keeps a small margin
 * (a twentieth, at most 1.5 s and 2 s) to answer, log and flush in.
 */
export const requestBudget = (
  context: Pick<Context, 'getRemainingTimeInMillis'>,
  apiGatewayTimeoutMs: number,
  now = Date.now(),
): RequestBudget => {
  const remaining = context.getRemainingTimeInMillis();
  const answerWindow = Math.min(remaining, apiGatewayTimeoutMs);
  return {
    answerBy: now + answerWindow - Math.min(1_500, answerWindow / 20),
    workUntil: now + remaining - Math.min(2_000, remaining / 20),
  };
};

const rawBody = (event: HttpEvent): string | undefined => {
  if (event.body === undefined || event.body === null || event.body === '') return undefined;
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) {
    throw new ServiceError({ code: 'payload_too_large', detail: `The body must be at most ${MAX_BODY_BYTES / 1024} KiB.` });
  }
  return text;
};

const contentType = (event: HttpEvent): string => (event.headers?.['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';

/** A JSON body, or undefined when there is none. */
export const jsonBody = (event: HttpEvent): unknown => {
  const text = rawBody(event);
  if (text === undefined) return undefined;
  const type = contentType(event);
  if (type && !/^application\/([a-z0-9.+-]+\+)?json$/.test(type)) {
    throw new ServiceError({ code: 'unsupported_media_type', detail: 'Send the body as application/json.' });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ValidationError('The body is not valid JSON: check quotes, commas and brackets.');
  }
};

/** Query parameters, plus form fields for a form_post callback. */
export const callbackParams = (event: HttpEvent): Record<string, string> => {
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(event.queryStringParameters ?? {})) if (value !== undefined) params[key] = value;
  if (event.requestContext.http.method === 'POST') {
    const text = rawBody(event);
    if (text !== undefined) {
      if (contentType(event) !== 'application/x-www-form-urlencoded') {
        throw new ServiceError({
          code: 'unsupported_media_type',
          detail: 'The callback accepts application/x-www-form-urlencoded bodies (response_mode=form_post).',
        });
      }
      for (const [key, value] of new URLSearchParams(text)) params[key] = value;
    }
  }
  return params;
};

/**
 * The redirect URI TrueLayer sends the browser back to: CALLBACK_URL when set, else this API's own
 * /callback on the host the request came to (https on API Gateway; http for a loopback host).
 */
export const callbackUrlOf = (event: HttpEvent, configured: string | undefined): string => {
  if (configured) return configured;
  const host = event.requestContext.domainName || event.headers?.host || 'localhost';
  const loopback = /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(host);
  const proto = event.headers?.['x-forwarded-proto'] ?? (loopback ? 'http' : 'https');
  const port = event.headers?.['x-forwarded-port'];
  const withPort =
    host.includes(':') || !port || (proto === 'https' && port === '443') || (proto === 'http' && port === '80') ? host : `${host}:${port}`;
  return `${proto}://${withPort}/callback`;
};

export const wantsHtml = (event: HttpEvent): boolean => /text\/html/.test(event.headers?.accept ?? '');
