/** The event destinations: EventBridge through its real client (faked at the SDK), and a webhook over real HTTP. */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBridgePublisher } from '../../shared/lifecycle/event-bridge';
import type { ConnectionEvent } from '../../shared/lifecycle/events';
import { WebhookPublisher } from '../../shared/lifecycle/publishers';
import { SecretReadError, type SecretReader, StoredSecret } from '../../shared/secrets/extension-secrets';

const event: ConnectionEvent = {
  event_id: '6f1c1b9e-8d7a-4a53-9a0e-3c9c7f0b1e22',
  type: 'connection.expiring',
  occurred_at: '2026-12-03T09:00:00.000Z',
  connection_id: '00000000-0000-4000-8000-000000000001',
  owner: 'alice',
  data: { status: 'active', consent_expires_at: '2026-12-10T09:00:00.000Z', days_left: 7 },
};

describe('EventBridge', () => {
  it('puts the event on the bus with detail-type = type and the event as detail', async () => {
    const client = new EventBridgeClient({ region: 'eu-west-2' });
    const mock = mockClient(client);
    mock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'x' }] });
    await new EventBridgePublisher({ busName: 'bus', client }).publish(event, { attempts: 1 });
    const entry = mock.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0];
    expect(entry).toMatchObject({ EventBusName: 'bus', Source: 'truelayer-connections', DetailType: 'connection.expiring' });
    expect(JSON.parse(entry?.Detail ?? '{}')).toEqual(event);
  });

  it('counts a refused entry as a failure, retried then thrown', async () => {
    const client = new EventBridgeClient({ region: 'eu-west-2' });
    const mock = mockClient(client);
    mock.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] });
    await expect(new EventBridgePublisher({ busName: 'bus', client, retryDelayMs: 1 }).publish(event, { attempts: 3 })).rejects.toThrow(
      /InternalFailure/,
    );
    expect(mock.commandCalls(PutEventsCommand)).toHaveLength(3);
  });
});

describe('the webhook', () => {
  const secret = `whsec_${Buffer.from('a-test-secret-of-some-length-32b').toString('base64')}`;
  const received: { headers: IncomingMessage['headers']; body: string }[] = [];
  let answers: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = answers.shift() ?? 204;
      res.end();
    });
  });
  let url: string;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('signs per Standard Webhooks so a receiver verifies it, with webhook-id = event_id', async () => {
    received.length = 0;
    await new WebhookPublisher({ url, secret: { get: async () => secret } }).publish(event, { attempts: 1 });
    const [delivery] = received;
    expect(delivery?.headers['webhook-id']).toBe(event.event_id);
    const verified = new Webhook(secret).verify(delivery?.body ?? '', delivery?.headers as Record<string, string>);
    expect(verified).toEqual(event);
    expect(() =>
      new Webhook(`whsec_${Buffer.from('another-secret-entirely-32-bytes').toString('base64')}`).verify(
        delivery?.body ?? '',
        delivery?.headers as Record<string, string>,
      ),
    ).toThrow();
  });

  it('retries with backoff after a refusal, with the same webhook-id', async () => {
    received.length = 0;
    answers = [500, 503];
    await new WebhookPublisher({ url, secret: { get: async () => secret }, retryDelayMs: 5 }).publish(event, { attempts: 3 });
    expect(received.map((delivery) => delivery.headers['webhook-id'])).toEqual([event.event_id, event.event_id, event.event_id]);
  });

  it('signs with the secret stored in Secrets Manager, read through the reader', async () => {
    received.length = 0;
    const reads: string[] = [];
    const reader: SecretReader = {
      read: async (secretId) => {
        reads.push(secretId);
        return `${secret}\n`;
      },
    };
    const stored = new StoredSecret({ secretId: 'tlc/webhook', reader });
    await new WebhookPublisher({ url, secret: stored }).publish(event, { attempts: 1 });
    expect(reads).toEqual(['tlc/webhook']);
    const [delivery] = received;
    expect(new Webhook(secret).verify(delivery?.body ?? '', delivery?.headers as Record<string, string>)).toEqual(event);
  });

  it('sends nothing when the stored secret cannot be read, so the event stays in the outbox', async () => {
    received.length = 0;
    const reader: SecretReader = {
      read: async (secretId) => {
        throw new SecretReadError(secretId, 'the Parameters and Secrets extension answered 400 ResourceNotFoundException');
      },
    };
    const publisher = new WebhookPublisher({ url, secret: new StoredSecret({ secretId: 'tlc/webhook', reader }) });
    await expect(publisher.publish(event, { attempts: 2 })).rejects.toThrow(/tlc\/webhook.*ResourceNotFoundException/);
    expect(received).toHaveLength(0);
  });

  it('refuses a stored secret with no value, naming the secret', async () => {
    const stored = new StoredSecret({ secretId: 'tlc/webhook-empty', reader: { read: async () => '  \n' } });
    const error = await stored.get().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SecretReadError);
    expect((error as Error).message).toContain('tlc/webhook-empty');
  });

  it('throws when every try is refused, so the event stays in the outbox', async () => {
    answers = [500, 500];
    await expect(
      new WebhookPublisher({ url, secret: { get: async () => secret }, retryDelayMs: 1 }).publish(event, { attempts: 2 }),
    ).rejects.toThrow(/500/);
  });
});
