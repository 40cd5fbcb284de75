/** Loads a connection for its owner: another user's id reads exactly like an unknown one. */
import { NotFoundError } from '../errors';
import type { ConnectionRecord } from './connection';
import type { Caller, ConnectionServices } from './services';

const connectionIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const loadOwned = async (services: Pick<ConnectionServices, 'repository'>, caller: Caller, connectionId: string): Promise<ConnectionRecord> => {
  // Ids we never issue are not worth a read.
  if (!connectionIdPattern.test(connectionId)) throw new NotFoundError();
  const record = await services.repository.get(connectionId);
  if (!record || record.owner !== caller.owner) throw new NotFoundError();
  return record;
};
