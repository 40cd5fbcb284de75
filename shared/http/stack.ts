/**
 * The one middy stack every HTTP function runs in: request logging context, problem+json errors,
 * security headers, CORS from config, compression.
 */
import middy from '@middy/core';
import httpCors from '@middy/http-cors';
import httpSecurityHeaders from '@middy/http-security-headers';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { ServiceError } from '../errors';
import { compression } from './compression';
import { problemResponse } from './problem';
import type { HttpEvent } from './request';

export type HttpHandler = (event: HttpEvent, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

export interface HttpStackOptions {
  logger: Logger;
  /** Read on first use, so configuration is loaded once, inside a request, where a failure is answered. */
  corsOrigins: () => string[];
}

export const httpStack = (handler: HttpHandler, { logger, corsOrigins }: HttpStackOptions) => {
  let corsMiddleware: ReturnType<typeof httpCors> | undefined;
  const cors = () => {
    if (corsMiddleware) return corsMiddleware;
    const origins = corsOrigins();
    corsMiddleware = origins.length
      ? httpCors({ origins, credentials: false, headers: 'authorization,content-type,x-psu-ip', methods: 'GET,POST,DELETE,OPTIONS', maxAge: 600 })
      : {};
    return corsMiddleware;
  };

  return middy<HttpEvent, APIGatewayProxyStructuredResultV2>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use({
      before: async (request) => {
        logger.appendKeys({ route: request.event.routeKey, api_request_id: request.event.requestContext.requestId });
      },
    })
    .use(httpSecurityHeaders({ contentSecurityPolicy: { 'default-src': "'none'", 'frame-ancestors': "'none'", 'style-src': "'unsafe-inline'" } }))
    .use({
      after: async (request) => {
        let middleware: { after?: (r: typeof request) => unknown };
        try {
          middleware = cors() as typeof middleware;
        } catch {
          return;
        }
        await middleware.after?.(request);
      },
      onError: async (request) => {
        let middleware: { onError?: (r: typeof request) => unknown };
        try {
          middleware = cors() as typeof middleware;
        } catch {
          return;
        }
        await middleware.onError?.(request);
      },
    })
    .use(compression())
    .use({
      onError: async (request) => {
        const error = request.error;
        const status = error instanceof ServiceError ? error.status : 500;
        if (status >= 500) logger.error('request failed', { status, problem_code: error instanceof ServiceError ? error.code : 'internal_error', error });
        else logger.info('request refused', { status, problem_code: error instanceof ServiceError ? error.code : undefined });
        request.response = problemResponse(error);
      },
    })
    .handler(handler);
};
