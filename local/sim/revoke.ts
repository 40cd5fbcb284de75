/** `DELETE /api/delete` (200, no body, as TrueLayer answers): revokes the connection behind the bearer access token. */
import type { ServerResponse } from 'node:http';
import type { SimContext } from './context';
import { isSimError, resolveAccessToken } from './data-api';
import { dataErrors } from './errors';
import type { SimRequest } from './http';
import { sendEmpty, sendJson } from './http';

export const handleRevoke = async (ctx: SimContext, request: SimRequest, res: ServerResponse): Promise<void> => {
  const resolved = await resolveAccessToken(ctx, request);
  if (isSimError(resolved))
    return sendJson(request.raw, res, resolved.status, resolved.body, { headers: { 'www-authenticate': 'Bearer' } });
  const { credential, jti } = resolved;
  // Deleting a connection that is already revoked or lapsed is a no-op, not an error: the caller's
  // goal (no live connection) already holds. A superseded token cannot delete, as it cannot read.
  const settled = credential.revokedAt !== undefined || ctx.store.isConsentOver(credential);
  if (!settled && jti !== credential.accessJti) {
    const error = dataErrors.unauthorized('a newer access token has been issued for this connection');
    return sendJson(request.raw, res, error.status, error.body, { headers: { 'www-authenticate': 'Bearer' } });
  }
  credential.revokedAt ??= ctx.store.now();
  sendEmpty(res, 200, { 'x-credentials-id': credential.credentialsId });
};
