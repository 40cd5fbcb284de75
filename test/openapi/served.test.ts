/**
 * The OpenAPI document as served, and the API keeping its promises: `GET /openapi.json` answers
 * without a token through the local stack; a body the documented schema rejects is refused with 400
 * validation_error and changes nothing; a body it accepts gets past validation; answers have the
 * documented shapes.
 */
import { compileErrors, validate } from '@readme/openapi-parser';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnectionBody } from '../../shared/connections/create-connection';
import { extendBody } from '../../shared/connections/manage-connections';
import { routeDocs } from '../../shared/openapi/route-docs';
import {
  connectionListSchema,
  connectionSchema,
  createdConnectionSchema,
  dataResultsSchema,
  problemSchema,
} from '../../shared/openapi/schemas';
import type * as z from '../../shared/zod';
import { type ApiResponse, TestApi } from '../support/flow';

let api: TestApi;

beforeAll(async () => {
  api = await TestApi.start();
});

afterAll(async () => {
  await api?.close();
});

/** The documented shape holds: a failure says which member is off. */
const expectShape = (schema: z.ZodMiniType, body: unknown): void => {
  const parsed = schema.safeParse(body);
  expect(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues.slice(0, 3))).toBe(true);
};

const expectValidationProblem = (response: ApiResponse): void => {
  expect(response.status, response.text).toBe(400);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  expectShape(problemSchema, response.body);
  expect(response.body.code).toBe('validation_error');
};

describe('GET /openapi.json', () => {
  it('answers 200 application/json without a bearer token, naming the API it came from as the server', async () => {
    const response = await api.call('GET', '/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json\b/);
    expect(response.body.openapi).toBe('3.1.0');
    expect(response.body.servers).toEqual([{ url: api.stack.apiUrl }]);
    const result = await validate(response.body);
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
  });

  it('documents the routes the local API serves', async () => {
    const { body } = await api.call('GET', '/openapi.json');
    expect(Object.keys(body.paths)).toEqual(expect.arrayContaining(['/connections', '/connections/{id}', '/callback', '/openapi.json']));
  });
});

describe('POST /connections keeps to its documented body', () => {
  const sub = 'openapi-create-user';
  const fields = fc.constantFrom('return_url', 'scopes', 'providers', 'provider_id', 'response_mode');
  const anyValue = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.string({ maxLength: 80 }),
    fc.array(fc.string({ maxLength: 70 }), { maxLength: 20 }),
  );
  const rejected = fc
    .oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 1 }), { minKeys: 1, maxKeys: 3 }),
      fc.dictionary(fields, anyValue, { minKeys: 1, maxKeys: 5 }),
    )
    .filter((body) => !createConnectionBody.safeParse(body).success);

  it('uses the documented schema: the core validates with the same object', () => {
    expect(routeDocs['POST /connections']?.body).toBe(createConnectionBody);
  });

  it('refuses every body the documented schema rejects with 400 validation_error, and stores nothing', async () => {
    await fc.assert(
      fc.asyncProperty(rejected, async (body) => {
        expectValidationProblem(await api.call('POST', '/connections', { sub, body }));
      }),
      { numRuns: 60 },
    );
    const list = await api.call('GET', '/connections', { sub });
    expect(list.body.connections).toEqual([]);
  });

  it('answers a body the schema accepts with the documented 201 shape', async () => {
    const response = await api.call('POST', '/connections', {
      sub,
      body: { scopes: ['info', 'accounts', 'balance', 'offline_access'], response_mode: 'form_post' },
    });
    expect(response.status, response.text).toBe(201);
    expectShape(createdConnectionSchema, response.body);
  });
});

