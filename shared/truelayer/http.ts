/**
 * The one place the TrueLayer clients touch the network: per-attempt timeouts, the retry rules for
 * idempotent and non-idempotent calls, and mapping TrueLayer's error bodies to TrueLayerError.
 */

import type { Clock } from '../clock';
import { type MetricsPort, metricNames, statusClass, type TracePort } from '../metrics';
import type * as z from '../zod';
import { scrubText, TrueLayerError, type TrueLayerOperation } from './errors';
import { backoffDelayMs, type RetryPolicy, resolveRetryPolicy, sleep } from './retry';

/**
 * `idempotent`: data GETs; retried on 500/502/503/504, timeouts and network errors.
 * `unprocessed-only`: code exchange, refresh, extend, revoke; a code is single-use and a rotating
 * refresh revokes the old token, so these are retried only when TrueLayer provably did not act on
 * them (no connection made, or a 503), never after a timeout or a connection reset: a reset can
 * come after TrueLayer acted, so it is reported as an unknown outcome for the caller to settle.
 */
export type RetryMode = 'idempotent' | 'unprocessed-only';

export interface HttpCall {
  operation: TrueLayerOperation;
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  body?: string;
  retryMode: RetryMode;
  /** Values this call sends that must never surface in an error (tokens, code, secret). */
  sensitive: readonly string[];
  /** Per attempt, instead of the client's own timeout (token calls get a longer one). */
  timeoutMs?: number;
  /**
   * Epoch ms (real time) by which the caller must have its answer, e.g. before the Lambda's own
   * timeout: no retry starts that could not finish by then, and an attempt never outlasts it.
   */
  deadline?: number;
}

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  attempts: number;
}

export interface HttpOptions {
  clock: Clock;
  timeoutMs: number;
  retry: RetryPolicy;
  /** Jitter source; Math.random by default. */
  random?: () => number;
  telemetry?: UpstreamTelemetry;
}

/** Where each call to TrueLayer is counted (by status class, and non-2xx by operation, status and code) and traced. */
export interface UpstreamTelemetry {
  metrics?: MetricsPort;
  trace?: TracePort;
}

/** How a TrueLayer client is built: its clock, a per-attempt timeout, retry overrides and telemetry. */
export interface ClientHttpOptions {
  clock: Clock;
  timeoutMs: number;
  retry?: Partial<RetryPolicy>;
  telemetry?: UpstreamTelemetry;
}

/** The HTTP layer of one TrueLayer client, with the default retry policy under its overrides. */
export const clientHttp = (options: ClientHttpOptions): TrueLayerHttp =>
  new TrueLayerHttp({
    clock: options.clock,
    timeoutMs: options.timeoutMs,
    retry: resolveRetryPolicy(options.retry),
    ...(options.telemetry ? { telemetry: options.telemetry } : {}),
  });

const idempotentRetryStatuses = new Set([500, 502, 503, 504]);
const unprocessedRetryStatuses = new Set([503]);

// Failures in which the request cannot have reached TrueLayer's application: no connection was made
// (refused, DNS, connect timeout).
const unprocessedNetworkCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
// A reset may also be a stale pooled socket the request never reached: safe to retry when the call is
// idempotent, an unknown outcome when it is not.
const resetCodes = new Set(['ECONNRESET']);

const errorCodesIn = (error: unknown, depth = 0): string[] => {
  if (depth > 4 || typeof error !== 'object' || error === null) return [];
  const record = error as { code?: unknown; cause?: unknown; errors?: unknown };
  const codes = typeof record.code === 'string' ? [record.code] : [];
  codes.push(...errorCodesIn(record.cause, depth + 1));
  if (Array.isArray(record.errors)) for (const inner of record.errors) codes.push(...errorCodesIn(inner, depth + 1));
  return codes;
};

const isTimeout = (error: unknown): boolean =>
  typeof error === 'object' &&
  error !== null &&
  ((error as { name?: unknown }).name === 'TimeoutError' ||
    errorCodesIn(error).includes('UND_ERR_HEADERS_TIMEOUT') ||
    errorCodesIn(error).includes('UND_ERR_BODY_TIMEOUT'));

/** A safe summary of a network failure: error codes only, never the request. */
const networkCause = (error: unknown): Error => {
  const codes = [...new Set(errorCodesIn(error))];
  return new Error(codes.length > 0 ? `network failure (${codes.join(', ')})` : 'network failure');
};

const fallbackCodes: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  415: 'unsupported_media_type',
  422: 'unprocessable_entity',
  429: 'too_many_requests',
  500: 'internal_server_error',
  501: 'not_implemented',
  502: 'bad_gateway',
  503: 'service_unavailable',
  504: 'gateway_timeout',
};

