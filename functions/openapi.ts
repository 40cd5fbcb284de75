/**
 * GET /openapi.json: public; the OpenAPI 3.1 document of this API. The document is generated from the
 * route table and the zod schemas by `npm run openapi` (a test fails while the file and the schemas
 * disagree), so this function carries neither. Untraced by the X-Ray SDK: it calls nothing, and
 * Lambda's active tracing records the invocation itself.
 */
import { jsonResponse } from '../shared/http/problem';
import { callbackUrlOf } from '../shared/http/request';
import { httpStack } from '../shared/http/stack';
import { createLogger } from '../shared/logger';
import document from '../shared/openapi/openapi.json';

const logger = createLogger();

export const handler = httpStack(
  async (event) => {
    // The server is this API as the request reached it (the same origin the callback URL derives from).
    const serverUrl = new URL(callbackUrlOf(event, undefined)).origin;
    return jsonResponse(200, { ...document, servers: [{ url: serverUrl }] }, { 'cache-control': 'public, max-age=300' });
  },
  { logger },
);
