/** The events apps receive about their connections: one shape on the bus, the webhook and locally. */
import { isoAt } from '../clock';
import type { ConnectionRecord } from '../connections/connection';
import type { EmittedEvent, EventType } from '../connections/state-machine';

export type { EventType };

/** Never carries a token, a code or a secret: only what an app needs to act. */
export interface ConnectionEvent {
  /** Stable across redeliveries: consumers drop repeats by it. */
  event_id: string;
  type: EventType;
  occurred_at: string;
  connection_id: string;
  owner: string;
  data: EmittedEvent['data'];
}

export const eventSource = 'truelayer-connections';

export const buildEvents = (
  record: Pick<ConnectionRecord, 'connectionId' | 'owner'>,
  emitted: readonly EmittedEvent[],
  now: number,
  newId: () => string,
): ConnectionEvent[] =>
  emitted.map((event) => ({
    event_id: newId(),
    type: event.type,
    occurred_at: isoAt(now),
    connection_id: record.connectionId,
    owner: record.owner,
    data: event.data,
  }));
