/** Small node:http helpers: body reading and parsing, JSON/HTML/empty answers, TrueLayer's headers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { readBody as readWholeBody } from '../http';

const maxBodyBytes = 1024 * 1024;

/** A request the simulator can answer without caring which endpoint it hit. */
export interface SimRequest {
  raw: IncomingMessage;
  method: string;
  url: URL;
  path: string;
  headers: IncomingMessage['headers'];
  rawBody: string;
}

export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
}

/** The body as text; over 1 MiB it is read to its end, then refused. */
export const readBody = async (req: IncomingMessage): Promise<string> => {
  const body = await readWholeBody(req, maxBodyBytes);
  if (body === 'too-large') throw new BodyTooLargeError('request body over 1 MiB');
  return body.toString('utf8');
};

export type ParsedBody = { ok: true; value: Record<string, unknown> } | { ok: false; reason: string };

const mediaType = (headers: IncomingMessage['headers']): string =>
  (headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';

const parseJsonObject = (raw: string): ParsedBody => {
  try {
    const value: unknown = JSON.parse(raw);
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      return { ok: false, reason: 'the JSON body must be an object' };
    return { ok: true, value: value as Record<string, unknown> };
  } catch {
    return { ok: false, reason: 'the body is not valid JSON' };
  }
};

const parseForm = (raw: string): ParsedBody => {
  const value: Record<string, unknown> = {};
  for (const [key, item] of new URLSearchParams(raw)) {
    // The first value wins, so a repeated field cannot override what a browser sent first.
    if (!(key in value)) value[key] = item;
  }
  return { ok: true, value };
};

/** Accepts JSON or form bodies (TrueLayer's token endpoint takes both); guesses when no content type is given. */
export const parseBody = (request: SimRequest): ParsedBody => {
  const type = mediaType(request.headers);
  if (type === 'application/json' || type.endsWith('+json')) return parseJsonObject(request.rawBody);
  if (type === 'application/x-www-form-urlencoded') return parseForm(request.rawBody);
  if (type === '') return request.rawBody.trimStart().startsWith('{') ? parseJsonObject(request.rawBody) : parseForm(request.rawBody);
  return { ok: false, reason: `unsupported content type ${type}` };
};

export const parseJsonBody = (request: SimRequest): ParsedBody => {
  const type = mediaType(request.headers);
  if (type !== '' && type !== 'application/json' && !type.endsWith('+json'))
    return { ok: false, reason: `unsupported content type ${type}; send application/json` };
  return parseJsonObject(request.rawBody);
};

/** The security headers TrueLayer's APIs send on every response. */
export const apiSecurityHeaders: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none';",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'deny',
  'x-xss-protection': '1; mode=block',
  'referrer-policy': 'no-referrer',
};

export interface SendOptions {
  headers?: Record<string, string>;
  /** Gzip the body when the client accepts it (TrueLayer's Data API does). */
  gzip?: boolean;
  contentType?: string;
}

const acceptsGzip = (req: IncomingMessage): boolean => /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''));

export const sendJson = (req: IncomingMessage, res: ServerResponse, status: number, body: unknown, options: SendOptions = {}): void => {
  let payload: Buffer = Buffer.from(JSON.stringify(body), 'utf8');
  const headers: Record<string, string> = {
    ...apiSecurityHeaders,
    'content-type': options.contentType ?? 'application/json; charset=utf-8',
    ...options.headers,
  };
  if (options.gzip === true && acceptsGzip(req)) {
    payload = gzipSync(payload);
    headers['content-encoding'] = 'gzip';
    headers.vary = 'Accept-Encoding';
  }
  headers['content-length'] = String(payload.length);
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : payload);
};

export const sendEmpty = (res: ServerResponse, status: number, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { ...apiSecurityHeaders, 'content-length': '0', ...headers });
  res.end();
};

export const sendHtml = (res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void => {
  const payload = Buffer.from(html, 'utf8');
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(payload.length),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'deny',
    'referrer-policy': 'no-referrer',
    ...headers,
  });
  res.end(payload);
};

export const redirect = (res: ServerResponse, location: string): void => {
  res.writeHead(302, { location, 'content-length': '0', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
  res.end();
};

const htmlEscapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (character) => htmlEscapes[character] ?? character);

export const bearerToken = (headers: IncomingMessage['headers']): string | undefined => {
  const match = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(String(headers.authorization ?? ''));
  return match?.[1];
};

export const headerValue = (headers: IncomingMessage['headers'], name: string): string | undefined => {
  const value = headers[name.toLowerCase()];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first.trim() === '' ? undefined : first.trim();
};
