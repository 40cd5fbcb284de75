/** GET /openapi.json: public; the OpenAPI 3.1 document of this API, built once per container. */
import { jsonResponse } from '../shared/http/problem';
import { callbackUrlOf } from '../shared/http/request';
import { httpStack } from '../shared/http/stack';
import { createLogger } from '../shared/logger';
import { type OpenApiDocument, openApiDocument } from '../shared/openapi/document';

const logger = createLogger();
let document: OpenApiDocument | undefined;

export const handler = httpStack(
  async (event) => {
    document ??= openApiDocument();
    // The server is this API as the request reached it (the same origin the callback URL derives from).
    const serverUrl = new URL(callbackUrlOf(event, undefined)).origin;
    return jsonResponse(200, { ...document, servers: [{ url: serverUrl }] }, { 'cache-control': 'public, max-age=300' });
  },
  { logger },
);
