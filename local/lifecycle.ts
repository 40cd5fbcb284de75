/**
 * The lifecycle worker on one machine: `POST /__local/clock` runs it at every due time passed on
 * the way, in order, as the schedule would; `GET /__local/events` lists what was emitted; a webhook
 * receiver at `/__local/webhook` checks each delivery's Standard Webhooks signature and records it.
 * Every route goes through the `/__local` guard (loopback Host, JSON bodies on POST); our own
 * publisher posts the webhook to 127.0.0.1 as application/json, so it passes.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import type { AdjustableClock } from '../shared/clock';
import { MemoryEventSink } from '../shared/lifecycle/publishers';
import type { RawRoute } from './api-gateway';
import { readBody, sendJson } from './http';
import { localOnly } from './local-auth';

export interface WebhookDelivery {
  webhook_id: string | undefined;
  webhook_timestamp: string | undefined;
  /** The signature checked out against the stack's webhook secret. */
  verified: boolean;
  /** What the receiver answered: 204, 400 for a bad signature, 503 when told to fail. */
  answered: number;
  event: unknown;
}

export interface LocalLifecycleOptions {
  clock: AdjustableClock;
  /** Runs the lifecycle function once, at the clock's now. */
  runWorker: () => Promise<unknown>;
  /** The earliest due time in (after, until], if any. */
  nextDueTime: (after: number, until: number) => Promise<number | undefined>;
}

export const newWebhookSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

const maxBodyBytes = 64 * 1024;
/** A guard against a worker that keeps making work due: far more runs than any real jump needs. */
const maxRunsPerAdvance = 5_000;

const send = (res: ServerResponse, status: number, body?: unknown): void => {
  res.setHeader('cache-control', 'no-store');
  if (body === undefined) {
    res.statusCode = status;
    return void res.end();
  }
  sendJson(res, status, body);
};

/** The body as text; past the limit, what was read (the signature check then fails). */
const readText = async (req: IncomingMessage): Promise<string> => {
  const body = await readBody(req, maxBodyBytes);
  return body === 'too-large' ? '' : body.toString('utf8');
};

export const createLocalLifecycle = (options: LocalLifecycleOptions) => {
  const sink = new MemoryEventSink();
  const secret = newWebhookSecret();
  const verifier = new Webhook(secret);
  const deliveries: WebhookDelivery[] = [];
  let failNext = 0;

  /** Moves the clock by `seconds`, running the worker at each due time on the way and at the end. */
  const advance = async (seconds: number): Promise<{ worker_runs: number }> => {
    if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError('advance_seconds must be a non-negative number of seconds');
    const { clock } = options;
    const target = clock.now() + seconds * 1000;
    const targetOffset = clock.offsetSeconds + seconds;
    let runs = 0;
    await options.runWorker();
    runs += 1;
    for (;;) {
      const next = await options.nextDueTime(clock.now(), target);
      if (next === undefined || runs >= maxRunsPerAdvance) break;
      clock.advanceTo(next);
      await options.runWorker();
      runs += 1;
    }
    // Exactly `seconds` on the offset, however long the runs took in real time.
    if (targetOffset > clock.offsetSeconds) clock.advance(targetOffset - clock.offsetSeconds);
    await options.runWorker();
    return { worker_runs: runs + 1 };
  };

  const routes: RawRoute[] = [
    { method: 'GET', path: '/__local/events', handle: localOnly((_req, res) => send(res, 200, { events: sink.events })) },
    {
      method: 'POST',
      path: '/__local/webhook',
      handle: localOnly(async (req, res) => {
        const payload = await readText(req);
        const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined);
        let event: unknown;
        let verified = false;
        try {
          event = verifier.verify(payload, {
            'webhook-id': header('webhook-id') ?? '',
            'webhook-timestamp': header('webhook-timestamp') ?? '',
            'webhook-signature': header('webhook-signature') ?? '',
          });
          verified = true;
        } catch {
          event = undefined;
        }
        const answered = !verified ? 400 : failNext > 0 ? 503 : 204;
        if (answered === 503) failNext -= 1;
        deliveries.push({ webhook_id: header('webhook-id'), webhook_timestamp: header('webhook-timestamp'), verified, answered, event });
        send(
          res,
          answered,
          answered === 204 ? undefined : { error: verified ? 'told to fail (POST /__local/webhook/fail)' : 'bad signature' },
        );
      }),
    },
    { method: 'GET', path: '/__local/webhook', handle: localOnly((_req, res) => send(res, 200, { deliveries })) },
    {
      method: 'POST',
      path: '/__local/webhook/fail',
      handle: localOnly(async (req, res) => {
        let times: unknown;
        try {
          times = (JSON.parse((await readText(req)) || '{}') as { times?: unknown }).times;
        } catch {
          times = undefined;
        }
        if (typeof times !== 'number' || !Number.isInteger(times) || times < 0 || times > 1000) {
          return send(res, 400, { error: 'times must be a whole number from 0 to 1000, e.g. {"times": 1}' });
        }
        failNext = times;
        send(res, 200, { fail_next: failNext });
      }),
    },
  ];

  return { sink, secret, deliveries, advance, routes };
};
