/**
 * Tracing plumbing, the one place Powertools Tracer (and so the X-Ray SDK) is met: X-Ray subsegments
 * behind the `TracePort` of shared/metrics.ts, so the core traces without knowing the library. Only
 * the functions that call something import this module; one that calls nothing (openapi) is traced
 * by Lambda's active tracing alone and does not bundle the SDK. Subsegments carry names, statuses and
 * bounded codes only, never a token, code, user id or body.
 */
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { MiddlewareObj } from '@middy/core';
import { safeDimensionValue, type TracePort } from './metrics';
import { SERVICE_NAME } from './telemetry';

/**
 * Powertools' tracer: active only inside Lambda with tracing on (it stays off locally, in tests and
 * under `sam local`). Responses and HTTP calls are not captured (the stack sets
 * POWERTOOLS_TRACER_CAPTURE_RESPONSE and ..._CAPTURE_HTTPS_REQUESTS to false): TrueLayer calls get
 * subsegments of our own, with nothing from the request in them.
 */
export const tracer = new Tracer({ serviceName: SERVICE_NAME });

/** The handler subsegment for the HTTP stack; no response is captured (it may carry data). */
export const handlerTracing = (): MiddlewareObj => captureLambdaHandler(tracer, { captureResponse: false });

/** An AWS SDK v3 client whose calls appear as subsegments (operation, status, retries). */
export const traced = <T>(client: T): T => (tracer.isTracingEnabled() ? tracer.captureAWSv3Client(client) : client);

export const xrayTracing: TracePort = {
  async subsegment(name, work) {
    const parent = tracer.isTracingEnabled() ? tracer.getSegment() : undefined;
    if (!parent) return work(() => undefined);
    const subsegment = parent.addNewSubsegment(name);
    tracer.setSegment(subsegment);
    try {
      return await work((key, value) => subsegment.addAnnotation(key, typeof value === 'string' ? safeDimensionValue(value) : value));
    } catch (error) {
      subsegment.addError(error as Error);
      throw error;
    } finally {
      subsegment.close();
      tracer.setSegment(parent);
    }
  },
};