describe('POST /connections/{id}/extend keeps to its documented body', () => {
  const unknownId = '0b6d4f2e-3a1c-4e8b-9f7d-2c5a8e1b4d6f';
  const user = fc.record(
    {
      id: fc.string({ maxLength: 130 }),
      name: fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.constant('  '), fc.integer()),
      email: fc.oneof(fc.emailAddress(), fc.string({ maxLength: 20 })),
      phone: fc.oneof(fc.constantFrom('+447700900123', '07700 900123'), fc.string({ maxLength: 24 })),
    },
    { requiredKeys: [] },
  );
  // Mostly well-formed bodies with one thing or another wrong, plus anything at all.
  const wellFormed = fc.record({
    user_has_reconfirmed_consent: fc.constant(true),
    user: fc.record({
      name: fc.string({ minLength: 1, maxLength: 40 }),
      email: fc.oneof(fc.constantFrom('jane@example.com', 'j.doe+bank@mail.example.co.uk'), fc.emailAddress()),
    }),
  });
  const body = fc.oneof(
    wellFormed,
    fc.record({ user_has_reconfirmed_consent: fc.oneof(fc.constant(true), fc.jsonValue({ maxDepth: 0 })), user }, { requiredKeys: [] }),
    fc.jsonValue({ maxDepth: 2 }),
  );

  it('answers 400 validation_error exactly when the documented schema rejects the body (else the unknown id is 404)', async () => {
    const sub = 'openapi-extend-user';
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(body, async (candidate) => {
        const response = await api.call('POST', `/connections/${unknownId}/extend`, { sub, body: candidate });
        if (extendBody.safeParse(candidate).success) {
          accepted += 1;
          expect(response.status, response.text).toBe(404);
          expect(response.body.code).toBe('not_found');
        } else {
          expectValidationProblem(response);
        }
      }),
      // One body the schema surely accepts, so both sides of the property always run.
      { numRuns: 80, examples: [[{ user_has_reconfirmed_consent: true, user: { name: 'Jane Doe', email: 'jane@example.com' } }]] },
    );
    // Both sides of the property were exercised.
    expect(accepted).toBeGreaterThan(0);
  });
});

describe('GET /callback keeps to its documented query', () => {
  const schema = routeDocs['GET /callback']?.query;
  const params = fc.record(
    {
      state: fc.string({ maxLength: 600 }),
      code: fc.string({ maxLength: 4200 }),
      error: fc.string({ maxLength: 150 }),
      error_description: fc.string({ maxLength: 1100 }),
    },
    { requiredKeys: [] },
  );

  it('answers 400 validation_error exactly when the documented schema rejects the parameters (else the unknown state is invalid_state)', async () => {
    await fc.assert(
      fc.asyncProperty(params, async (query) => {
        const response = await api.call('GET', `/callback?${new URLSearchParams(query)}`, { headers: { accept: 'application/json' } });
        if (schema?.safeParse(query).success) {
          expect(response.status, response.text).toBe(400);
          expect(response.body.code).toBe('invalid_state');
        } else {
          expectValidationProblem(response);
        }
      }),
      { numRuns: 60, examples: [[{ state: 'x'.repeat(513), code: 'c' }], [{ state: 'abc', code: 'c' }]] },
    );
  });
});

describe('answers have their documented shapes', () => {
  it('a connected connection, the list and a data read', async () => {
    const sub = 'openapi-shapes-user';
    const id = await api.connect(sub);
    const one = await api.call('GET', `/connections/${id}`, { sub });
    expect(one.status).toBe(200);
    expectShape(connectionSchema, one.body);
    const list = await api.call('GET', '/connections', { sub });
    expect(list.status).toBe(200);
    expectShape(connectionListSchema, list.body);
    const accounts = await api.call('GET', `/connections/${id}/accounts`, { sub });
    expect(accounts.status, accounts.text).toBe(200);
    expectShape(dataResultsSchema, accounts.body);
    const missing = await api.call('GET', '/connections/0b6d4f2e-3a1c-4e8b-9f7d-2c5a8e1b4d6f', { sub });
    expect(missing.status).toBe(404);
    expectShape(problemSchema, missing.body);
  });
});
