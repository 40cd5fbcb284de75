/**
 * Local-only identity and time controls: a throwaway RS256 issuer for calling the API, and the
 * handle on the shared clock. Served under `/__local/*` by the local stack only; never in the route
 * table, never deployed.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JSONWebKeySet } from 'jose';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { AdjustableClock, isoAt } from '../shared/clock';
import { ServiceError, ValidationError } from '../shared/errors';
import { problemBody } from '../shared/http/problem';
import type { RawRoute } from './api-gateway';
import { readBody, sendJson as sendHttpJson } from './http';

export const localAudience = 'truelayer-connections-local';
export const localTokenLifetimeSeconds = 3600;
const maxSubLength = 128;
const maxControlBodyBytes = 16 * 1024;

export interface LocalAuthOptions {
  /** The local stack's one clock, so `POST /__local/clock` expires the tokens it issued. Default: a clock of its own. */
  clock?: AdjustableClock;
  /**
   * How `POST /__local/clock` moves time; the local stack runs the lifecycle worker at every due time
   * on the way. Default: just moves the clock.
   */
  advance?: (seconds: number) => Promise<Record<string, unknown>>;
  audience?: string;
}

export interface LocalAuth {
  readonly audience: string;
  /** `<api origin>/__local`; throws until `setOrigin` is called. */
  readonly issuer: string;
  readonly jwks: JSONWebKeySet;
  setOrigin(origin: string): void;
  /** A signed access token for `sub`, valid one hour on the clock. */
  issueToken(sub: string): Promise<string>;
  /** `POST /__local/token`, `GET /__local/jwks.json`, the OIDC discovery document, `GET|POST /__local/clock`. */
  readonly routes: RawRoute[];
}

export class LocalInputError extends Error {
  override name = 'LocalInputError';
}

export const validateSub = (sub: unknown): string => {
  if (typeof sub !== 'string') throw new LocalInputError('sub must be a string, e.g. {"sub": "alice"}');
  if (sub.trim().length === 0) throw new LocalInputError('sub must not be empty');
  if (sub.length > maxSubLength) throw new LocalInputError(`sub must be at most ${maxSubLength} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse control characters in a user name.
  if (/[\u0000-\u001f\u007f]/.test(sub)) throw new LocalInputError('sub must not contain control characters');
  return sub;
};

const sendJson = (res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void =>
  sendHttpJson(res, status, body, { 'content-type': contentType, 'cache-control': 'no-store' });

const sendValidationProblem = (res: ServerResponse, detail: string): void =>
  sendJson(res, 400, problemBody(new ValidationError(detail)), 'application/problem+json');

/** Reads a small JSON body (the guard has checked its content type). */
const readJson = async (req: IncomingMessage): Promise<unknown> => {
  const body = await readBody(req, maxControlBodyBytes);
  if (body === 'too-large') throw new LocalInputError(`body must be at most ${maxControlBodyBytes} bytes`);
  const text = body.toString('utf8').trim();
  if (text.length === 0) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new LocalInputError('body must be JSON');
  }
};

/** `127.0.0.1`, `localhost` or `[::1]`, with any port: what a developer's own tools send. */
const isLoopbackHost = (host: string | undefined): boolean => /^(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/i.test(host ?? '');

const isJson = (req: IncomingMessage): boolean => /^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '');

/**
 * The guard every `/__local` route goes through. What keeps a web page the developer happens to visit from driving the controls: a page on another
 * name that resolves to 127.0.0.1 (DNS rebinding) sends its own Host, and a cross-site form or
 * `text/plain` fetch cannot send `application/json` without a CORS preflight nobody answers.
 */
export const localOnly =
  (handle: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>) =>
  async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!isLoopbackHost(req.headers.host)) {
      req.resume();
      return sendJson(
        res,
        403,
        problemBody(
          new ServiceError({
            code: 'local_only',
            detail: 'The /__local controls answer only requests addressed to 127.0.0.1 or localhost.',
          }),
        ),
        'application/problem+json',
      );
    }
    if (req.method === 'POST' && !isJson(req)) {
      req.resume();
      return sendJson(
        res,
        415,
        problemBody(
          new ServiceError({
            code: 'unsupported_media_type',
            detail:
              'Send the body as JSON with content-type: application/json, e.g. curl -H \'content-type: application/json\' -d \'{"sub":"alice"}\'.',
          }),
        ),
        'application/problem+json',
      );
    }
    await handle(req, res);
  };

const field = (body: unknown, name: string): unknown =>
  typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>)[name] : undefined;

const withValidation =
  (handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>) =>
  async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      await handle(req, res);
    } catch (error) {
      if (!(error instanceof LocalInputError) && !(error instanceof RangeError)) throw error;
      sendValidationProblem(res, error.message);
    }
  };

export const createLocalAuth = async (options: LocalAuthOptions = {}): Promise<LocalAuth> => {
  const clock = options.clock ?? new AdjustableClock();
  const audience = options.audience ?? localAudience;
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const kid = randomUUID();
  const jwks: JSONWebKeySet = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] };
  let origin: string | undefined;

  const issuerOf = (): string => {
    if (origin === undefined) throw new Error('local auth has no origin yet: call setOrigin() once the API listens');
    return `${origin}/__local`;
  };

  const issueToken = async (sub: string): Promise<string> => {
    const nowSeconds = Math.floor(clock.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .setIssuer(issuerOf())
      .setSubject(validateSub(sub))
      .setAudience(audience)
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + localTokenLifetimeSeconds)
      .setJti(randomUUID())
      .sign(privateKey);
  };

  const clockState = () => ({ now: isoAt(clock.now()), offset_seconds: clock.offsetSeconds });

  const rawRoutes: RawRoute[] = [
    {
      method: 'POST',
      path: '/__local/token',
      handle: withValidation(async (req, res) => {
        const body = await readJson(req);
        const token = await issueToken(validateSub(field(body, 'sub')));
        sendJson(res, 200, { access_token: token, token_type: 'Bearer', expires_in: localTokenLifetimeSeconds });
      }),
    },
    { method: 'GET', path: '/__local/jwks.json', handle: (_req, res) => sendJson(res, 200, jwks) },
    {
      method: 'GET',
      path: '/__local/.well-known/openid-configuration',
      handle: (_req, res) =>
        sendJson(res, 200, {
          issuer: issuerOf(),
          jwks_uri: `${issuerOf()}/jwks.json`,
          id_token_signing_alg_values_supported: ['RS256'],
        }),
    },
    { method: 'GET', path: '/__local/clock', handle: (_req, res) => sendJson(res, 200, clockState()) },
    {
      method: 'POST',
      path: '/__local/clock',
      handle: withValidation(async (req, res) => {
        const seconds = field(await readJson(req), 'advance_seconds');
        if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
          throw new LocalInputError('advance_seconds must be a non-negative number of seconds, e.g. {"advance_seconds": 3600}');
        }
        let extra: Record<string, unknown> = {};
        if (options.advance) extra = await options.advance(seconds);
        else clock.advance(seconds);
        sendJson(res, 200, { ...clockState(), ...extra });
      }),
    },
  ];

  const routes = rawRoutes.map((route) => ({ ...route, handle: localOnly(route.handle) }));

  return {
    audience,
    get issuer() {
      return issuerOf();
    },
    jwks,
    setOrigin: (value: string) => {
      origin = value.replace(/\/+$/, '');
    },
    issueToken,
    routes,
  };
};
