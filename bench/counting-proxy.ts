/**
 * A plain HTTP proxy that counts what passes through it, by AWS operation (the `X-Amz-Target`
 * header of JSON-protocol services such as KMS and Secrets Manager): put in front of an endpoint
 * through the SDK's endpoint settings, it counts the requests the real client code sends.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface CountingProxy {
  url: string;
  /** Requests seen so far, by operation (e.g. `TrentService.Decrypt`). */
  counts(): Record<string, number>;
  close(): Promise<void>;
}

export const operationOf = (headers: Record<string, string | string[] | undefined>, method = 'GET', path = '/'): string => {
  const target = headers['x-amz-target'];
  return typeof target === 'string' && target ? target : `${method} ${path.split('?')[0]}`;
};

export const startCountingProxy = async (targetUrl: string): Promise<CountingProxy> => {
  const target = new URL(targetUrl);
  const seen = new Map<string, number>();
  const server = createServer((incoming, outgoing) => {
    const operation = operationOf(incoming.headers, incoming.method, incoming.url);
    seen.set(operation, (seen.get(operation) ?? 0) + 1);
    const forward = httpRequest(
      { host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forward.once('error', () => {
      if (!outgoing.headersSent) outgoing.writeHead(502);
      outgoing.end();
    });
    incoming.pipe(forward);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => Object.fromEntries(seen),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};

export interface RequestCounter {
  counts(): Record<string, number>;
  /** performance.now() when each operation was first seen. */
  firstSeen(): Record<string, number>;
  stop(): void;
}

/**
 * Counts requests reaching any HTTP server of this process on `port` (the embedded DynamoDB's), by
 * operation, through Node's built-in diagnostics channel: nothing sits in the requests' way.
 */
export const countServerRequests = (port: number): RequestCounter => {
  const seen = new Map<string, number>();
  const first = new Map<string, number>();
  const onRequest = (message: unknown) => {
    const request = (message as { request?: IncomingMessage }).request;
    if (request?.socket.localPort !== port) return;
    const operation = operationOf(request.headers, request.method, request.url);
    seen.set(operation, (seen.get(operation) ?? 0) + 1);
    if (!first.has(operation)) first.set(operation, performance.now());
  };
  diagnosticsChannel.subscribe('http.server.request.start', onRequest);
  return {
    counts: () => Object.fromEntries(seen),
    firstSeen: () => Object.fromEntries(first),
    stop: () => diagnosticsChannel.unsubscribe('http.server.request.start', onRequest),
  };
};

/** What happened between two snapshots of counts. */
export const countsSince = (before: Record<string, number>, after: Record<string, number>): Record<string, number> => {
  const delta: Record<string, number> = {};
  for (const [operation, count] of Object.entries(after)) {
    const change = count - (before[operation] ?? 0);
    if (change !== 0) delta[operation] = change;
  }
  return delta;
};

export const total = (counts: Record<string, number>): number => Object.values(counts).reduce((sum, count) => sum + count, 0);
