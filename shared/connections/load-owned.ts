/** Loads a connection for its owner: another user's id reads exactly like an unknown one. */
import { NotFoundError } from '../errors';
import type { ConnectionRecord } from './connection';
import type { Caller, ConnectionServices } from './services';

const connectionIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Whether a value has the shape of the ids we issue (UUIDs); anything else is not worth a read. */
export const isConnectionId = (value: string): boolean => connectionIdPattern.test(value);

export const loadOwned = async (
  services: Pick<ConnectionServices, 'repository'>,
  caller: Caller,
  connectionId: string,
): Promise<ConnectionRecord> => {
  // Ids we never issue are not worth a read.
  if (!isConnectionId(connectionId)) throw new NotFoundError();
  const record = await services.repository.get(connectionId);
  if (!record || record.owner !== caller.owner) throw new NotFoundError();
  return record;
};
