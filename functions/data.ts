/** GET /connections/{id}/{data path}: TrueLayer's Data API v1 response, passed through. */
import { dependencies, logger } from '../shared/composition';
import { readData } from '../shared/connections/read-data';
import { callerOf, requestBudget } from '../shared/http/request';
import { httpStack } from '../shared/http/stack';

export const handler = httpStack(
  async (event, context) => {
    const { services, config } = dependencies();
    const response = await readData(services, callerOf(event), {
      connectionId: event.pathParameters?.id ?? '',
      path: event.pathParameters?.proxy ?? '',
      query: event.queryStringParameters ?? {},
      psuIp: event.headers?.['x-psu-ip'],
      // The data call answers before API Gateway gives up; a refresh may run on to the function's timeout.
      budget: requestBudget(context, config.apiGatewayTimeoutMs),
    });
    return {
      statusCode: response.status,
      headers: {
        'content-type': response.headers['content-type'] ?? 'application/json; charset=utf-8',
        // Personal financial data: never stored by shared caches.
        'cache-control': 'private, no-store',
        ...(response.headers['x-tl-correlation-id'] ? { 'x-tl-correlation-id': response.headers['x-tl-correlation-id'] } : {}),
      },
      body: JSON.stringify(response.body),
    };
  },
  { logger },
);
