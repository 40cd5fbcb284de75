import { describe, expect, it } from 'vitest';
import { checkReturnUrl } from '../../shared/connections/return-url';

const allowed = ['https://app.example.com/bank/', 'http://127.0.0.1:3000/'];

describe('return_url allow-list', () => {
  it.each([
    'https://app.example.com/bank/done',
    'https://app.example.com/bank/',
    'https://app.example.com/bank/done?x=1#frag',
    'http://127.0.0.1:3000/',
    'http://127.0.0.1:3000/anything',
  ])('accepts %s', (url) => {
    expect(checkReturnUrl(url, allowed).ok).toBe(true);
  });

  it.each([
    ['another host', 'https://evil.example.com/bank/'],
    ['a look-alike host', 'https://app.example.com.evil.com/bank/'],
    ['userinfo', 'https://app.example.com@evil.com/bank/'],
    ['userinfo on the right host', 'https://user:pw@app.example.com/bank/'],
    ['a protocol-relative URL', '//evil.com/bank/'],
    ['javascript:', 'javascript:alert(1)//https://app.example.com/bank/'],
    ['data:', 'data:text/html,<script>alert(1)</script>'],
    ['another path', 'https://app.example.com/other'],
    ['a path that only shares a prefix', 'https://app.example.com/bankrupt'],
    ['http instead of https', 'http://app.example.com/bank/'],
    ['another port', 'https://app.example.com:8443/bank/'],
    ['a backslash trick', 'https://app.example.com\\@evil.com/bank/'],
    ['a tab inside', 'https://app.example.com/ba\tnk/'],
    ['a relative path', '/bank/done'],
    ['a dot-segment escape', 'https://app.example.com/bank/../admin'],
  ])('refuses %s', (_name, url) => {
    const check = checkReturnUrl(url, allowed);
    expect(check.ok).toBe(false);
    expect(check.reason).toMatch(/return_url/);
  });

  it('refuses everything when nothing is configured, and says so', () => {
    expect(checkReturnUrl('https://app.example.com/bank/', [])).toEqual({
      ok: false,
      reason: expect.stringContaining('ALLOWED_RETURN_URLS'),
    });
  });

  it('treats an entry without a trailing slash as a path segment, not a string prefix', () => {
    expect(checkReturnUrl('https://a.example/app/x', ['https://a.example/app']).ok).toBe(true);
    expect(checkReturnUrl('https://a.example/application', ['https://a.example/app']).ok).toBe(false);
  });
});
