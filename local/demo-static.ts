/** Serves the demo page's files (local/demo/) at `/` of the local API, behind the route table. */
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { splitTarget } from './api-gateway';

export const defaultDemoRoot = fileURLToPath(new URL('./demo/', import.meta.url));

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

const isFile = async (path: string): Promise<boolean> => {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
};

/**
 * A fallback for the API gateway: answers GET/HEAD for files under `root` and returns false for
 * anything else, so unknown paths still get API Gateway's 404. The folder is looked up per
 * request, so a demo added while the stack runs is served without a restart.
 */
export const createDemoStatic = (root: string = defaultDemoRoot) => {
  const base = normalize(root.endsWith(sep) ? root : `${root}${sep}`);
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    let path: string;
    try {
      path = splitTarget(req.url ?? '/').path;
    } catch {
      return false;
    }
    const relative = path.endsWith('/') ? `${path}index.html` : path;
    if (relative.split('/').some((segment) => segment.startsWith('.'))) return false;
    const file = normalize(join(base, relative));
    if (!file.startsWith(base) || !(await isFile(file))) return false;
    const body = await readFile(file);
    res.statusCode = 200;
    res.setHeader('content-type', contentTypes[extname(file).toLowerCase()] ?? 'application/octet-stream');
    res.setHeader('content-length', body.length);
    res.setHeader('cache-control', 'no-cache');
    res.setHeader('x-content-type-options', 'nosniff');
    // The page holds a bearer token: no framing, no referrer, scripts and styles from itself only.
    res.setHeader(
      'content-security-policy',
      "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('referrer-policy', 'no-referrer');
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
};
