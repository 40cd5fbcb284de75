/**
 * The one middy stack every HTTP function runs in: request logging context, problem+json errors,
 * security headers, compression. CORS is API Gateway's job: configured on the HTTP API from the
 * same origins (CDK `corsPreflight`, and the local emulator likewise), it overrides whatever a
 * function would send.
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { MiddlewareObj } from '@middy/core';
import middy from '@middy/core';
import httpSecurityHeaders from '@middy/http-security-headers';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { flushMetrics } from '../telemetry';
import { compression } from './compression';
import { problemBody, problemResponse } from './problem';
import type { HttpEvent } from './request';

export type HttpHandler = (event: HttpEvent, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

export interface HttpStackOptions {
  logger: Logger;
  /**
   * The X-Ray handler subsegment (`handlerTracing()` of shared/telemetry.ts), given by every function
   * that calls something. An entry that does not import it does not bundle the X-Ray SDK.
   */
  tracing?: MiddlewareObj;
}

/** Writes the invocation's metrics once the response is settled, whichever way it went. */
const metricsFlush = { after: async () => flushMetrics(), onError: async () => flushMetrics() };

export const httpStack = (handler: HttpHandler, { logger, tracing }: HttpStackOptions) =>
  middy<HttpEvent, APIGatewayProxyStructuredResultV2>()
    // Outermost: the handler subsegment spans everything.
    .use(tracing ? [tracing] : [])
    .use(metricsFlush)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use({
      before: async (request) => {
        // API Gateway's request id: the same value as the access log's requestId, so one search finds both.
        logger.setCorrelationId(request.event.requestContext.requestId);
        logger.appendKeys({ route: request.event.routeKey, api_request_id: request.event.requestContext.requestId });
      },
    })
    .use(
      httpSecurityHeaders({
        contentSecurityPolicy: { 'default-src': "'none'", 'frame-ancestors': "'none'", 'style-src': "'unsafe-inline'" },
      }),
    )
    .use(compression())
    .use({
      onError: async (request) => {
        const { status, code } = problemBody(request.error);
        if (status >= 500) logger.error('request failed', { status, problem_code: code, error: request.error });
        else logger.info('request refused', { status, problem_code: code });
        request.response = problemResponse(request.error);
      },
    })
    .handler(handler);
