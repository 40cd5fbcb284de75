/**
 * What `sam local invoke -e events/<file>.json` does, minus Docker: each handler module is imported
 * and called in-process with each sample event, against the local stack (embedded DynamoDB and the
 * TrueLayer simulator). Only what must be live is substituted: the user, the connection id, the
 * code and state the bank dialog hands back. The tests run in order: one journey.
 */
import { readFileSync } from 'node:fs';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { APIGatewayProxyResultV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionName } from '../../functions/routes';
import { functionSpecs } from '../../functions/routes';
import { createLambdaContext, newLogStreamName } from '../../local/api-gateway/lambda-context';
import { TestApi } from '../support/flow';
import type { SampleEvent } from './helpers';
import { asUser, forConnection, loadEvent, withFormBody, withJsonBody, withQuery } from './helpers';

type Handler = (event: SampleEvent, context: Context) => Promise<APIGatewayProxyResultV2>;

const user = 'events-user-1';
const returnUrl = 'https://app.example.com/bank/connected';
/** The callback URL the deployed stack would have: the events' API domain. */
const deployedCallbackUrl = `https://${loadEvent('callback-query').requestContext.domainName}/callback`;

let api: TestApi;
const handlers = {} as Record<FunctionName, Handler>;

beforeAll(async () => {
  api = await TestApi.start({
    // As the deployed stack sets them: its callback URL, and the app's return URLs.
    env: { CALLBACK_URL: deployedCallbackUrl, ALLOWED_RETURN_URLS: 'https://app.example.com/bank/' },
  });
  // What an operator does in TrueLayer Console: register the deployed callback URL.
  api.stack.simulator.addRedirectUris('sandbox-local', [deployedCallbackUrl]);
  for (const [name, spec] of Object.entries(functionSpecs) as [FunctionName, (typeof functionSpecs)[FunctionName]][]) {
    const module = (await import(`../../${spec.entry}`)) as { handler: Handler };
    handlers[name] = module.handler;
  }
});

afterAll(async () => {
  await api?.close();
});

const invoke = async (name: FunctionName, event: SampleEvent): Promise<APIGatewayProxyStructuredResultV2 & { json?: any }> => {
  const spec = functionSpecs[name];
  const startedAt = Date.now();
  const context = createLambdaContext({
    functionName: `TrueLayerConnections-${spec.name}`,
    timeoutSeconds: spec.timeoutSeconds,
    memoryMb: spec.memoryMb,
    region: 'eu-west-2',
    accountId: event.requestContext.accountId,
    startedAt,
    logStreamName: newLogStreamName(startedAt),
  });
  const result = (await handlers[name](event, context)) as APIGatewayProxyStructuredResultV2;
  const body = decodeBody(result);
  let json: unknown;
  try {
    json = typeof body === 'string' && body ? JSON.parse(body) : undefined;
  } catch {
    json = undefined;
  }
  return { ...result, json };
};

/** The body as the client reads it: base64 undone, then the content-encoding the events' accept-encoding allowed. */
const decodeBody = (result: APIGatewayProxyStructuredResultV2): string | undefined => {
  if (typeof result.body !== 'string' || !result.body) return result.body;
  const bytes = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body);
  const encoding = header(result, 'content-encoding');
  const decoded =
    encoding === 'gzip'
      ? gunzipSync(bytes)
      : encoding === 'br'
        ? brotliDecompressSync(bytes)
        : encoding === 'deflate'
          ? inflateSync(bytes)
          : bytes;
  return decoded.toString('utf8');
};

const header = (result: APIGatewayProxyStructuredResultV2, name: string): string | undefined => {
  const value = result.headers?.[name] ?? result.headers?.[name.toLowerCase()];
  return value === undefined ? undefined : String(value);
};

/** Creates a connection with the create event (response mode as given) and takes it through the bank dialog. */
let logins = 0;
const createAndAuthorize = async (responseMode: 'query' | 'form_post') => {
  const template = loadEvent('auth-link-create');
  const body = { ...(JSON.parse(template.body!) as Record<string, unknown>), response_mode: responseMode };
  const created = await invoke('authLink', withJsonBody(asUser(template, user), body));
  expect(created.statusCode, JSON.stringify(created.json)).toBe(201);
  // A different bank login each time: the same accounts twice would supersede the older connection.
  logins += 1;
  const step = await api.authorize(created.json.auth_link as string, { username: `john${logins}`, password: `doe${logins}` });
  return { connectionId: created.json.connection_id as string, step };
};

