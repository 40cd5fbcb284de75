import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSensitiveKey, REDACTED, redact, redactString } from '../../shared/logger';

const jwt = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTcwMDAwMDAwMH0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

describe('redact: sensitive keys', () => {
  it('withholds token values at any depth and in arrays, and keeps the rest', () => {
    const input = {
      connection_id: 'conn_1',
      access_token: 'top-level-access',
      nested: { refresh_token: 'nested-refresh', provider: 'ob-mock', deeper: { id_token: jwt, scopes: ['info', 'accounts'] } },
      list: [{ token: 'in-array' }, { client_secret: 'in-array-secret', client_id: 'public-client-id' }],
    };
    expect(redact(input)).toEqual({
      connection_id: 'conn_1',
      access_token: REDACTED,
      nested: { refresh_token: REDACTED, provider: 'ob-mock', deeper: { id_token: REDACTED, scopes: ['info', 'accounts'] } },
      list: [{ token: REDACTED }, { client_secret: REDACTED, client_id: 'public-client-id' }],
    });
  });

  it.each([
    'access_token',
    'Refresh_Token',
    'ID_TOKEN',
    'token',
    'code',
    'STATE',
    'client_secret',
    'secret',
    'password',
    'Authorization',
    'cookie',
    'Set-Cookie',
    'accessToken',
    'refreshToken',
    'clientSecret',
    'x-amz-security-token',
    'cookies',
  ])('treats %s as sensitive', (key) => {
    expect(isSensitiveKey(key)).toBe(true);
    expect(redact({ [key]: 'value-that-must-go' })).toEqual({ [key]: REDACTED });
  });

  it.each([
    'status',
    'status_code',
    'error_code',
    'upstream_code',
    'token_type',
    'expires_in',
    'access_token_expires_at',
    'credentials_id',
    'state_hash',
    'provider',
  ])('keeps %s', (key) => {
    expect(isSensitiveKey(key)).toBe(false);
    expect(redact({ [key]: 'visible' })).toEqual({ [key]: 'visible' });
  });

  it('withholds whole objects under a sensitive key', () => {
    expect(redact({ tokens: { access_token: 'a', refresh_token: 'b' }, headers: { authorization: ['Bearer x'] } })).toEqual({
      tokens: REDACTED,
      headers: { authorization: REDACTED },
    });
  });

  it('keeps Node and undici error codes and numeric codes, which are diagnostics, not OAuth codes', () => {
    expect(redact({ code: 'ECONNRESET' })).toEqual({ code: 'ECONNRESET' });
    expect(redact({ code: 'UND_ERR_CONNECT_TIMEOUT' })).toEqual({ code: 'UND_ERR_CONNECT_TIMEOUT' });
    expect(redact({ code: 404 })).toEqual({ code: 404 });
    expect(redact({ code: 'DD65D922D1E0BE5A' })).toEqual({ code: REDACTED });
    expect(redact({ code: 'a1b2c3d4e5' })).toEqual({ code: REDACTED });
  });

  it('keeps problem and TrueLayer error codes readable: they diagnose, and an OAuth code never reads as an error word', () => {
    const problem = { status: 503, code: 'upstream_unavailable', title: 'TrueLayer or the bank is unavailable' };
    expect(redact(problem)).toEqual(problem);
    expect(redact({ error: { name: 'TrueLayerError', status: 400, code: 'invalid_grant' } })).toEqual({
      error: { name: 'TrueLayerError', status: 400, code: 'invalid_grant' },
    });
    for (const code of ['not_found', 'conflict', 'timeout', 'internal_server_error', 'connection_not_confirmed'])
      expect(redact({ code })).toEqual({ code });
    const error = Object.assign(new Error('refused'), { code: 'invalid_completion_code' });
    expect((redact(error) as { code: string }).code).toBe('invalid_completion_code');
  });

  it('withholds a code where OAuth codes sit, whatever it looks like: beside state or redirect_uri, in a query or form', () => {
    expect(redact({ code: 'not_found', state: 's' })).toEqual({ code: REDACTED, state: REDACTED });
    expect(redact({ code: 'invalid_grant', redirectUri: 'https://x/cb' })).toEqual({ code: REDACTED, redirectUri: 'https://x/cb' });
    expect(redact({ queryStringParameters: { code: 'access_denied' } })).toEqual({ queryStringParameters: { code: REDACTED } });
    expect(redact({ form: { code: 'a_b', grant_type: 'authorization_code' } })).toEqual({
      form: { code: REDACTED, grant_type: 'authorization_code' },
    });
  });

  it('withholds completion codes and PKCE verifiers by name and in URLs', () => {
    expect(redact({ completion_code: 'abc_def', completionCode: 'x', code_verifier: 'v' })).toEqual({
      completion_code: REDACTED,
      completionCode: REDACTED,
      code_verifier: REDACTED,
    });
    expect(redactString('https://app.example/done?connection_id=1&status=authorized&completion_code=q3Zx7bW1nE0p')).toBe(
      `https://app.example/done?connection_id=1&status=authorized&completion_code=${REDACTED}`,
    );
  });

  it('withholds a base64 API Gateway body, which may hide a form-posted code', () => {
    const body = Buffer.from('code=abc&state=xyz').toString('base64');
    expect(redact({ isBase64Encoded: true, body, rawPath: '/callback' })).toEqual({
      isBase64Encoded: true,
      body: REDACTED,
      rawPath: '/callback',
    });
  });

  it('never lets a value under a sensitive key through, however deep', () => {
    const sensitive = fc.constantFrom(
      'access_token',
      'refresh_token',
      'token',
      'code',
      'state',
      'client_secret',
      'Authorization',
      'set-cookie',
    );
    const plainKey = fc.stringMatching(/^[a-z]{1,8}$/).filter((key) => !isSensitiveKey(key));
    fc.assert(
      fc.property(fc.array(plainKey, { maxLength: 6 }), sensitive, fc.stringMatching(/^[A-Za-z0-9]{12,40}$/), (path, key, secret) => {
        const value = path.reduceRight<unknown>((inner, segment, i) => (i % 2 ? [inner] : { [segment]: inner }), { [key]: secret });
        expect(JSON.stringify(redact(value))).not.toContain(secret);
      }),
    );
  });
});

