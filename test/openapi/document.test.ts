/**
 * The OpenAPI document: valid OpenAPI 3.1, one operation for every route of the route table and
 * nothing else, request schemas generated from the very zod schemas the core validates with, and
 * errors as problem+json whose `code` is one of the catalogue's.
 */
import { readFile } from 'node:fs/promises';
import { compileErrors, validate } from '@readme/openapi-parser';
import { describe, expect, it } from 'vitest';
import { routeKey, routes } from '../../functions/routes';
import { createRouteMatcher } from '../../local/api-gateway/route-matcher';
import { createConnectionBody } from '../../shared/connections/create-connection';
import { extendBody } from '../../shared/connections/manage-connections';
import { problemCatalogue } from '../../shared/errors';
import { type OpenApiDocument, openApiDocument, openApiDocumentFile, renderOpenApiDocument } from '../../shared/openapi/document';
import { routeDocs } from '../../shared/openapi/route-docs';
import * as z from '../../shared/zod';

const document = openApiDocument({ serverUrl: 'https://api.example.com' });
const matchRoute = createRouteMatcher(routes);

interface DocumentedOperation {
  method: string;
  path: string;
  operation: Record<string, any>;
}

const operations = (doc: OpenApiDocument): DocumentedOperation[] =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })),
  );

/** A documented path with each `{name}` filled with a value its schema accepts, as a client would send it. */
const concrete = (path: string): string => path.replace('{id}', '7c9e6679-7425-40de-944b-e07fc1f90ae7').replace('{account_id}', 'acc-0001');

/** The route key an API request to a documented operation would reach, on the local API or in AWS alike. */
const reachedRoute = ({ method, path }: DocumentedOperation): string | undefined => matchRoute(method, concrete(path))?.routeKey;

const withoutDialect = (schema: object): object => {
  const { $schema: _dialect, ...rest } = schema as Record<string, unknown>;
  return rest;
};

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1', async () => {
    expect(document.openapi).toBe('3.1.0');
    // The parser dereferences in place: give it a copy.
    const result = await validate(structuredClone(document) as never);
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
  });

  it('documents every route of the route table', () => {
    const documented = new Set(operations(document).map(reachedRoute));
    expect(routes.map(routeKey).filter((key) => !documented.has(key))).toEqual([]);
  });

  it('documents nothing the route table does not serve', () => {
    const stray = operations(document).filter((operation) => reachedRoute(operation) === undefined);
    expect(stray.map(({ method, path }) => `${method} ${path}`)).toEqual([]);
  });

  it('has a docs entry for each route and no entry for a route that does not exist', () => {
    expect(Object.keys(routeDocs).sort()).toEqual(routes.map(routeKey).sort());
  });

  it('refuses to build while a route has no docs entry, naming the route and where to add it', () => {
    const key = 'GET /connections/{id}';
    const entry = routeDocs[key];
    delete routeDocs[key];
    try {
      expect(() => openApiDocument()).toThrow(
        /GET \/connections\/\{id\} has no documentation: add an entry for it to shared\/openapi\/route-docs\.ts/,
      );
    } finally {
      if (entry) routeDocs[key] = entry;
    }
  });

  it('lets only /callback and /openapi.json through without a bearer JWT', () => {
    expect(document.security).toEqual([{ bearerJwt: [] }]);
    expect(document.components.securitySchemes).toEqual({
      bearerJwt: expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }),
    });
    const open = operations(document).filter(({ operation }) => Array.isArray(operation.security) && operation.security.length === 0);
    expect(open.map(({ method, path }) => `${method} ${path}`).sort()).toEqual(['GET /callback', 'GET /openapi.json', 'POST /callback']);
    expect(
      routes
        .filter((route) => route.auth === 'none')
        .map(routeKey)
        .sort(),
    ).toEqual(['GET /callback', 'GET /openapi.json', 'POST /callback']);
  });

  it('takes the request bodies from the schemas the core validates with', () => {
    expect(routeDocs['POST /connections']?.body).toBe(createConnectionBody);
    expect(routeDocs['POST /connections/{id}/extend']?.body).toBe(extendBody);
    const operation = (method: string, path: string): Record<string, any> | undefined => document.paths[path]?.[method];
    const body = (method: string, path: string) => operation(method, path)?.requestBody?.content?.['application/json']?.schema;
    expect(body('post', '/connections')).toEqual(withoutDialect(z.toJSONSchema(createConnectionBody, { io: 'input' })));
    expect(body('post', '/connections/{id}/extend')).toEqual(withoutDialect(z.toJSONSchema(extendBody, { io: 'input' })));
    expect(operation('post', '/connections/{id}/extend')?.requestBody?.required).toBe(true);
  });

  it('describes errors as problem+json whose code is exactly the catalogue', () => {
    const problem = document.components.schemas?.Problem as Record<string, any>;
    expect(problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail', 'code']));
    expect(problem.properties.code.enum).toEqual(Object.keys(problemCatalogue));
    for (const { method, path, operation } of operations(document)) {
      for (const [status, response] of Object.entries(operation.responses as Record<string, any>)) {
        const content = response.content?.['application/problem+json'];
        if (Number(status) < 400) {
          expect(content, `${method} ${path} ${status}`).toBeUndefined();
          continue;
        }
        expect(content?.schema?.allOf, `${method} ${path} ${status}`).toEqual([{ $ref: '#/components/schemas/Problem' }]);
        // Each code listed under a status is one the catalogue gives that status.
        for (const code of content.schema.properties.code.enum as (keyof typeof problemCatalogue)[]) {
          expect(problemCatalogue[code]?.status, `${method} ${path}: ${code}`).toBe(Number(status));
        }
      }
    }
  });

  it('documents a 401 on every route behind the JWT authorizer and on no public one', () => {
    for (const item of operations(document)) {
      const route = routes.find((candidate) => routeKey(candidate) === reachedRoute(item));
      expect(Object.keys(item.operation.responses).includes('401'), `${item.method} ${item.path}`).toBe(route?.auth === 'jwt');
    }
  });

  it('documents each Data API path on its own, with from/to only on transaction paths and limit/cursor on the paged (settled) ones', () => {
    const data = operations(document).filter((item) => reachedRoute(item) === 'GET /connections/{id}/{proxy+}');
    expect(data).toHaveLength(14);
    for (const { path, operation } of data) {
      const query = ((operation.parameters ?? []) as { in: string; name: string }[]).filter((p) => p.in === 'query').map((p) => p.name);
      const expected = !path.includes('/transactions')
        ? []
        : path.endsWith('/pending')
          ? ['from', 'to']
          : ['from', 'to', 'limit', 'cursor'];
      expect(query, path).toEqual(expected);
    }
  });

  it('gives every path parameter a schema, required', () => {
    for (const { path, operation } of operations(document)) {
      const declared = ((operation.parameters ?? []) as { in: string; name: string; required: boolean }[]).filter((p) => p.in === 'path');
      expect(
        declared.map((p) => p.name),
        path,
      ).toEqual([...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]));
      for (const parameter of declared) expect(parameter.required).toBe(true);
    }
  });

  it('is the document the function serves: shared/openapi/openapi.json is what the schemas generate', async () => {
    const written = await readFile(openApiDocumentFile, 'utf8');
    expect(written, 'shared/openapi/openapi.json is out of date: run `npm run openapi` and commit it').toBe(
      renderOpenApiDocument(openApiDocument()),
    );
  });

  it('names the server only when told it', () => {
    expect(document.servers).toEqual([{ url: 'https://api.example.com' }]);
    expect(openApiDocument().servers).toBeUndefined();
  });
});
