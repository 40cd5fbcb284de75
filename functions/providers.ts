/** GET /providers?country=: the banks TrueLayer offers this client, for a bank picker. */
import { logger, providerDependencies } from '../shared/composition';
import { callerOf } from '../shared/http/request';
import { httpStack } from '../shared/http/stack';
import { handlerTracing } from '../shared/tracing';

export const handler = httpStack(
  async (event) => {
    callerOf(event);
    const answer = await providerDependencies().providers.list(event.queryStringParameters?.country);
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'private, max-age=3600' },
      body: JSON.stringify(answer),
    };
  },
  { logger, tracing: handlerTracing() },
);
