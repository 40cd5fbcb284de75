/** Compresses response bodies (br or gzip) when the client accepts it: a middy `after` middleware. */
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { HttpEvent } from './request';

const MIN_BYTES = 1024;

const pick = (accept: string): 'br' | 'gzip' | undefined => {
  const offered = accept
    .toLowerCase()
    .split(',')
    .map((part) => part.trim().split(';'))
    .filter(([, q]) => !q || !/q=0(\.0+)?$/.test(q.trim()))
    .map(([name]) => name?.trim());
  if (offered.includes('br')) return 'br';
  if (offered.includes('gzip') || offered.includes('*')) return 'gzip';
  return undefined;
};

export const compression = (): MiddlewareObj<HttpEvent, APIGatewayProxyStructuredResultV2> => ({
  after: async (request) => {
    const response = request.response;
    if (!response || typeof response.body !== 'string' || response.isBase64Encoded) return;
    if (Buffer.byteLength(response.body) < MIN_BYTES) return;
    const encoding = pick(request.event.headers?.['accept-encoding'] ?? '');
    if (!encoding) return;
    const input = Buffer.from(response.body, 'utf8');
    const output =
      encoding === 'br' ? brotliCompressSync(input, { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } }) : gzipSync(input, { level: 6 });
    response.body = output.toString('base64');
    response.isBase64Encoded = true;
    response.headers = { ...response.headers, 'content-encoding': encoding, vary: 'accept-encoding' };
  },
});
