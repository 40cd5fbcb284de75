/**
 * An HTTP proxy between the handlers and the embedded DynamoDB that can fail chosen operations: drop
 * the connection, answer a throttling error, or stop listening (a closed port). The handlers are
 * pointed at it with DYNAMODB_ENDPOINT; the test itself reads the table past it.
 */

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** `drop`: the socket is destroyed unanswered; `throttle`: DynamoDB's 400 ThrottlingException. */
export type ProxyAction = 'pass' | 'drop' | 'throttle';

export interface ProxiedCall {
  /** e.g. `PutItem`, from the X-Amz-Target header. */
  operation: string;
  action: ProxyAction;
}

export class DynamoProxy {
  /** The embedded DynamoDB's endpoint; set once the stack has started. */
  target: string | undefined;
  /** Decides each call; `index` counts calls of that operation from 0 since the last `reset`. */
  rule: (operation: string, index: number) => ProxyAction = () => 'pass';
  readonly calls: ProxiedCall[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;
  private counts = new Map<string, number>();

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Stops listening and cuts kept-alive sockets: the port is closed until `listen` again. */
  async closePort(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  reset(rule: (operation: string, index: number) => ProxyAction = () => 'pass'): void {
    this.rule = rule;
    this.counts = new Map();
    this.calls.length = 0;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const operation =
      String(req.headers['x-amz-target'] ?? '')
        .split('.')
        .pop() ?? '';
    const index = this.counts.get(operation) ?? 0;
    this.counts.set(operation, index + 1);
    const action = this.target === undefined ? 'drop' : this.rule(operation, index);
    this.calls.push({ operation, action });
    if (action === 'drop') {
      req.socket.destroy();
      return;
    }
    if (action === 'throttle') {
      req.resume();
      const body = JSON.stringify({
        __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException',
        message: 'Rate of requests exceeds the allowed throughput.',
      });
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const target = new URL(req.url ?? '/', this.target);
    const upstream = request(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => req.socket.destroy());
    req.pipe(upstream);
  }
}
