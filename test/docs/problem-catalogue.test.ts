/** The README's error table and the error catalogue list the same codes with the same statuses. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { problemCatalogue } from '../../shared/errors';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const documented = new Map([...readme.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]));

describe('the error catalogue', () => {
  it('is documented in the README, code by code, with the same status', () => {
    const expected = new Map(Object.entries(problemCatalogue).map(([code, { status }]) => [code, status]));
    expect(documented).toEqual(expected);
  });

  it('gives every code a status that is an error status and a title', () => {
    for (const [code, { status, title }] of Object.entries(problemCatalogue)) {
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(600);
      expect(title.length).toBeGreaterThan(0);
    }
  });
});
