/**
 * Drives the service the way a client app and a user's browser do: real HTTP to the local API and
 * to the simulator's dialog, nothing called in-process.
 */
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../local/stack';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallOptions {
  sub?: string;
  token?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface LifecycleEvent {
  event_id: string;
  type: string;
  occurred_at: string;
  connection_id: string;
  owner: string;
  data: { status: string; status_reason?: string; consent_expires_at?: string; days_left?: number; superseded_by?: string };
}

export class TestApi {
  private readonly tokens = new Map<string, string>();

  constructor(readonly stack: LocalStack) {}

  static async start(options: LocalStackOptions = {}): Promise<TestApi> {
    // Handler logs stay out of test output unless a test asks for them (env LOG_LEVEL).
    const env = { LOG_LEVEL: 'ERROR', ...options.env };
    return new TestApi(await startLocalStack({ port: 0, simPort: 0, dynamoPort: 0, quiet: true, ...options, env }));
  }

  close(): Promise<void> {
    return this.stack.close();
  }

  /** A token for `sub`, reissued when the shared clock has moved past its expiry. */
  async token(sub: string): Promise<string> {
    const cached = this.tokens.get(sub);
    if (cached) {
      const exp = JSON.parse(Buffer.from(cached.split('.')[1] ?? '', 'base64url').toString()).exp as number;
      if (exp * 1000 - 60_000 > this.stack.clock.now()) return cached;
    }
    const fresh = await this.stack.issueToken(sub);
    this.tokens.set(sub, fresh);
    return fresh;
  }

