/** GET /connections/{id}/{data path}: TrueLayer's Data API v1 response, at the bank's pace. */
import { connectionDependencies, logger } from '../shared/composition';
import { readData } from '../shared/connections/read-data';
import { kmsDataKeys } from '../shared/crypto/kms-data-keys';
import { callerOf, requestBudget } from '../shared/http/request';
import { httpStack } from '../shared/http/stack';
import { eventBridgePublisher } from '../shared/lifecycle/event-bridge';
import { handlerTracing } from '../shared/tracing';

const dependencies = connectionDependencies('data', { kms: kmsDataKeys, eventBus: eventBridgePublisher });

export const handler = httpStack(
  async (event, context) => {
    const { services, config, pace } = dependencies();
    const answer = await readData(services, pace, callerOf(event), {
      connectionId: event.pathParameters?.id ?? '',
      path: event.pathParameters?.proxy ?? '',
      query: event.queryStringParameters ?? {},
      psuIp: event.headers?.['x-psu-ip'],
      ifNoneMatch: event.headers?.['if-none-match'],
      // The data call answers before API Gateway gives up; a refresh may run on to the function's timeout.
      budget: requestBudget(context, config.apiGatewayTimeoutMs),
    });
    return {
      statusCode: answer.status,
      headers: {
        ...answer.headers,
        // Personal financial data: never kept by shared caches; a client may keep it and revalidate with the ETag.
        'cache-control': 'private, no-cache',
      },
      ...(answer.bodyText === undefined ? {} : { body: answer.bodyText }),
    };
  },
  { logger, tracing: handlerTracing() },
);
