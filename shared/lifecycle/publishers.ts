/**
 * Where events go: the stack's EventBridge bus (shared/lifecycle/event-bridge.ts), an app's webhook (signed per Standard Webhooks) and,
 * locally, an in-memory list. A publish that throws leaves the event in the outbox for the next try.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import type { ConnectionEvent } from './events';

export interface PublishOptions {
  /** Tries in all; the request path makes one, the worker a few, with backoff between. */
  attempts: number;
}

export interface EventPublisher {
  publish(event: ConnectionEvent, options: PublishOptions): Promise<void>;
}

export class PublishError extends Error {
  override name = 'PublishError';
}

/** Runs `work` up to `attempts` times, doubling the wait from `baseDelayMs` between tries. */
export const withRetries = async (attempts: number, baseDelayMs: number, work: () => Promise<void>): Promise<void> => {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await sleep(baseDelayMs * 2 ** (attempt - 1));
    }
  }
};

/** The signing secret (a `whsec_…` string): given, or a stored one (`StoredSecret` of shared/secrets). */
export interface WebhookSecretSource {
  get(): Promise<string>;
}

/**
 * POSTs the event as JSON, signed per Standard Webhooks: `webhook-id` is the event id, so a
 * receiver drops a redelivery; the timestamp is real time, which receivers check against theirs.
 */
export class WebhookPublisher implements EventPublisher {
  constructor(
    private readonly options: { url: string; secret: WebhookSecretSource; timeoutMs?: number; retryDelayMs?: number; fetch?: typeof fetch },
  ) {}

  async publish(event: ConnectionEvent, { attempts }: PublishOptions): Promise<void> {
    const signer = new Webhook(await this.options.secret.get());
    const payload = JSON.stringify(event);
    const send = this.options.fetch ?? fetch;
    await withRetries(attempts, this.options.retryDelayMs ?? 500, async () => {
      const timestamp = new Date();
      const response = await send(this.options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': event.event_id,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': signer.sign(event.event_id, timestamp, payload),
        },
        body: payload,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
      });
      await response.body?.cancel().catch(() => undefined);
      if (!response.ok) throw new PublishError(`the webhook answered ${response.status}`);
    });
  }
}

/** Every event, once each, oldest first: the local stack's `GET /__local/events`. */
export class MemoryEventSink implements EventPublisher {
  private readonly seen = new Set<string>();
  readonly events: ConnectionEvent[] = [];

  async publish(event: ConnectionEvent): Promise<void> {
    if (this.seen.has(event.event_id)) return;
    this.seen.add(event.event_id);
    this.events.push(event);
  }
}

/** All of them: an event counts as published once every destination took it. */
export const publishToAll = (publishers: readonly EventPublisher[]): EventPublisher => ({
  async publish(event, options) {
    for (const publisher of publishers) await publisher.publish(event, options);
  },
});