  async call<T = any>(method: string, path: string, options: CallOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token ?? (options.sub ? await this.token(options.sub) : undefined);
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${this.stack.apiUrl}${path}`, { method, headers, body, redirect: 'manual' });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  async createConnection(
    sub: string,
    body: Record<string, unknown> = {},
  ): Promise<{ connection_id: string; auth_link: string; auth_link_expires_at: string }> {
    const created = await this.call('POST', '/connections', { sub, body });
    if (created.status !== 201) throw new Error(`create failed: ${created.status} ${created.text}`);
    return created.body;
  }

  /**
   * Goes through the simulator's dialog as a browser would. For `query` mode returns the URL the
   * browser is sent to; for `form_post` the fields of the auto-submitting form and its action.
   */
  async authorize(
    authLink: string,
    user: { username?: string; password?: string; action?: 'allow' | 'deny' } = {},
  ): Promise<{ location?: string; form?: { action: string; fields: Record<string, string> } }> {
    const page = await fetch(authLink, { redirect: 'manual' });
    const html = await page.text();
    const sessionId = /name="session_id" value="([^"]+)"/.exec(html)?.[1];
    if (!sessionId) throw new Error(`no dialog session in: ${html.slice(0, 300)}`);
    const form = new URLSearchParams({
      session_id: sessionId,
      provider_id: 'mock',
      username: user.username ?? 'john',
      password: user.password ?? 'doe',
      action: user.action ?? 'allow',
    });
    const origin = new URL(authLink).origin;
    const answer = await fetch(`${origin}/`, { method: 'POST', body: form, redirect: 'manual' });
    if (answer.status === 302) return { location: answer.headers.get('location') ?? '' };
    const body = await answer.text();
    const action = /<form method="post" action="([^"]+)"/.exec(body)?.[1];
    if (!action) throw new Error(`dialog answered ${answer.status}: ${body.slice(0, 300)}`);
    const fields: Record<string, string> = {};
    for (const match of body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
      fields[unescapeHtml(match[1]!)] = unescapeHtml(match[2]!);
    return { form: { action: unescapeHtml(action), fields } };
  }

  /** Follows the browser to our /callback (GET or form POST) and returns the response. */
  async deliverCallback(
    step: { location?: string; form?: { action: string; fields: Record<string, string> } },
    headers: Record<string, string> = {},
  ): Promise<ApiResponse> {
    const url = new URL(step.location ?? step.form!.action);
    const path = `${url.pathname}${url.search}`;
    if (step.location) return this.call('GET', path, { headers });
    return this.call('POST', path, {
      rawBody: new URLSearchParams(step.form!.fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    });
  }

  /**
   * The whole journey: create, authorize at the bank, callback, and the owner's completion with the
   * code the return_url received. With `complete: false` it stops at `authorized`. Returns the id.
   */
  async connect(
    sub: string,
    options: { body?: Record<string, unknown>; username?: string; password?: string; complete?: boolean } = {},
  ): Promise<string> {
    return (await this.connectAuthorized(sub, options)).connectionId;
  }

  /** As `connect`, also giving the completion code (already used unless `complete: false`). */
  async connectAuthorized(
    sub: string,
    options: { body?: Record<string, unknown>; username?: string; password?: string; complete?: boolean } = {},
  ): Promise<{ connectionId: string; completionCode: string | undefined; location: string | undefined }> {
    const created = await this.createConnection(sub, options.body);
    const step = await this.authorize(created.auth_link, options);
    const callback = await this.deliverCallback(step);
    if (callback.status !== 302 && callback.status !== 200) throw new Error(`callback failed: ${callback.status} ${callback.text}`);
    const location = callback.headers.get('location') ?? undefined;
    const completionCode = location ? (new URL(location).searchParams.get('completion_code') ?? undefined) : undefined;
    if (options.complete !== false && completionCode) {
      const completed = await this.complete(sub, created.connection_id, completionCode);
      if (completed.status !== 200) throw new Error(`completion failed: ${completed.status} ${completed.text}`);
    }
    return { connectionId: created.connection_id, completionCode, location };
  }

  /** `POST /connections/{id}/complete` as `sub`. */
  complete(sub: string, connectionId: string, completionCode: string): Promise<ApiResponse> {
    return this.call('POST', `/connections/${connectionId}/complete`, { sub, body: { completion_code: completionCode } });
  }

  async simStats(): Promise<{
    token: { authorization_code: number; refresh_token: number };
    data: Record<string, number>;
    extend: number;
    delete: number;
  }> {
    return (await fetch(`${this.stack.simUrl}/__sim/stats`)).json() as never;
  }

  async simFault(fault: Record<string, unknown>): Promise<void> {
    const response = await fetch(`${this.stack.simUrl}/__sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(fault),
    });
    if (!response.ok) throw new Error(`fault refused: ${response.status} ${await response.text()}`);
  }

  async simReset(): Promise<void> {
    await fetch(`${this.stack.simUrl}/__sim/reset`, { method: 'POST' });
  }

  advance(seconds: number): void {
    this.stack.clock.advance(seconds);
  }

  /** `POST /__local/clock`: moves the clock, running the lifecycle worker at every due time on the way. */
  async advanceClock(seconds: number): Promise<{ now: string; worker_runs: number }> {
    const response = await this.call('POST', '/__local/clock', { body: { advance_seconds: seconds } });
    if (response.status !== 200) throw new Error(`clock refused: ${response.status} ${response.text}`);
    return response.body;
  }

  /** `GET /__local/events`: every event emitted so far, oldest first. */
  async events(connectionId?: string): Promise<LifecycleEvent[]> {
    const all = (await this.call<{ events: LifecycleEvent[] }>('GET', '/__local/events')).body.events;
    return connectionId ? all.filter((event) => event.connection_id === connectionId) : all;
  }

  /** What the local webhook receiver got, refused deliveries included. */
  async webhookDeliveries(): Promise<
    { webhook_id: string; webhook_timestamp: string; verified: boolean; answered: number; event: LifecycleEvent }[]
  > {
    return (await this.call('GET', '/__local/webhook')).body.deliveries;
  }
}

const unescapeHtml = (value: string): string =>
  value
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#96;/g, '`')
    .replace(/&amp;/g, '&');
