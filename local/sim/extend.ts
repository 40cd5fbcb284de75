/**
 * `POST /data/v1/connections/extend` (the refresh token in the body names the connection): a new 90-day consent on the same connection,
 * straight away for `john`/`eternal`, or after the user signs in again through `user_input_link`.
 * The refresh token names the connection, so this works after the consent has lapsed too.
 */
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { SimContext } from './context';
import type { ExtendProblem } from './errors';
import { extendProblem } from './errors';
import type { SimRequest } from './http';
import { parseJsonBody, sendJson } from './http';
import { uuid } from './random';
import { issueTokens } from './token-endpoint';

const extendSchema = z.object({
  user_has_reconfirmed_consent: z.boolean(),
  client_id: z.string().min(1),
  client_secret: z.string().min(1),
  user: z
    .object({
      id: z.string().optional(),
      name: z.string().min(1),
      email: z.email().optional(),
      phone: z
        .string()
        .regex(/^\+?[0-9 ()-]{6,20}$/, 'must be a phone number')
        .optional(),
    })
    .refine((user) => user.email !== undefined || user.phone !== undefined, { message: 'Give the user an email or a phone.' }),
  refresh_token: z.string().min(1),
  redirect_uri: z.url(),
  state: z.string().optional(),
  code_challenge: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/, 'must be an S256 challenge: base64url of a SHA-256 hash')
    .optional(),
  code_challenge_method: z.enum(['S256']).optional(),
  response_mode: z.enum(['form_post']).optional(),
});

/** TrueLayer's validation errors name fields the .NET way: `ClientId`, `User.Name`. */
const fieldName = (path: readonly PropertyKey[]): string =>
  path.length === 0
    ? '$'
    : path
        .map((part) =>
          String(part)
            .split('_')
            .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
            .join(''),
        )
        .join('.');

const valueAt = (body: unknown, path: readonly PropertyKey[]): unknown => {
  let value: unknown = body;
  for (const part of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
};

const send = (request: SimRequest, res: ServerResponse, status: number, body: unknown, problem: boolean): void => {
  sendJson(request.raw, res, status, body, {
    headers: { 'cache-control': 'no-store' },
    ...(problem ? { contentType: 'application/problem+json; charset=utf-8' } : {}),
  });
};

export const handleExtend = async (ctx: SimContext, request: SimRequest, res: ServerResponse): Promise<void> => {
  const traceId = uuid();
  const problem = (value: ExtendProblem): void => send(request, res, value.status, value, true);
  const validation = (errors: Record<string, string[]>): void =>
    problem(extendProblem(400, 'One or more validation errors occurred.', traceId, { errors }));

  const parsed = parseJsonBody(request);
  if (!parsed.ok) return validation({ $: [`The request body could not be read: ${parsed.reason}.`] });
  const checked = extendSchema.safeParse(parsed.value);
  if (!checked.success) {
    const errors: Record<string, string[]> = {};
    for (const issue of checked.error.issues) {
      const field = fieldName(issue.path);
      const message =
        valueAt(parsed.value, issue.path) === undefined
          ? `The ${field} field is required.`
          : `The ${field} field is invalid: ${issue.message}`;
      errors[field] ??= [];
      errors[field].push(message);
    }
    return validation(errors);
  }
  const body = checked.data;
  if (!body.user_has_reconfirmed_consent) {
    return validation({
      UserHasReconfirmedConsent: [
        'Reconfirming consent in the TrueLayer dialog (false) is not supported; reconfirm in your app and send true.',
      ],
    });
  }
  const client = ctx.store.authenticateClient(body.client_id, body.client_secret);
  if (client === undefined)
    return problem(extendProblem(401, 'Unauthorized', traceId, { detail: 'Client credentials missing or invalid.' }));
  if (!client.redirect_uris.includes(body.redirect_uri))
    return validation({ RedirectUri: ['The redirect_uri is not registered for this client.'] });

  const record = ctx.store.refreshRecord(body.refresh_token);
  if (record === undefined || record.clientId !== client.client_id)
    return problem(extendProblem(401, 'Unauthorized', traceId, { detail: 'Refresh token missing or invalid.' }));
  const credential = ctx.store.credentials.get(record.credentialsId);
  if (credential === undefined || credential.revokedAt !== undefined) {
    return problem(extendProblem(422, 'No way to extend this connection', traceId, { detail: 'This connection cannot be extended' }));
  }

  if (credential.eternal) {
    ctx.store.renewConsent(credential);
    ctx.store.retireRefreshTokensOf(credential.credentialsId);
    const tokens = await issueTokens(ctx, credential);
    return send(
      request,
      res,
      200,
      {
        action_needed: 'no_action_needed',
        access_token: tokens.access_token,
        expires_in: tokens.expires_in,
        refresh_token: tokens.refresh_token,
        token_type: tokens.token_type,
      },
      false,
    );
  }
  const session = ctx.store.createSession({
    clientId: client.client_id,
    redirectUri: body.redirect_uri,
    scopes: credential.scopes,
    state: body.state,
    responseMode: body.response_mode ?? 'query',
    renewalOf: credential.credentialsId,
    expectedUsername: credential.username,
    ...(body.code_challenge === undefined ? {} : { codeChallenge: body.code_challenge }),
  });
  send(
    request,
    res,
    200,
    { action_needed: 'authentication_needed', user_input_link: `${ctx.baseUrl()}/?session_id=${encodeURIComponent(session.id)}` },
    false,
  );
};
