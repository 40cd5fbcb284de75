/**
 * Cursors for GET /connections: DynamoDB's LastEvaluatedKey sealed with the token cipher (AES-GCM)
 * under the owner, so a cursor is opaque, cannot be edited, and means nothing to another user.
 */
import { ServiceError } from '../errors';
import type { PageKey } from './repository';
import type { ConnectionServices } from './services';

/** Stands in for a connection id in the cipher's row binding: no connection has this id. */
const CURSOR_ROW = 'list-cursor';

export const sealCursor = (services: Pick<ConnectionServices, 'cipher'>, owner: string, key: PageKey): Promise<string> =>
  services.cipher.encrypt(JSON.stringify({ after: key }), { connectionId: CURSOR_ROW, owner });

const invalidCursor = () =>
  new ServiceError({
    code: 'invalid_cursor',
    detail:
      'This cursor was not issued to you by GET /connections (or was changed): pass next_cursor exactly as received, or leave it out to start over.',
  });

export const openCursor = async (services: Pick<ConnectionServices, 'cipher'>, owner: string, cursor: string): Promise<PageKey> => {
  if (cursor.length > 2048 || !/^[A-Za-z0-9._-]+$/.test(cursor)) throw invalidCursor();
  let opened: unknown;
  try {
    opened = JSON.parse(await services.cipher.decrypt(cursor, { connectionId: CURSOR_ROW, owner }));
  } catch {
    throw invalidCursor();
  }
  const after = (opened as { after?: unknown })?.after;
  if (typeof after !== 'object' || after === null || Array.isArray(after)) throw invalidCursor();
  return after as PageKey;
};