const journey: { connectionId?: string; completionCode?: string; formPostConnectionId?: string; accountId?: string } = {};

describe.sequential('each handler with each event, against the local stack', () => {
  it('auth-link-create.json: 201 with an auth link to the bank dialog for the deployed callback URL', async () => {
    const created = await invoke('authLink', asUser(loadEvent('auth-link-create'), user));
    expect(created.statusCode).toBe(201);
    expect(created.json).toMatchObject({ status: 'authorization_required' });
    const authLink = new URL(created.json.auth_link as string);
    expect(authLink.origin).toBe(api.stack.simUrl);
    expect(authLink.searchParams.get('redirect_uri')).toBe(deployedCallbackUrl);
    expect(header(created, 'location')).toBe(`/connections/${created.json.connection_id}`);
  });

  it('callback-query.json: with the code and state the bank sent, 302 to the return URL with the connection authorized and a completion code', async () => {
    const { connectionId, step } = await createAndAuthorize('query');
    const sentTo = new URL(step.location!);
    expect(`${sentTo.origin}${sentTo.pathname}`).toBe(deployedCallbackUrl);
    const event = withQuery(loadEvent('callback-query'), {
      code: sentTo.searchParams.get('code')!,
      state: sentTo.searchParams.get('state')!,
    });
    const result = await invoke('callback', event);
    expect(result.statusCode).toBe(302);
    const location = new URL(header(result, 'location')!);
    expect(`${location.origin}${location.pathname}`).toBe(returnUrl);
    expect(location.searchParams.get('connection_id')).toBe(connectionId);
    expect(location.searchParams.get('status')).toBe('authorized');
    journey.connectionId = connectionId;
    journey.completionCode = location.searchParams.get('completion_code')!;
  });

  it('connections-complete.json: with the completion code the return URL received, 200 with the connection active', async () => {
    const event = withJsonBody(forConnection(asUser(loadEvent('connections-complete'), user), journey.connectionId!), {
      completion_code: journey.completionCode,
    });
    const result = await invoke('connections', event);
    expect(result.statusCode, JSON.stringify(result.json)).toBe(200);
    expect(result.json).toMatchObject({ connection_id: journey.connectionId, status: 'active' });
  });

  it('callback-query.json replayed: the state is spent, so it is refused without a 5xx', async () => {
    const { step } = await createAndAuthorize('query');
    const sentTo = new URL(step.location!);
    const event = withQuery(loadEvent('callback-query'), {
      code: sentTo.searchParams.get('code')!,
      state: sentTo.searchParams.get('state')!,
    });
    expect((await invoke('callback', event)).statusCode).toBe(302);
    const replay = await invoke('callback', event);
    expect(replay.statusCode).toBeGreaterThanOrEqual(400);
    expect(replay.statusCode).toBeLessThan(500);
  });

  it('callback-form-post.json: with the fields the bank posted, 302 to the return URL with the connection authorized', async () => {
    const { connectionId, step } = await createAndAuthorize('form_post');
    expect(step.form?.action).toBe(deployedCallbackUrl);
    const result = await invoke('callback', withFormBody(loadEvent('callback-form-post'), step.form!.fields));
    expect(result.statusCode).toBe(302);
    const location = new URL(header(result, 'location')!);
    expect(location.searchParams.get('connection_id')).toBe(connectionId);
    expect(location.searchParams.get('status')).toBe('authorized');
    journey.formPostConnectionId = connectionId;
  });

  it("data-accounts.json: 200 with TrueLayer's accounts body", async () => {
    const result = await invoke('data', forConnection(asUser(loadEvent('data-accounts'), user), journey.connectionId!, 'accounts'));
    expect(result.statusCode, JSON.stringify(result.json)).toBe(200);
    expect(result.json.status).toBe('Succeeded');
    expect(result.json.results.length).toBeGreaterThan(0);
    journey.accountId = result.json.results[0].account_id as string;
  });

  it('data-transactions.json: 200 with the transactions of an account in the date range', async () => {
    const template = loadEvent('data-transactions');
    const event = forConnection(asUser(template, user), journey.connectionId!, `accounts/${journey.accountId}/transactions`);
    const result = await invoke('data', withQuery(event, template.queryStringParameters as Record<string, string>));
    expect(result.statusCode, JSON.stringify(result.json)).toBe(200);
    expect(Array.isArray(result.json.results)).toBe(true);
  });

  it('providers-list.json: 200 with the banks of the country, the mock bank among them', async () => {
    const result = await invoke('providers', asUser(loadEvent('providers-list'), user));
    expect(result.statusCode, JSON.stringify(result.json)).toBe(200);
    expect(result.json.providers.map((provider: { provider_id: string }) => provider.provider_id)).toContain('mock');
  });

  it("connections-list.json: 200 listing the user's connections", async () => {
    const result = await invoke('connections', asUser(loadEvent('connections-list'), user));
    expect(result.statusCode).toBe(200);
    const ids = (result.json.connections as { connection_id: string }[]).map((connection) => connection.connection_id);
    expect(ids).toEqual(expect.arrayContaining([journey.connectionId, journey.formPostConnectionId]));
  });

  it('connections-get.json: 200 with the connection active', async () => {
    const result = await invoke('connections', forConnection(asUser(loadEvent('connections-get'), user), journey.connectionId!));
    expect(result.statusCode).toBe(200);
    expect(result.json).toMatchObject({ connection_id: journey.connectionId, status: 'active' });
  });

  it('connections-get.json for another user: 404, as for an unknown id', async () => {
    const result = await invoke('connections', forConnection(asUser(loadEvent('connections-get'), 'events-user-2'), journey.connectionId!));
    expect(result.statusCode).toBe(404);
  });

  it('connections-extend.json: 200, extended or asking the user to authenticate', async () => {
    const result = await invoke('connections', forConnection(asUser(loadEvent('connections-extend'), user), journey.connectionId!));
    expect(result.statusCode, JSON.stringify(result.json)).toBe(200);
    if (result.json.action_needed) {
      expect(result.json).toMatchObject({ action_needed: 'authentication_needed' });
      expect(typeof result.json.user_input_link).toBe('string');
    } else {
      expect(result.json.status).toBe('active');
      expect(Date.parse(result.json.consent_expires_at as string)).toBeGreaterThan(api.stack.clock.now());
    }
  });

  it('connections-delete.json: 204, and the connection no longer reads active', async () => {
    const result = await invoke('connections', forConnection(asUser(loadEvent('connections-delete'), user), journey.formPostConnectionId!));
    expect(result.statusCode).toBe(204);
    const after = await invoke('connections', forConnection(asUser(loadEvent('connections-get'), user), journey.formPostConnectionId!));
    expect(after.statusCode === 404 || after.json?.status === 'inactive').toBe(true);
  });

  it("openapi-document.json: 200 with the OpenAPI document, its server the events' API domain", async () => {
    const event = loadEvent('openapi-document');
    const result = await invoke('openapi', event);
    expect(result.statusCode).toBe(200);
    expect(header(result, 'content-type')).toMatch(/^application\/json/);
    expect(result.json).toMatchObject({ openapi: '3.1.0', servers: [{ url: `https://${event.requestContext.domainName}` }] });
    expect(Object.keys(result.json.paths)).toContain('/connections');
  });

  it('the events as shipped (sample ids, code and state): clean 4xx answers, never a 5xx', async () => {
    const cases: [FunctionName, string][] = [
      ['callback', 'callback-query'],
      ['callback', 'callback-form-post'],
      ['data', 'data-accounts'],
      ['connections', 'connections-get'],
      ['connections', 'connections-extend'],
      ['connections', 'connections-complete'],
      ['connections', 'connections-delete'],
    ];
    for (const [name, file] of cases) {
      const result = await invoke(name, loadEvent(file));
      expect(result.statusCode, file).toBeGreaterThanOrEqual(400);
      expect(result.statusCode, file).toBeLessThan(500);
    }
  });

  it('lifecycle-scheduled.json: the scheduled run reports what it did, with no failures', async () => {
    const event = JSON.parse(readFileSync(new URL('../../events/lifecycle-scheduled.json', import.meta.url), 'utf8')) as unknown;
    const result = (await handlers.lifecycle(
      event as never,
      createLambdaContext({
        functionName: 'TrueLayerConnections-lifecycle',
        timeoutSeconds: 300,
        memoryMb: 512,
        region: 'eu-west-2',
        accountId: '123456789012',
        startedAt: Date.now(),
        logStreamName: newLogStreamName(Date.now()),
      }),
    )) as unknown as { failures: unknown[]; at: string };
    expect(result.failures).toEqual([]);
    expect(Date.parse(result.at)).not.toBeNaN();
  });
});
