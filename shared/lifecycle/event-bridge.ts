/**
 * Events to the stack's EventBridge bus. Only the functions that may publish import this module, so
 * only their bundles carry the EventBridge client.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { traced } from '../tracing';
import { type ConnectionEvent, eventSource } from './events';
import { type EventPublisher, PublishError, type PublishOptions, withRetries } from './publishers';

/** PutEvents to the stack's bus: detail-type = event type, so rules match on it. */
export class EventBridgePublisher implements EventPublisher {
  constructor(private readonly options: { busName: string; client?: EventBridgeClient; retryDelayMs?: number }) {}

  private client?: EventBridgeClient;

  async publish(event: ConnectionEvent, { attempts }: PublishOptions): Promise<void> {
    this.client ??= this.options.client ?? new EventBridgeClient({});
    const client = this.client;
    await withRetries(attempts, this.options.retryDelayMs ?? 200, async () => {
      const out = await client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: this.options.busName,
              Source: eventSource,
              DetailType: event.type,
              Detail: JSON.stringify(event),
              Time: new Date(event.occurred_at),
            },
          ],
        }),
      );
      if ((out.FailedEntryCount ?? 0) > 0)
        throw new PublishError(`EventBridge refused the event: ${out.Entries?.[0]?.ErrorCode ?? 'unknown error'}`);
    });
  }
}

/** The composition's EventBridge adapter: a publisher to `busName` whose client is traced. */
export const eventBridgePublisher = (options: { busName: string; region: string }): EventPublisher =>
  new EventBridgePublisher({ busName: options.busName, client: traced(new EventBridgeClient({ region: options.region })) });