describe('redact: secrets inside strings', () => {
  it('redacts code and state in a URL and keeps other parameters', () => {
    expect(redact('https://api.example.com/callback?code=4F2A91C0&state=s7ate-value&foo=bar')).toBe(
      `https://api.example.com/callback?code=${REDACTED}&state=${REDACTED}&foo=bar`,
    );
  });

  it('redacts a URL object as its text', () => {
    expect(redact({ link: new URL('https://auth.truelayer.com/?response_type=code&state=abc123&client_id=acme') })).toEqual({
      link: `https://auth.truelayer.com/?response_type=code&state=${REDACTED}&client_id=acme`,
    });
  });

  it('redacts token request form bodies', () => {
    expect(redactString('grant_type=refresh_token&refresh_token=DD65D922&client_id=acme&client_secret=s3cr3t')).toBe(
      `grant_type=refresh_token&refresh_token=${REDACTED}&client_id=acme&client_secret=${REDACTED}`,
    );
  });

  it('redacts parameters in a fragment and inside a percent-encoded nested URL', () => {
    expect(redactString('https://app/#access_token=abc&token_type=Bearer')).toBe(`https://app/#access_token=${REDACTED}&token_type=Bearer`);
    expect(redactString('next=https%3A%2F%2Fapp%2Fcb%3Fcode%3Dabc123')).not.toContain('abc123');
  });

  it('redacts JWTs anywhere in text', () => {
    expect(redactString(`token was ${jwt}, rejected`)).toBe(`token was ${REDACTED}, rejected`);
  });

  it('redacts bearer and basic credentials in text', () => {
    expect(redactString('Authorization: Bearer opaque-token-123')).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(redactString('authorization: Basic YWNtZTpzM2NyM3Q=')).toBe(`authorization: Basic ${REDACTED}`);
  });

  it('redacts JSON and inspected objects quoted inside a message', () => {
    const message = `token endpoint said 400: {"error":"invalid_grant","refresh_token": "DD65D922"} and { access_token: 'abc-opaque' }`;
    const result = redactString(message);
    expect(result).not.toContain('DD65D922');
    expect(result).not.toContain('abc-opaque');
    expect(result).toContain('"error":"invalid_grant"');
  });

  it('leaves ordinary text alone', () => {
    const text = 'GET /connections/conn_1/accounts?from=2026-01-01&to=2026-02-01 answered 200 in 35 ms (status=active)';
    expect(redactString(text)).toBe(text);
  });
});

describe('redact: errors and odd values', () => {
  it('turns an error into a plain object with message, stack and cause redacted', () => {
    const cause = Object.assign(new Error(`upstream rejected ${jwt}`), { response: { refresh_token: 'from-cause' }, status: 401 });
    const error = new Error('refresh failed for https://x/cb?code=abc123', { cause });
    const result = redact(error) as Record<string, unknown>;
    const text = JSON.stringify(result);
    expect(result.name).toBe('Error');
    expect(result.message).toBe(`refresh failed for https://x/cb?code=${REDACTED}`);
    expect(typeof result.stack).toBe('string');
    expect(text).not.toContain('eyJ');
    expect(text).not.toContain('from-cause');
    expect(text).not.toContain('abc123');
    expect(text).toContain('"status":401');
  });

  it('does not change its input', () => {
    const input = { access_token: 'keep-me-in-the-original', nested: { url: 'https://x/?state=abc' } };
    const copy = structuredClone(input);
    redact(input);
    expect(input).toEqual(copy);
  });

  it('marks cycles instead of recursing forever', () => {
    const node: Record<string, unknown> = { name: 'loop' };
    node.self = node;
    expect(redact(node)).toEqual({ name: 'loop', self: '[Circular]' });
  });

  it('withholds raw bytes, which may be a data key', () => {
    expect(redact({ key: new Uint8Array([1, 2, 3]), buffer: Buffer.from('secret') })).toEqual({
      key: `${REDACTED} binary`,
      buffer: `${REDACTED} binary`,
    });
  });

  it('keeps numbers, booleans, null and dates', () => {
    const at = new Date(Date.UTC(2026, 0, 1));
    expect(redact({ n: 1, b: true, z: null, at })).toEqual({ n: 1, b: true, z: null, at: at.toISOString() });
  });
});
