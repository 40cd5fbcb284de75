/**
 * The API's OpenAPI 3.1 document, assembled from the one route table (functions/routes.ts) and the
 * per-route entries of route-docs.ts, with every schema generated from zod (`z.toJSONSchema`, JSON
 * Schema 2020-12, the dialect OpenAPI 3.1 uses). Served at `GET /openapi.json`.
 */
import { type Route, routeKey, routes } from '../../functions/routes';
import { type ProblemCode, problemCatalogue } from '../errors';
import * as z from '../zod';
import { type ResponseDoc, type RouteDoc, routeDocs } from './route-docs';
import {
  connectionListSchema,
  connectionSchema,
  createdConnectionSchema,
  dataResultsSchema,
  extendOutcomeSchema,
  gatewayMessageSchema,
  pathParameterSchemas,
  problemSchema,
} from './schemas';

type JsonSchema = Record<string, unknown>;
type Operation = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: Record<string, unknown>;
  servers?: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, Record<string, unknown>>;
  [member: string]: unknown;
}

/** Schemas shown once under components and referenced by name. */
const namedSchemas = new Map<z.ZodMiniType, string>([
  [connectionSchema, 'Connection'],
  [connectionListSchema, 'ConnectionList'],
  [createdConnectionSchema, 'CreatedConnection'],
  [extendOutcomeSchema, 'ExtendOutcome'],
  [dataResultsSchema, 'DataResults'],
  [problemSchema, 'Problem'],
  [gatewayMessageSchema, 'GatewayMessage'],
]);

/** Requests are documented as the validator takes them (`input`), answers as they are sent (`output`). */
const jsonSchemaOf = (schema: z.ZodMiniType, io: 'input' | 'output'): JsonSchema => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
};

const schemaRef = (schema: z.ZodMiniType, io: 'input' | 'output'): JsonSchema => {
  const name = namedSchemas.get(schema);
  return name ? { $ref: `#/components/schemas/${name}` } : jsonSchemaOf(schema, io);
};

/** Problem codes any route may answer: our fault, or a dependency that is down. */
const everyRouteProblems: readonly ProblemCode[] = ['internal_error', 'service_unavailable'];
/** What reading any body may answer (shared/http/request.ts). */
const bodyProblems: readonly ProblemCode[] = ['validation_error', 'payload_too_large', 'unsupported_media_type'];

const parametersOf = (path: string, query: z.ZodMiniObject | undefined): Record<string, unknown>[] => {
  const parameters: Record<string, unknown>[] = [];
  for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
    const schema = pathParameterSchemas[name as string];
    if (!schema)
      throw new Error(`no schema for path parameter {${name}} of ${path}: add it to pathParameterSchemas (shared/openapi/schemas.ts)`);
    parameters.push({ name, in: 'path', required: true, schema: jsonSchemaOf(schema, 'input') });
  }
  if (query) {
    const object = jsonSchemaOf(query, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, schema] of Object.entries(object.properties ?? {})) {
      const { description, ...rest } = schema;
      parameters.push({
        name,
        in: 'query',
        required: object.required?.includes(name) ?? false,
        ...(description ? { description } : {}),
        schema: rest,
      });
    }
  }
  return parameters;
};

const successResponse = (doc: ResponseDoc): Record<string, unknown> => ({
  description: doc.description,
  ...(doc.headers
    ? {
        headers: Object.fromEntries(
          Object.entries(doc.headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }]),
        ),
      }
    : {}),
  ...(doc.schema ? { content: { [doc.contentType ?? 'application/json']: { schema: schemaRef(doc.schema, 'output') } } } : {}),
});

