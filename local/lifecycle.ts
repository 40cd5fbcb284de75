/**
 * The lifecycle worker on one machine: `POST /__local/clock` runs it at every due time passed on
 * the way, in order, as the schedule would; `GET /__local/events` lists what was emitted; a webhook
 * receiver at `/__local/webhook` checks each delivery's Standard Webhooks signature and records it.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import type { AdjustableClock } from '../shared/clock';
import { MemoryEventSink } from '../shared/lifecycle/publishers';
import type { RawRoute } from './api-gateway';

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

const isLoopback = (req: IncomingMessage): boolean => {
  const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
};

const send = (res: ServerResponse, status: number, body?: unknown): void => {
  res.statusCode = status;
  res.setHeader('cache-control', 'no-store');
  if (body === undefined) return void res.end();
  const text = JSON.stringify(body);
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
};

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodyBytes) chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });

/** Local controls answer only requests addressed to this machine, so a web page cannot drive them. */
const local =
  (handle: (req: IncomingMessage, res: ServerResponse) => Promise<void> | void) =>
  async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!isLoopback(req)) return send(res, 403, { error: 'local controls answer only 127.0.0.1 and localhost' });
    if (req.method === 'POST' && !(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')) {
      return send(res, 415, { error: 'send a JSON body (content-type: application/json)' });
    }
    await handle(req, res);
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
    { method: 'GET', path: '/__local/events', handle: local((_req, res) => send(res, 200, { events: sink.events })) },
    {
      method: 'POST',
      path: '/__local/webhook',
      handle: local(async (req, res) => {
        const payload = await readBody(req);
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
    { method: 'GET', path: '/__local/webhook', handle: local((_req, res) => send(res, 200, { deliveries })) },
    {
      method: 'POST',
      path: '/__local/webhook/fail',
      handle: local(async (req, res) => {
        let times: unknown;
        try {
          times = (JSON.parse((await readBody(req)) || '{}') as { times?: unknown }).times;
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
