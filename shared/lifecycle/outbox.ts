/**
 * Publishes what a connection's outbox holds, in order, and removes each event only once it is
 * published: a crash between the state write and the publish loses nothing, and a repeat carries
 * the same event_id.
 */
import type { Clock } from '../clock';
import type { ConnectionRecord } from '../connections/connection';
import type { ConnectionRepository } from '../connections/repository';
import type { EventPublisher } from './publishers';

export interface OutboxOptions {
  repository: Pick<ConnectionRepository, 'get' | 'removePublished'>;
  publisher: EventPublisher;
  clock: Clock;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export class Outbox {
  constructor(private readonly options: OutboxOptions) {}

  /** Publishes everything pending for the connection; throws on the first event that fails. */
  async flush(record: ConnectionRecord, attempts: number): Promise<number> {
    const { repository, publisher, clock } = this.options;
    const published = new Set<string>();
    let current: ConnectionRecord | undefined = record;
    for (let guard = 0; current?.outbox?.length && guard < 100; guard += 1) {
      const event = current.outbox[0];
      if (!event) break;
      if (!published.has(event.event_id)) {
        await publisher.publish(event, { attempts });
        published.add(event.event_id);
      }
      // The item moved on meanwhile (or another run removed it): read it again and carry on.
      if (!(await repository.removePublished(current, event.event_id, clock.now()))) current = await repository.get(current.connectionId);
      else current = { ...current, outbox: current.outbox.slice(1) };
    }
    return published.size;
  }

  /** The request path's publish: one try right after the write; the worker publishes what is left. */
  async flushQuietly(record: ConnectionRecord): Promise<void> {
    if (!record.outbox?.length) return;
    try {
      await this.flush(record, 1);
    } catch (error) {
      this.options.log?.('events left in the outbox for the lifecycle worker', {
        connection_id: record.connectionId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
