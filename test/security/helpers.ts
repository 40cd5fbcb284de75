/** Shared by the security suites: refusal checks and requests whose path goes out exactly as written. */
import { request } from 'node:http';
import { expect } from 'vitest';
import type { ApiResponse } from '../support/flow';

/**
 * A refusal as the API promises it: a 4xx problem+json from the service, or API Gateway's own 4xx
 * JSON (`{"message": …}`) for what it answers itself (400 bad URL, 401, 404 no route, 413).
 */
export const expectRefusal = (response: Pick<ApiResponse, 'status' | 'headers' | 'body' | 'text'>, what: string): void => {
  expect(response.status, `${what} → ${response.status} ${response.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(response.status, `${what} → ${response.text.slice(0, 300)}`).toBeLessThan(500);
  const type = response.headers.get('content-type') ?? '';
  if (type.startsWith('application/problem+json')) {
    expect(response.body, what).toMatchObject({
      type: expect.any(String),
      title: expect.any(String),
      detail: expect.any(String),
      code: expect.stringMatching(/^[a-z0-9_]+$/),
    });
    expect(response.body.status, what).toBe(response.status);
    expect(response.text, what).not.toMatch(/\bat .+\.(ts|js):\d+|node_modules|Exception|"stack"/);
    return;
  }
  expect([400, 401, 404, 413], `${what}: not a problem (${type}) ${response.text.slice(0, 200)}`).toContain(response.status);
  expect(type, what).toMatch(/^application\/json/);
  expect(response.body, what).toEqual({ message: expect.any(String) });
};

/** One request over node:http: the path is sent byte for byte (no `..` folding, no re-encoding). */
export const rawCall = (
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<ApiResponse> =>
  new Promise((resolve, reject) => {
    const origin = new URL(baseUrl);
    const req = request({ hostname: origin.hostname, port: origin.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = text;
        }
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') responseHeaders.set(name, value);
        resolve({ status: res.statusCode ?? 0, headers: responseHeaders, body: parsed as never, text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
