/** GET /connections, GET|DELETE /connections/{id}, POST /connections/{id}/extend, POST /connections/{id}/complete */
import { connectionDependencies, logger } from '../shared/composition';
import { completeConnection } from '../shared/connections/complete-connection';
import { extendConnection, getConnection, listConnections, revokeConnection } from '../shared/connections/manage-connections';
import { kmsDataKeys } from '../shared/crypto/kms-data-keys';
import { NotFoundError } from '../shared/errors';
import { jsonResponse } from '../shared/http/problem';
import { callerOf, jsonBody, requestBudget } from '../shared/http/request';
import { httpStack } from '../shared/http/stack';
import { eventBridgePublisher } from '../shared/lifecycle/event-bridge';
import { handlerTracing } from '../shared/tracing';

const dependencies = connectionDependencies('connections', { kms: kmsDataKeys, eventBus: eventBridgePublisher });

export const handler = httpStack(
  async (event, context) => {
    const { services, config } = dependencies();
    const budget = requestBudget(context, config.apiGatewayTimeoutMs);
    const caller = callerOf(event);
    const id = event.pathParameters?.id ?? '';
    switch (event.routeKey) {
      case 'GET /connections':
        return jsonResponse(
          200,
          await listConnections(services, caller, {
            limit: event.queryStringParameters?.limit,
            cursor: event.queryStringParameters?.cursor,
          }),
        );
      case 'GET /connections/{id}':
        return jsonResponse(200, await getConnection(services, caller, id));
      case 'POST /connections/{id}/extend':
        return jsonResponse(200, await extendConnection(services, caller, id, jsonBody(event), budget));
      case 'POST /connections/{id}/complete':
        return jsonResponse(200, await completeConnection(services, caller, id, jsonBody(event), budget));
      case 'DELETE /connections/{id}':
        await revokeConnection(services, caller, id, budget);
        return { statusCode: 204, headers: { 'cache-control': 'no-store' } };
      default:
        throw new NotFoundError(`No route ${event.routeKey}.`);
    }
  },
  { logger, tracing: handlerTracing() },
);
