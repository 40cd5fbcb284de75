/** A Lambda result → the HTTP response API Gateway (payload 2.0) sends back. */

export interface HttpResponseData {
  statusCode: number;
  /** Lower-cased names; several values only for `set-cookie`. */
  headers: Map<string, string[]>;
  body: Buffer;
}

/** The most a synchronous Lambda invocation may return (bytes of its JSON). */
export const maxLambdaResponseBytes = 6_291_556;

/** A result API Gateway cannot use: it answers 500, as for a failed invocation. */
export class MalformedLambdaResponse extends Error {
  override name = 'MalformedLambdaResponse';
}

// The gateway owns framing; the integration's values for these would be wrong or dangerous.
const droppedHeaders = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade']);

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const addHeader = (headers: Map<string, string[]>, name: string, value: string): void => {
  const key = name.toLowerCase();
  if (droppedHeaders.has(key)) return;
  const values = headers.get(key);
  if (values === undefined) headers.set(key, [value]);
  else if (key === 'set-cookie') values.push(value);
  else values[0] = `${values[0]},${value}`;
};

const headerValue = (name: string, value: unknown): string => {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new MalformedLambdaResponse(`header ${name} must be a string, number or boolean`);
};

export const jsonResponse = (statusCode: number, body: unknown, extra: Record<string, string> = {}): HttpResponseData => {
  const headers = new Map<string, string[]>([['content-type', ['application/json']]]);
  for (const [name, value] of Object.entries(extra)) headers.set(name.toLowerCase(), [value]);
  return { statusCode, headers, body: Buffer.from(JSON.stringify(body)) };
};

/** Gateway-generated errors, with the exact bodies HTTP APIs send. */
export const gatewayErrors = {
  badRequest: () => jsonResponse(400, { message: 'Bad Request' }),
  unauthorized: (challenge: string) => jsonResponse(401, { message: 'Unauthorized' }, { 'www-authenticate': challenge }),
  notFound: () => jsonResponse(404, { message: 'Not Found' }),
  tooLarge: () => jsonResponse(413, { message: 'Request Entity Too Large' }),
  internal: () => jsonResponse(500, { message: 'Internal Server Error' }),
  /** What an HTTP API answers when the integration outlives its timeout (29 s). */
  serviceUnavailable: () => jsonResponse(503, { message: 'Service Unavailable' }),
};

/**
 * Maps what the handler returned. The result first goes through JSON, as it does on its way out
 * of a real Lambda, so what a handler cannot serialize is lost here exactly as there.
 */
export const mapLambdaResult = (returned: unknown): HttpResponseData => {
  const serialized = JSON.stringify(returned) ?? 'null';
  if (Buffer.byteLength(serialized) > maxLambdaResponseBytes) throw new MalformedLambdaResponse('response payload exceeds 6 MB');
  const result: unknown = JSON.parse(serialized);

  if (!isRecord(result) || !('statusCode' in result)) {
    // A string, a number or an object without statusCode: API Gateway assumes a 200 JSON response.
    return {
      statusCode: 200,
      headers: new Map([['content-type', ['application/json']]]),
      body: Buffer.from(typeof result === 'string' ? result : serialized),
    };
  }

  const { statusCode } = result;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
    throw new MalformedLambdaResponse('statusCode must be an integer from 100 to 599');
  }
  const headers = new Map<string, string[]>();
  if (result.headers !== undefined && result.headers !== null) {
    if (!isRecord(result.headers)) throw new MalformedLambdaResponse('headers must be an object');
    for (const [name, value] of Object.entries(result.headers)) addHeader(headers, name, headerValue(name, value));
  }
  if (result.multiValueHeaders !== undefined && result.multiValueHeaders !== null) {
    if (!isRecord(result.multiValueHeaders)) throw new MalformedLambdaResponse('multiValueHeaders must be an object');
    for (const [name, values] of Object.entries(result.multiValueHeaders)) {
      if (!Array.isArray(values)) throw new MalformedLambdaResponse(`multiValueHeaders.${name} must be an array`);
      for (const value of values) addHeader(headers, name, headerValue(name, value));
    }
  }
  if (result.cookies !== undefined && result.cookies !== null) {
    if (!Array.isArray(result.cookies) || !result.cookies.every((cookie) => typeof cookie === 'string')) {
      throw new MalformedLambdaResponse('cookies must be an array of strings');
    }
    for (const cookie of result.cookies) addHeader(headers, 'set-cookie', cookie);
  }
  const body = result.body;
  if (body !== undefined && body !== null && typeof body !== 'string') throw new MalformedLambdaResponse('body must be a string');
  const text = typeof body === 'string' ? body : '';
  return {
    statusCode,
    headers,
    body: result.isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8'),
  };
};
