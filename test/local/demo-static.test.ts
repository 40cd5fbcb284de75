/** The demo page's files at `/` of the local API, behind the route table and never outside their folder. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoStatic } from '../../local/demo-static';
import type { FixtureGateway } from './helpers';
import { rawRequest, startFixtureGateway } from './helpers';

let root: string;
let fixture: FixtureGateway;

beforeAll(async () => {
  const parent = await mkdtemp(join(tmpdir(), 'demo-static-'));
  root = join(parent, 'demo');
  await mkdir(join(root, 'assets'), { recursive: true });
  await writeFile(join(root, 'index.html'), '<!doctype html><title>demo</title>');
  await writeFile(join(root, 'assets', 'app.js'), 'console.log("demo")');
  await writeFile(join(root, '.env'), 'SECRET=1');
  await writeFile(join(parent, 'outside.txt'), 'not served');
  fixture = await startFixtureGateway({
    routes: [{ method: 'GET', path: '/connections', function: 'list', auth: 'none' }],
    handlers: { list: async () => ({ statusCode: 200, body: 'from the route' }) },
    fallback: createDemoStatic(root),
  });
});

afterAll(async () => {
  await fixture.close();
  await rm(join(root, '..'), { recursive: true, force: true });
});

describe('demo static files', () => {
  it('serves index.html at /', async () => {
    const response = await rawRequest(`${fixture.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.body.toString()).toContain('<title>demo</title>');
  });

  it('serves nested files with their content type', async () => {
    const response = await rawRequest(`${fixture.url}/assets/app.js`);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('text/javascript; charset=utf-8');
  });

  it('leaves API routes to the route table', async () => {
    expect((await rawRequest(`${fixture.url}/connections`)).body.toString()).toBe('from the route');
  });

  it("answers API Gateway's 404 for a missing file", async () => {
    const response = await rawRequest(`${fixture.url}/missing.html`);
    expect(response.status).toBe(404);
    expect(response.json()).toEqual({ message: 'Not Found' });
  });

  it.each(['/../outside.txt', '/%2e%2e/outside.txt', '/assets/..%2F..%2Foutside.txt', '/.env'])('never serves %s', async (path) => {
    const response = await rawRequest(`${fixture.url}${path}`);
    expect(response.status).toBe(404);
    expect(response.body.toString()).not.toContain('not served');
    expect(response.body.toString()).not.toContain('SECRET');
  });

  it('serves nothing for methods other than GET and HEAD', async () => {
    expect((await rawRequest(`${fixture.url}/`, { method: 'POST', body: 'x' })).status).toBe(404);
  });
});
