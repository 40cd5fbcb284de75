/**
 * Events reach apps whatever fails on the way: a refused refresh is reported, every event reaches
 * the webhook signed per Standard Webhooks, a refused delivery is repeated with the same
 * webhook-id, and a publish that dies right after the state write loses nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventPublisher } from '../../shared/lifecycle/publishers';
import { TestApi } from '../support/flow';

const day = 86_400;
let api: TestApi;
/** While set, every publish throws: the process "dies" between the state write and the publish. */
let publisherDown = false;

const wrapPublisher = (inner: EventPublisher): EventPublisher => ({
  async publish(event, options) {
    if (publisherDown) throw new Error('injected: the worker died before publishing');
    await inner.publish(event, options);
  },
});

beforeAll(async () => {
  api = await TestApi.start({ wrapPublisher });
});
afterAll(async () => api.close());

describe('a refresh TrueLayer refuses', () => {
  it('ends the connection (refresh_rejected) and emits connection.refresh_failed', async () => {
    const id = await api.connect('refused');
    await api.simFault({ path: '/connect/token', status: 400, body: { error: 'invalid_grant' } });
    await api.advanceClock(26 * day);
    await api.simReset();
    const events = await api.events(id);
    expect(events.map((event) => event.type)).toEqual(['connection.activated', 'connection.refresh_failed']);
    expect(events[1]!.data).toMatchObject({ status: 'inactive', status_reason: 'refresh_rejected' });
    const view = await api.call('GET', `/connections/${id}`, { sub: 'refused' });
    expect(view.body).toMatchObject({ status: 'inactive', status_reason: 'refresh_rejected', next_action: { action: 'reconnect' } });
  });
});

describe('the webhook', () => {
  it('receives every event, each signed so that the receiver verified it', async () => {
    const events = await api.events();
    expect(events.length).toBeGreaterThan(0);
    const deliveries = await api.webhookDeliveries();
    const delivered = new Set(deliveries.filter((d) => d.verified && d.answered === 204).map((d) => d.webhook_id));
    for (const event of events) expect(delivered.has(event.event_id)).toBe(true);
    for (const delivery of deliveries) expect(delivery.event.event_id).toBe(delivery.webhook_id);
  });

  it('gets a refused delivery again with the same webhook-id, and the event is listed once', async () => {
    const id = await api.connect('redelivered');
    const fail = await api.call('POST', '/__local/webhook/fail', { body: { times: 1 } });
    expect(fail.status).toBe(200);
    expect((await api.call('DELETE', `/connections/${id}`, { sub: 'redelivered' })).status).toBe(204);
    // The request's one try was refused; the worker's next run delivers it.
    await api.advanceClock(0);
    const revoked = (await api.events(id)).filter((event) => event.type === 'connection.revoked');
    expect(revoked).toHaveLength(1);
    const attempts = (await api.webhookDeliveries()).filter((d) => d.webhook_id === revoked[0]!.event_id);
    expect(attempts.map((d) => d.answered)).toEqual([503, 204]);
    expect(attempts.every((d) => d.verified)).toBe(true);
    expect(attempts[0]!.event).toEqual(attempts[1]!.event);
  });
});

describe('a publish that dies after the state write', () => {
  it('loses nothing from the request path: the worker publishes the event later, once', async () => {
    const id = await api.connect('crashy-request');
    publisherDown = true;
    try {
      expect((await api.call('DELETE', `/connections/${id}`, { sub: 'crashy-request' })).status).toBe(204);
      expect((await api.events(id)).map((event) => event.type)).toEqual(['connection.activated']);
    } finally {
      publisherDown = false;
    }
    await api.advanceClock(0);
    const events = await api.events(id);
    expect(events.map((event) => event.type)).toEqual(['connection.activated', 'connection.revoked']);
    expect(events[1]!.data).toMatchObject({ status: 'inactive', status_reason: 'revoked' });
  });

  it('loses nothing from the worker: the expiry written while publishing failed goes out on the next run', async () => {
    const id = await api.connect('crashy-worker', { username: 'john', password: 'eternal' });
    const { consent_expires_at: end } = (await api.call('GET', `/connections/${id}`, { sub: 'crashy-worker' })).body;
    const secondsToEnd = () => Math.ceil((Date.parse(end) - api.stack.clock.now()) / 1000);
    await api.advanceClock(secondsToEnd() - 3600);
    expect((await api.events(id)).map((event) => event.type)).toEqual([
      'connection.activated',
      'connection.expiring',
      'connection.expiring',
      'connection.expiring',
    ]);
    publisherDown = true;
    try {
      await api.advanceClock(secondsToEnd() + 60);
      // The state changed (written with its event) although nothing could be published.
      expect((await api.call('GET', `/connections/${id}`, { sub: 'crashy-worker' })).body.status_reason).toBe('consent_expired');
      expect(await api.events(id)).toHaveLength(4);
    } finally {
      publisherDown = false;
    }
    // The next scheduled run publishes it, once, with the time the state changed.
    await api.advanceClock(15 * 60);
    const events = await api.events(id);
    expect(events.map((event) => event.type)).toEqual([
      'connection.activated',
      'connection.expiring',
      'connection.expiring',
      'connection.expiring',
      'connection.expired',
    ]);
    expect(Math.abs(Date.parse(events[4]!.occurred_at) - Date.parse(end))).toBeLessThan(60_000);
  });
});

describe('a second connection to the same accounts', () => {
  it('supersedes the older one: revoked at TrueLayer, inactive (superseded), and the event names the new id', async () => {
    const older = await api.connect('twice');
    const other = await api.connect('twice', { username: 'john7', password: 'doe7' });
    await api.simReset();
    const newer = await api.connect('twice');
    expect((await api.simStats()).delete).toBe(1);
    const view = await api.call('GET', `/connections/${older}`, { sub: 'twice' });
    expect(view.body).toMatchObject({ status: 'inactive', status_reason: 'superseded' });
    expect(view.body.next_action).toBeUndefined();
    const superseded = (await api.events(older)).filter((event) => event.type === 'connection.superseded');
    expect(superseded).toHaveLength(1);
    expect(superseded[0]!.data).toMatchObject({ status: 'inactive', status_reason: 'superseded', superseded_by: newer });
    // A connection to other accounts of the same owner stays as it was.
    expect((await api.call('GET', `/connections/${other}`, { sub: 'twice' })).body.status).toBe('active');
    expect((await api.call('GET', `/connections/${newer}`, { sub: 'twice' })).body.status).toBe('active');
  });
});
