/** The one error type of the TrueLayer clients: what TrueLayer answered (or that it did not), scrubbed of secrets. */

export type TrueLayerErrorKind = 'rejected' | 'upstream' | 'timeout' | 'network';

export type TrueLayerOperation = 'token' | 'revoke' | 'data' | 'me' | 'extend' | 'providers';

export interface TrueLayerErrorDetails {
  operation: TrueLayerOperation;
  /** TrueLayer's HTTP status, or 0 when no response arrived. */
  status: number;
  /** TrueLayer's `error` value (problem `title` for extend), or `timeout` / `network_error` / `invalid_response`. */
  code: string;
  kind: TrueLayerErrorKind;
  description?: string;
  retryAfterSeconds?: number;
  /** TrueLayer's `X-TL-Correlation-Id`, for support tickets. */
  correlationId?: string;
  /** Attempts made, retries included. */
  attempts?: number;
  /**
   * No answer came for a request TrueLayer may have received (a timeout, a connection reset or
   * closed after sending): whether it acted on it is unknown.
   */
  outcomeUnknown?: boolean;
  cause?: unknown;
}

const operationLabel: Record<TrueLayerOperation, string> = {
  token: 'token request',
  revoke: 'connection revocation',
  data: 'Data API request',
  me: 'Data API /me request',
  extend: 'connection extension',
  providers: 'provider list request',
};

const describeKind = (details: TrueLayerErrorDetails): string => {
  switch (details.kind) {
    case 'timeout':
      return 'timed out';
    case 'network':
      return 'failed before TrueLayer answered';
    case 'rejected':
      return `was rejected (${details.status} ${details.code})`;
    case 'upstream':
      return `failed upstream (${details.status} ${details.code})`;
  }
};

export class TrueLayerError extends Error {
  override name = 'TrueLayerError';
  readonly operation: TrueLayerOperation;
  readonly status: number;
  readonly code: string;
  readonly kind: TrueLayerErrorKind;
  readonly description?: string;
  readonly retryAfterSeconds?: number;
  readonly correlationId?: string;
  readonly attempts?: number;
  readonly outcomeUnknown: boolean;

  constructor(details: TrueLayerErrorDetails) {
    // The message is built only from our own words and TrueLayer's (already scrubbed) code, so a
    // logged error can never carry a token, code or secret.
    super(
      `TrueLayer ${operationLabel[details.operation]} ${describeKind(details)}`,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.operation = details.operation;
    this.status = details.status;
    this.code = details.code;
    this.kind = details.kind;
    if (details.description !== undefined) this.description = details.description;
    if (details.retryAfterSeconds !== undefined) this.retryAfterSeconds = details.retryAfterSeconds;
    if (details.correlationId !== undefined) this.correlationId = details.correlationId;
    if (details.attempts !== undefined) this.attempts = details.attempts;
    this.outcomeUnknown = details.outcomeUnknown ?? false;
  }

  /** A plain object for structured logs. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      operation: this.operation,
      status: this.status,
      code: this.code,
      kind: this.kind,
      description: this.description,
      retryAfterSeconds: this.retryAfterSeconds,
      correlationId: this.correlationId,
      attempts: this.attempts,
      outcomeUnknown: this.outcomeUnknown,
    };
  }
}

const redacted = '[redacted]';
// JWTs (access tokens) and long opaque runs (refresh tokens, codes, secrets) never belong in an error.
const jwtPattern = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g;
const opaquePattern = /[A-Za-z0-9+/=_-]{32,}/g;
const maxTextLength = 300;

/**
 * Removes the values we sent (tokens, code, secret) and anything token-shaped from text TrueLayer
 * returned, and bounds its length, so an upstream echo cannot leak them into logs or responses.
 */
export const scrubText = (text: string, sensitive: readonly string[] = []): string => {
  let result = text;
  for (const value of sensitive) {
    if (value.length < 4) continue;
    // Also the forms the value takes inside a form-encoded or URL-encoded request an upstream may echo.
    const forms = new Set([value, encodeURIComponent(value), new URLSearchParams({ v: value }).toString().slice(2)]);
    for (const form of forms) result = result.split(form).join(redacted);
  }
  result = result.replace(jwtPattern, redacted).replace(opaquePattern, redacted);
  // Control characters would let an upstream string forge log lines.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to take control characters out.
  result = result.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return result.length > maxTextLength ? `${result.slice(0, maxTextLength)}…` : result;
};