const problemResponses = (route: Route, doc: RouteDoc): Record<string, unknown> => {
  const codes = new Set<ProblemCode>([...doc.problems, ...(doc.body ? bodyProblems : []), ...everyRouteProblems]);
  if (route.auth === 'jwt') codes.add('unauthorized');
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of Object.keys(problemCatalogue) as ProblemCode[]) {
    if (!codes.has(code)) continue;
    const status = problemCatalogue[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, unknown> = {};
  for (const [status, statusCodes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const content: Record<string, unknown> = {
      'application/problem+json': {
        schema: { allOf: [{ $ref: '#/components/schemas/Problem' }], properties: { code: { enum: statusCodes } } },
      },
    };
    let description = `Problem: ${statusCodes.map((code) => `\`${code}\``).join(', ')}`;
    if (status === 401) {
      // The JWT authorizer answers before any function runs, in API Gateway's own format.
      content['application/json'] = { schema: { $ref: '#/components/schemas/GatewayMessage' } };
      description = `A missing, expired or invalid bearer token (API Gateway answers \`{"message":"Unauthorized"}\`), or ${description}`;
    }
    responses[status] = { description, content };
  }
  return responses;
};

const operationOf = (route: Route, doc: RouteDoc, variant?: NonNullable<RouteDoc['variants']>[number]): Operation => {
  const path = variant?.path ?? route.path;
  const parameters = parametersOf(path, variant ? variant.query : doc.query);
  return {
    operationId: variant?.operationId ?? doc.operationId,
    summary: variant?.summary ?? doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    tags: [doc.tag],
    ...(parameters.length ? { parameters } : {}),
    ...(doc.body
      ? {
          requestBody: {
            required: doc.bodyOptional === false,
            content: { [doc.bodyType ?? 'application/json']: { schema: jsonSchemaOf(doc.body, 'input') } },
          },
        }
      : {}),
    responses: {
      ...Object.fromEntries(Object.entries(doc.responses).map(([status, response]) => [status, successResponse(response)])),
      ...problemResponses(route, doc),
    },
    ...(route.auth === 'none' ? { security: [] } : {}),
  };
};

export interface OpenApiOptions {
  /** The API's origin, e.g. `https://abc.execute-api.eu-west-2.amazonaws.com`; left out when unknown. */
  serverUrl?: string;
}

/** Builds the document; throws when a route of the table has no entry in route-docs.ts. */
export const openApiDocument = (options: OpenApiOptions = {}): OpenApiDocument => {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const key = routeKey(route);
    const doc = routeDocs[key];
    if (!doc) throw new Error(`route ${key} has no documentation: add an entry for it to shared/openapi/route-docs.ts`);
    for (const variant of doc.variants ?? [undefined]) {
      const path = variant?.path ?? route.path;
      if (/\{\w+\+\}/.test(path)) throw new Error(`route ${key} is greedy: document its concrete paths as variants`);
      paths[path] = { ...paths[path], [route.method.toLowerCase()]: operationOf(route, doc, variant) };
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'truelayer-connections',
      version: '1.0.0',
      description:
        "Connect users' bank accounts through TrueLayer's Data API v1 and read their data. Every route but /callback and /openapi.json takes the end user's JWT as a bearer token; a connection is visible only to the user who created it. Errors are RFC 9457 problem+json with a stable `code`.",
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    tags: [
      { name: 'connections', description: 'Create, list, read, extend and revoke connections' },
      { name: 'data', description: "TrueLayer's Data API v1, read through a connection" },
      { name: 'callback', description: 'Where the bank dialog sends the browser back (public)' },
      { name: 'meta', description: 'About the API itself (public)' },
    ],
    security: [{ bearerJwt: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerJwt: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: "The end user's access token; its `sub` is the user id",
        },
      },
      schemas: Object.fromEntries([...namedSchemas].map(([schema, name]) => [name, jsonSchemaOf(schema, 'output')])),
    },
  };
};

/** Where `npm run openapi` writes the document the function serves. */
export const openApiDocumentFile = new URL('./openapi.json', import.meta.url);

/** The file's text: two-space JSON and a final newline, so a regenerated file diffs cleanly. */
export const renderOpenApiDocument = (document: OpenApiDocument): string => `${JSON.stringify(document, null, 2)}\n`;
