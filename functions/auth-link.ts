/** POST /connections */
import { connectionDependencies, logger } from '../shared/composition';
import { createConnection } from '../shared/connections/create-connection';
import { jsonResponse } from '../shared/http/problem';
import { callbackUrlOf, callerOf, jsonBody } from '../shared/http/request';
import { httpStack } from '../shared/http/stack';
import { handlerTracing } from '../shared/tracing';

const dependencies = connectionDependencies('authLink', {});

export const handler = httpStack(
  async (event) => {
    const { services, config } = dependencies();
    const created = await createConnection(services, callerOf(event), {
      body: jsonBody(event),
      callbackUrl: callbackUrlOf(event, config.callbackUrl),
    });
    return jsonResponse(201, created, { location: `/connections/${created.connection_id}` });
  },
  { logger, tracing: handlerTracing() },
);