/** `Retry-After` as whole seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export const parseRetryAfter = (value: string | null, nowMs: number): number | undefined => {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
};

/** TrueLayer's correlation id (a UUID), kept only when it looks like one, so a header cannot inject text into logs. */
const safeCorrelationId = (headers: Headers): string | undefined => {
  const value = headers.get('x-tl-correlation-id');
  return value !== null && /^[A-Za-z0-9._:-]{1,128}$/.test(value) ? value : undefined;
};

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
};

const problemErrorsSummary = (errors: unknown): string | undefined => {
  if (typeof errors !== 'object' || errors === null) return undefined;
  const parts: string[] = [];
  for (const [field, messages] of Object.entries(errors as Record<string, unknown>)) {
    const list = Array.isArray(messages) ? messages.filter((item): item is string => typeof item === 'string') : [];
    parts.push(list.length > 0 ? `${field}: ${list.join(' ')}` : field);
  }
  return parts.length > 0 ? parts.join('; ') : undefined;
};

export class TrueLayerHttp {
  private readonly random: () => number;

  constructor(private readonly options: HttpOptions) {
    if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) throw new RangeError('timeoutMs must be a positive number');
    this.random = options.random ?? Math.random;
  }

  get clock(): Clock {
    return this.options.clock;
  }

  /**
   * Sends the call, retrying as its mode allows. Resolves with the last response whatever its
   * status; throws a TrueLayerError only when no response arrived (timeout or network).
   */
  async send(call: HttpCall): Promise<HttpResult> {
    const trace = this.options.telemetry?.trace;
    if (!trace) return this.observed(call);
    // One subsegment per call, retries inside it; its name and annotations hold no URL, token or body.
    return trace.subsegment(`TrueLayer ${call.operation}`, async (annotate) => {
      annotate('operation', call.operation);
      try {
        const result = await this.observed(call);
        annotate('status', result.status);
        annotate('attempts', result.attempts);
        return result;
      } catch (error) {
        if (error instanceof TrueLayerError) annotate('status', error.code);
        throw error;
      }
    });
  }

  private async observed(call: HttpCall): Promise<HttpResult> {
    const metrics = this.options.telemetry?.metrics;
    if (!metrics) return this.sendWithRetries(call);
    try {
      const result = await this.sendWithRetries(call);
      metrics.count(metricNames.upstreamCalls, { StatusClass: statusClass(result.status) });
      if (!this.isSuccess(result)) {
        // The same scrubbed code the caller's error will carry.
        const { code } = this.errorFrom(call, result);
        metrics.count(metricNames.upstreamErrors, { Operation: call.operation, Status: String(result.status), Code: code });
      }
      return result;
    } catch (error) {
      if (error instanceof TrueLayerError) {
        metrics.count(metricNames.upstreamCalls, { StatusClass: statusClass(0, error.kind === 'timeout' ? 'timeout' : 'network') });
        metrics.count(metricNames.upstreamErrors, { Operation: call.operation, Status: error.kind, Code: error.code });
      }
      throw error;
    }
  }

  private async sendWithRetries(call: HttpCall): Promise<HttpResult> {
    const { retry } = this.options;
    for (let attempt = 1; ; attempt += 1) {
      const outcome = await this.attempt(call);
      const canRetry = attempt < retry.attempts;
      if (outcome.type === 'response') {
        const result: HttpResult = { ...outcome, attempts: attempt };
        const retryable = (call.retryMode === 'idempotent' ? idempotentRetryStatuses : unprocessedRetryStatuses).has(outcome.status);
        if (!canRetry || !retryable) return result;
        const retryAfter = parseRetryAfter(outcome.headers.get('retry-after'), this.options.clock.now());
        // A server asking for a longer pause than we would ever wait gets its answer surfaced instead.
        if (retryAfter !== undefined && retryAfter * 1000 > retry.maxDelayMs) return result;
        const delay = Math.max(backoffDelayMs(attempt, retry, this.random), (retryAfter ?? 0) * 1000);
        if (!this.fitsBefore(call, delay)) return result;
        await sleep(delay);
        continue;
      }
      const retryable =
        outcome.type === 'timeout' ? call.retryMode === 'idempotent' : call.retryMode === 'idempotent' || outcome.unprocessed;
      const delay = backoffDelayMs(attempt, retry, this.random);
      if (!canRetry || !retryable || !this.fitsBefore(call, delay)) {
        const timeoutMs = call.timeoutMs ?? this.options.timeoutMs;
        throw new TrueLayerError({
          outcomeUnknown: outcome.type === 'timeout' || !outcome.unprocessed,
          operation: call.operation,
          status: 0,
          code: outcome.type === 'timeout' ? 'timeout' : 'network_error',
          kind: outcome.type === 'timeout' ? 'timeout' : 'network',
          description:
            outcome.type === 'timeout'
              ? `No answer from TrueLayer within ${timeoutMs} ms.`
              : 'The connection to TrueLayer failed before an answer arrived.',
          attempts: attempt,
          cause: outcome.cause,
        });
      }
      await sleep(delay);
    }
  }

  /** Whether a retry after `delayMs` still leaves a useful attempt (a second, or the whole timeout if shorter) before the deadline. */
  private fitsBefore(call: HttpCall, delayMs: number): boolean {
    return call.deadline === undefined || Date.now() + delayMs + Math.min(call.timeoutMs ?? this.options.timeoutMs, 1_000) <= call.deadline;
  }

  private async attempt(
    call: HttpCall,
  ): Promise<
    | { type: 'response'; status: number; headers: Headers; text: string }
    | { type: 'timeout'; cause: Error }
    | { type: 'network'; unprocessed: boolean; cause: Error }
  > {
    const timeoutMs = call.timeoutMs ?? this.options.timeoutMs;
    const budget = call.deadline === undefined ? timeoutMs : Math.min(timeoutMs, Math.max(1, call.deadline - Date.now()));
    const signal = AbortSignal.timeout(budget);
    let answered = false;
    try {
      const init: RequestInit = { method: call.method, headers: call.headers, signal, redirect: 'manual' };
      if (call.body !== undefined) init.body = call.body;
      const response = await fetch(call.url, init);
      answered = true;
      // The body is read under the same per-attempt deadline as the headers.
      const text = await response.text();
      return { type: 'response', status: response.status, headers: response.headers, text };
    } catch (error) {
      if (isTimeout(error) || signal.aborted) return { type: 'timeout', cause: new Error('timed out') };
      // Once a status line has arrived TrueLayer has acted on the request, whatever befalls the body.
      const codes = errorCodesIn(error);
      const unprocessed =
        !answered && codes.some((code) => unprocessedNetworkCodes.has(code) || (call.retryMode === 'idempotent' && resetCodes.has(code)));
      return { type: 'network', unprocessed, cause: networkCause(error) };
    }
  }

  /** The TrueLayerError for a non-2xx answer, from TrueLayer's `{error, error_description}` or problem+json body. */
  errorFrom(call: HttpCall, result: HttpResult): TrueLayerError {
    const body = parseJson(result.text);
    let code: string | undefined;
    let description: string | undefined;
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
      const record = body as Record<string, unknown>;
      if (typeof record.error === 'string' && record.error.length > 0) {
        code = record.error;
        if (typeof record.error_description === 'string') description = record.error_description;
      } else if (typeof record.title === 'string' && record.title.length > 0) {
        code = record.title;
        description = typeof record.detail === 'string' ? record.detail : problemErrorsSummary(record.errors);
      }
    }
    const scrubbedCode = code === undefined ? undefined : scrubText(code, call.sensitive);
    const scrubbedDescription = description === undefined ? undefined : scrubText(description, call.sensitive);
    const correlationId = safeCorrelationId(result.headers);
    const retryAfterSeconds = parseRetryAfter(result.headers.get('retry-after'), this.options.clock.now());
    const redirected = result.status >= 300 && result.status < 400;
    return new TrueLayerError({
      operation: call.operation,
      status: result.status,
      code: scrubbedCode || (redirected ? 'unexpected_redirect' : (fallbackCodes[result.status] ?? `http_${result.status}`)),
      kind: result.status >= 400 && result.status < 500 ? 'rejected' : 'upstream',
      ...(scrubbedDescription ? { description: scrubbedDescription } : {}),
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
      ...(correlationId ? { correlationId } : {}),
      attempts: result.attempts,
    });
  }

  /** Parses a 2xx JSON body against the schema; anything else from TrueLayer is an upstream failure. */
  parseBody<T>(call: HttpCall, result: HttpResult, schema: z.ZodMiniType<T>): T {
    const body = parseJson(result.text);
    const parsed = schema.safeParse(body);
    if (parsed.success) return parsed.data;
    const correlationId = safeCorrelationId(result.headers);
    // Only field paths are reported: the values may be tokens.
    const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || '(body)'))].slice(0, 5);
    throw new TrueLayerError({
      operation: call.operation,
      status: result.status,
      code: 'invalid_response',
      kind: 'upstream',
      description:
        body === undefined
          ? 'TrueLayer answered with a body that is not JSON.'
          : `TrueLayer's answer did not have the expected shape (at ${fields.join(', ')}).`,
      ...(correlationId ? { correlationId } : {}),
      attempts: result.attempts,
    });
  }

  isSuccess(result: HttpResult): boolean {
    return result.status >= 200 && result.status < 300;
  }
}
