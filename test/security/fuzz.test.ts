/**
 * Every route fed bad input: malformed JSON, wrong types, unknown and prototype keys, huge bodies,
 * odd and very long ids, path traversal, unicode, bad dates and query parameters, bad headers.
 * Each answer must be a 4xx problem (or API Gateway's own 4xx JSON), and nothing stored here or at
 * TrueLayer may change. Inputs are invalid by construction, so any success is a finding.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { psu, scanTable, tableClient } from '../reliability/helpers';
import { TestApi } from '../support/flow';
import { expectRefusal, rawCall } from './helpers';

let api: TestApi;
let doc: DynamoDBDocumentClient;
let activeId: string;
let pendingId: string;
let accountId: string;
let token: string;

/** Runs per property; raise it for a deeper local search, e.g. `FUZZ_RUNS=1000 npx vitest run test/security`. */
const numRuns = Number(process.env.FUZZ_RUNS ?? 60);

beforeAll(async () => {
  api = await TestApi.start({ env: { POWERTOOLS_LOG_LEVEL: 'SILENT' } });
  doc = tableClient(api.stack);
  activeId = await api.connect('alice');
  pendingId = (await api.createConnection('alice')).connection_id;
  accountId = (await api.call('GET', `/connections/${activeId}/accounts`, { sub: 'alice', headers: psu })).body.results[0].account_id;
  token = await api.token('alice');
}, 60_000);
afterAll(async () => api.close());

/** Runs `body` and asserts that neither the table nor the simulator saw any change. */
const unchanged = async (body: () => Promise<void>): Promise<void> => {
  const tableBefore = await scanTable(doc, api.stack.tableName);
  const simBefore = await api.simStats();
  await body();
  expect(await scanTable(doc, api.stack.tableName)).toEqual(tableBefore);
  expect(await api.simStats()).toEqual(simBefore);
};

/**
 * Requests go out over node:http with the path exactly as written: fetch would fold `.`, `..` and
 * `%2e%2e` segments on the client, and the point is to see what the server does with them.
 */
const send = (method: string, path: string, options: { rawBody?: string; headers?: Record<string, string>; anonymous?: boolean } = {}) =>
  rawCall(
    api.stack.apiUrl,
    method,
    path,
    { ...(options.anonymous ? {} : { authorization: `Bearer ${token}` }), ...options.headers },
    options.rawBody,
  );

const json = { 'content-type': 'application/json' };

// ---- bodies -------------------------------------------------------------------------------------

const wrongType = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);

const prototypeKeys = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

/** JSON text of an object with the given members, keys written as given (so `__proto__` stays a key). */
const objectText = (members: [string, unknown][]): string =>
  `{${members.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`;

/** Text that is not a JSON object: broken JSON, or JSON of another kind (null aside: see its own test). */
const notAnObject = fc
  .oneof(
    fc.json({ maxDepth: 3 }).map((text) => text.slice(0, Math.max(1, text.length - 1))),
    fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 200 }),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 100 }),
    fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  )
  .filter((text) => {
    try {
      const value: unknown = JSON.parse(text);
      return value !== null && (typeof value !== 'object' || Array.isArray(value));
    } catch {
      return true;
    }
  });

const createKeys = ['return_url', 'scopes', 'providers', 'provider_id', 'response_mode'] as const;

const unknownKey = (known: readonly string[]) =>
  fc
    .oneof(fc.constantFrom(...prototypeKeys), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }))
    .filter((key) => !known.includes(key));

const createBody = fc.oneof(
  // A known field with a wrong type.
  fc.tuple(fc.constantFrom(...createKeys), wrongType).map(([key, value]) => objectText([[key, value]])),
  // An unknown or prototype key beside valid ones.
  fc.tuple(unknownKey(createKeys), fc.jsonValue({ maxDepth: 2 })).map(([key, value]) =>
    objectText([
      ['response_mode', 'query'],
      [key, value],
    ]),
  ),
  // Right types, wrong values.
  fc.string({ unit: 'grapheme', maxLength: 300 }).map((url) => objectText([['return_url', url]])),
  fc
    .array(fc.string({ unit: 'grapheme', maxLength: 20 }), { minLength: 1, maxLength: 5 })
    .map((scopes) => objectText([['scopes', scopes]])),
  fc
    .constantFrom(['balance'], ['transactions'], ['direct_debits'], ['cards', 'standing_orders'], [], Array(17).fill('info'))
    .map((scopes) => objectText([['scopes', scopes]])),
  fc
    .string({ maxLength: 20 })
    .filter((mode) => mode !== 'query' && mode !== 'form_post')
    .map((mode) => objectText([['response_mode', mode]])),
  fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
    .filter((p) => !/^[a-z0-9][a-z0-9-]{0,63}$/.test(p))
    .map((p) => objectText([['provider_id', p]])),
  fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
    .filter((p) => !p.split(' ').every((part) => /^[a-z0-9][a-z0-9-]{0,63}$/.test(part)))
    .map((p) => objectText([['providers', p]])),
  notAnObject,
);

const extendKeys = ['user_has_reconfirmed_consent', 'user'] as const;
const validUser = { name: 'Alice Smith', email: 'alice@example.com' };

const extendBody = fc.oneof(
  // The reconfirmation missing or anything but `true`.
  fc.constant(objectText([['user', validUser]])),
  fc
    .oneof(wrongType, fc.string({ maxLength: 10 }))
    .filter((flag) => flag !== true)
    .map((flag) =>
      objectText([
        ['user_has_reconfirmed_consent', flag],
        ['user', validUser],
      ]),
    ),
  // A user that is not one: wrong type, no name, no way to reach them, bad email or phone.
  wrongType.map((user) =>
    objectText([
      ['user_has_reconfirmed_consent', true],
      ['user', user],
    ]),
  ),
  fc
    .constantFrom(
      { name: 'Alice' },
      { email: 'alice@example.com' },
      { name: '   ', email: 'alice@example.com' },
      { name: 'Alice', email: 'not-an-email' },
      { name: 'Alice', phone: 'call me' },
      { name: 'A'.repeat(201), email: 'alice@example.com' },
    )
    .map((user) =>
      objectText([
        ['user_has_reconfirmed_consent', true],
        ['user', user],
      ]),
    ),
  fc
    .string({ unit: 'grapheme', maxLength: 60 })
    .filter((email) => !email.includes('@'))
    .map((email) =>
      objectText([
        ['user_has_reconfirmed_consent', true],
        ['user', { name: 'Alice', email }],
      ]),
    ),
  // Unknown or prototype keys, at the top or inside `user`.
  fc.tuple(unknownKey(extendKeys), fc.jsonValue({ maxDepth: 2 })).map(([key, value]) =>
    objectText([
      ['user_has_reconfirmed_consent', true],
      ['user', validUser],
      [key, value],
    ]),
  ),
  fc.tuple(unknownKey(['id', 'name', 'email', 'phone']), fc.jsonValue({ maxDepth: 2 })).map(
    ([key, value]) =>
      `{"user_has_reconfirmed_consent":true,"user":${objectText([
        ['name', 'Alice'],
        ['email', 'alice@example.com'],
        [key, value],
      ])}}`,
  ),
  notAnObject,
);

describe('request bodies', () => {
  it('POST /connections refuses every malformed, mistyped or unknown-keyed body', async () => {
    await unchanged(async () => {
      await fc.assert(
        fc.asyncProperty(createBody, async (body) => {
          expectRefusal(await send('POST', '/connections', { rawBody: body, headers: json }), `POST /connections ${body.slice(0, 120)}`);
        }),
        { numRuns },
      );
    });
  });

  it('POST /connections/{id}/extend refuses every malformed body, before TrueLayer is asked', async () => {
    await unchanged(async () => {
      await fc.assert(
        fc.asyncProperty(extendBody, async (body) => {
          expectRefusal(
            await send('POST', `/connections/${activeId}/extend`, { rawBody: body, headers: json }),
            `extend ${body.slice(0, 120)}`,
          );
        }),
        { numRuns },
      );
    });
  });

  it('refuses bodies that are not JSON by their content type with 415', async () => {
    await unchanged(async () => {
      for (const type of [
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
        'text/html',
        'application/jsonx',
      ]) {
        for (const path of ['/connections', `/connections/${activeId}/extend`]) {
          const body = path === '/connections' ? '{}' : JSON.stringify({ user_has_reconfirmed_consent: true, user: validUser });
          const response = await send('POST', path, { rawBody: body, headers: { 'content-type': type } });
          expectRefusal(response, `${path} as ${type}`);
          expect(response.status).toBe(415);
        }
      }
    });
  });

  it('refuses huge and deeply nested bodies with 4xx', async () => {
    await unchanged(async () => {
      const big = JSON.stringify({ return_url: `http://127.0.0.1/${'a'.repeat(70 * 1024)}` });
      const cases: [string, string, string, Record<string, string>][] = [
        ['70 KiB create', '/connections', big, json],
        ['70 KiB extend', `/connections/${activeId}/extend`, big, json],
        ['70 KiB callback form', '/callback', `state=${'a'.repeat(70 * 1024)}`, { 'content-type': 'application/x-www-form-urlencoded' }],
        ['11 MiB create', '/connections', 'x'.repeat(11 * 1024 * 1024), json],
        ['nested 30k deep', '/connections', `${'['.repeat(30_000)}${']'.repeat(30_000)}`, json],
        ['nested objects', '/connections', `${'{"a":'.repeat(9_000)}1${'}'.repeat(9_000)}`, json],
        ['a long string value', '/connections', JSON.stringify({ provider_id: 'a'.repeat(60_000) }), json],
      ];
      for (const [name, path, body, headers] of cases) {
        const response = await send('POST', path, { rawBody: body, headers, anonymous: path === '/callback' });
        expectRefusal(response, name);
      }
    });
  });

  // A JSON `null` is a body, and not an object: it should be refused like `[]` or `1` are. Today
  // POST /connections reads it as "no body" and creates a connection with the defaults.
  it('refuses a JSON null body on POST /connections with 400 and creates nothing', async () => {
    await unchanged(async () => {
      expectRefusal(await send('POST', '/connections', { rawBody: 'null', headers: json }), 'POST /connections null');
    });
  });
});

// ---- ids and paths ------------------------------------------------------------------------------

const hex = [...'0123456789abcdef-'];
const oddId = () =>
  fc.oneof(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 120 }),
    fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 120 }),
    fc.uuid(),
    fc.string({ unit: fc.constantFrom(...hex), minLength: 2000, maxLength: 5000 }),
    fc.constantFrom(
      '..',
      '.',
      '%2e%2e',
      '../connections',
      '..%2f..%2fetc%2fpasswd',
      '\u0000',
      'null',
      'undefined',
      '__proto__',
      'constructor',
      '*',
      '{id}',
      "' OR '1'='1",
      '{"$ne":null}',
      '<script>alert(1)</script>',
      activeId.toUpperCase(),
      `${activeId} `,
      ` ${activeId}`,
      `${activeId}\u0000`,
      `${activeId}/..`,
      activeId.replace(/-/g, ''),
      `conn#${activeId}`,
      `state#${activeId}`,
      'ｃｏｎｎ',
    ),
  );

describe('ids', () => {
  it('answer 4xx for any odd, unknown or near-miss id on every id route, and touch nothing', async () => {
    await unchanged(async () => {
      await fc.assert(
        fc.asyncProperty(oddId(), fc.constantFrom('get', 'delete', 'extend', 'data', 'transactions'), async (id, route) => {
          const path = `/connections/${encodeURIComponent(id)}`;
          const what = `${route} ${JSON.stringify(id.slice(0, 80))}`;
          if (route === 'get') expectRefusal(await send('GET', path), what);
          if (route === 'delete') expectRefusal(await send('DELETE', path), what);
          // A valid extend and valid reads: only the id can make them fail.
          if (route === 'extend')
            expectRefusal(
              await send('POST', `${path}/extend`, {
                rawBody: JSON.stringify({ user_has_reconfirmed_consent: true, user: validUser }),
                headers: json,
              }),
              what,
            );
          if (route === 'data') expectRefusal(await send('GET', `${path}/accounts`, { headers: psu }), what);
          if (route === 'transactions')
            expectRefusal(await send('GET', `${path}/accounts/${accountId}/transactions?from=2026-01-01`, { headers: psu }), what);
        }),
        { numRuns: numRuns * 2 },
      );
    });
  });

  it('answers 4xx for traversal written raw in the path, and serves no file', async () => {
    await unchanged(async () => {
      const paths = [
        '/connections/../../etc/passwd',
        '/connections/%2e%2e/%2e%2e/etc/passwd',
        '/connections/..%2f..%2f..%2fpackage.json',
        '/connections/..%5c..%5cpackage.json',
        '/%2e%2e/%2e%2e/package.json',
        '/..%2F..%2F.env',
        '/.env',
        '/.git/config',
        '/local/../package.json',
        '/%2e%2e%2fpackage.json',
        `/connections/${activeId}/..%2f..%2f__local%2ftoken`,
        `/connections/${activeId}/accounts/..%2f..%2f..%2f__sim%2fstats`,
        `/connections/${activeId}/%2e%2e/%2e%2e/__local/clock`,
        `/connections/${activeId}/accounts%00`,
        `/connections/${activeId}/accounts/%ZZ`,
        '/connections/%',
        '/connections//',
        '/connections/%20',
        '//connections',
        '/callback/..',
      ];
      for (const path of paths) {
        for (const method of ['GET', 'POST', 'DELETE']) {
          const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
          const response = await rawCall(
            api.stack.apiUrl,
            method,
            path,
            headers,
            method === 'POST' ? '{"advance_seconds":100000,"sub":"mallory"}' : undefined,
          );
          expectRefusal(response, `${method} ${path}`);
          expect(response.text).not.toMatch(/"name":\s*"truelayer-connections"|root:|\[core\]|access_token|offset_seconds/);
        }
      }
    });
  });

  it('answers 404 for methods the API does not have', async () => {
    await unchanged(async () => {
      for (const method of ['PUT', 'PATCH', 'OPTIONS']) {
        for (const path of [
          '/connections',
          `/connections/${activeId}`,
          `/connections/${activeId}/extend`,
          `/connections/${activeId}/accounts`,
          '/callback',
        ]) {
          const response = await send(method, path, { rawBody: method === 'OPTIONS' ? undefined : '{}', headers: json });
          expectRefusal(response, `${method} ${path}`);
        }
      }
      expectRefusal(await send('DELETE', '/connections'), 'DELETE /connections');
      expectRefusal(await send('POST', `/connections/${activeId}`, { rawBody: '{}', headers: json }), 'POST /connections/{id}');
    });
  });
});

// ---- data paths, query parameters, headers ------------------------------------------------------

const specials = [...' !"#$&\'()*+,:;<=>?@[]^`{|}~\\é💥\u0000\n\t%.'];
const idChars = fc.string({ unit: fc.constantFrom(...'abcdefXYZ019_-'), maxLength: 12 });
const badAccountId = fc.tuple(idChars, fc.constantFrom(...specials.filter((c) => c !== '.')), idChars).map(([a, c, b]) => `${a}${c}${b}`);

const dataPath = fc.oneof(
  // A first segment TrueLayer's v1 does not have.
  fc
    .tuple(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), fc.option(fc.string({ maxLength: 20 })))
    .filter(([first]) => !['me', 'info', 'accounts', 'cards'].includes(first) && !/^[./]*$/.test(first))
    .map(([first, rest]) => (rest === null ? first : `${first}/${rest}`)),
  fc.constantFrom(
    'payments',
    'v3/payments',
    'connections/extend',
    'accounts/',
    'me/',
    'accounts//balance',
    'ACCOUNTS',
    'Accounts',
    'accounts%2Fx',
    'batch',
    'jobs/1',
  ),
  // An account id no bank issues.
  fc
    .tuple(badAccountId, fc.constantFrom('', '/balance', '/transactions', '/transactions/pending', '/standing_orders', '/direct_debits'))
    .map(([id, tail]) => `accounts/${id}${tail}`),
  fc.tuple(badAccountId, fc.constantFrom('', '/balance', '/transactions')).map(([id, tail]) => `cards/${id}${tail}`),
  fc.constant(`accounts/${'a'.repeat(129)}/balance`),
  fc.constant(`accounts/${'a'.repeat(100)}/transactions/${'b'.repeat(200)}`),
  // A valid path with one more segment that no template has.
  fc
    .tuple(
      fc.constantFrom('me', 'info', 'accounts', 'cards', 'accounts/acc-1', 'accounts/acc-1/balance', 'cards/acc-1/transactions/pending'),
      fc.constantFrom(...specials, 'extra', 'v2'),
    )
    .map(([base, extra]) => `${base}/${extra}`)
    .filter((p) => !/^(accounts|cards)\/[A-Za-z0-9_-]+$/.test(p)),
);

const notADate = fc.oneof(
  fc.constantFrom(
    '2024-02-30',
    '2023-02-29',
    '2023-13-01',
    '2024-00-10',
    '2024-01-32',
    'yesterday',
    'now',
    '2024-1-1',
    '20240101',
    '2024/01/01',
    '01-01-2024',
    '2024-01-01T25:00:00Z',
    '2024-01-01T10:00',
    '2024-01-01T10:00:00+25:00',
    '0000-00-00',
    '+002024-01-01',
    '9999-99-99',
    'NaN',
    'Infinity',
    '-1',
    '1700000000',
    '',
    '2024-01-01%00',
    "2024-01-01' OR '1'='1",
  ),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((s) => !/^\d{4}-\d{2}-\d{2}/.test(s)),
);

const validDate = fc
  .date({ min: new Date('2020-01-01'), max: new Date('2026-12-31'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10));

const query = fc.oneof(
  fc.tuple(fc.constantFrom('from', 'to'), notADate).map(([name, value]) => new URLSearchParams({ [name]: value }).toString()),
  fc.tuple(validDate, notADate).map(([from, to]) => new URLSearchParams({ from, to }).toString()),
  fc
    .tuple(validDate, validDate)
    .filter(([a, b]) => a !== b)
    .map(([a, b]) => (a > b ? [a, b] : [b, a]))
    .map(([from, to]) => new URLSearchParams({ from: from!, to: to! }).toString()),
  fc
    .tuple(
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((name) => name !== 'from' && name !== 'to'),
      fc.string({ maxLength: 20 }),
    )
    .map(([name, value]) => new URLSearchParams({ from: '2026-01-01', [name]: value }).toString()),
  fc.tuple(validDate, validDate).map(([a, b]) => `from=${a}&from=${b}`),
  fc.constantFrom('async=true', 'from', 'from=&to=', '__proto__[from]=2026-01-01', 'from[]=2026-01-01', 'constructor=1', 'FROM=2026-01-01'),
);

const notAnIp = fc.oneof(
  fc.constantFrom(
    '999.1.1.1',
    '256.256.256.256',
    '1.2.3',
    '1.2.3.4.5',
    '1.2.3.4/24',
    '1.2.3.4:80',
    '01.02.03.004x',
    'localhost',
    '::g',
    '12345::',
    'fe80::1%eth0',
    '::ffff:999.1.1.1',
    'x',
    '-',
    'null',
    '1.2.3.4, 5.6.7.8',
    '0x7f.0.0.1',
  ),
  fc
    .string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 60 })
    .filter((s) => s.trim() === s && s.length > 0 && /[^0-9a-fA-F:.]/.test(s)),
);

describe('data paths, query parameters and headers', () => {
  it("answer 4xx for any path that is not one of TrueLayer's v1 GETs, before TrueLayer is asked", async () => {
    await unchanged(async () => {
      await fc.assert(
        fc.asyncProperty(dataPath, async (path) => {
          const encoded = path.split('/').map(encodeURIComponent).join('/');
          expectRefusal(await send('GET', `/connections/${activeId}/${encoded}`, { headers: psu }), `GET data ${JSON.stringify(path)}`);
        }),
        { numRuns },
      );
    });
  });

  it('answer 400 for bad dates and unknown or repeated query parameters, before TrueLayer is asked', async () => {
    await unchanged(async () => {
      await fc.assert(
        fc.asyncProperty(query, fc.constantFrom('transactions', 'transactions/pending', 'balance'), async (search, tail) => {
          const response = await send('GET', `/connections/${activeId}/accounts/${accountId}/${tail}?${search}`, { headers: psu });
          expectRefusal(response, `${tail}?${search}`);
        }),
        { numRuns },
      );
    });
  });

  it('answer 400 for any X-PSU-IP that is not an IP address, before TrueLayer is asked', async () => {
    await unchanged(async () => {
      await fc.assert(
        fc.asyncProperty(notAnIp, async (value) => {
          expectRefusal(
            await send('GET', `/connections/${activeId}/accounts`, { headers: { 'x-psu-ip': value } }),
            `x-psu-ip ${JSON.stringify(value)}`,
          );
        }),
        { numRuns },
      );
    });
  });

  // The service's own IP check is looser than the one the TrueLayer client applies, so these pass
  // the first and fail the second as an internal error (500) instead of a 400.
  it('answers 400 for near-miss X-PSU-IP values made only of address characters', async () => {
    await unchanged(async () => {
      for (const value of ['1.2.3.4:80', '::ffff:999.1.1.1', '12345::', ':::::', 'ab:cd:ef']) {
        const response = await send('GET', `/connections/${activeId}/accounts`, { headers: { 'x-psu-ip': value } });
        expectRefusal(response, `x-psu-ip ${value}`);
        expect(response.status).toBe(400);
      }
    });
  });

  it('answers 409 for data of a connection that is not authorized yet, before TrueLayer is asked', async () => {
    await unchanged(async () => {
      const response = await send('GET', `/connections/${pendingId}/accounts`, { headers: psu });
      expectRefusal(response, 'pending connection');
      expect(response.status).toBe(409);
    });
  });
});

// ---- the callback -------------------------------------------------------------------------------

const callbackParams = fc.dictionary(
  fc.oneof(fc.constantFrom('state', 'code', 'error', 'error_description', 'scope', ...prototypeKeys), fc.string({ maxLength: 12 })),
  fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 80 }),
    fc.string({ unit: fc.constantFrom(...'ABCDEFabcdef0123456789_-'), minLength: 43, maxLength: 43 }),
    fc.string({ maxLength: 3000 }),
  ),
  { maxKeys: 6 },
);

describe('the callback', () => {
  it('answers 4xx for any parameters without a live state, and consumes nothing', async () => {
    await unchanged(async () => {
      await fc.assert(
        fc.asyncProperty(callbackParams, fc.constantFrom('GET', 'POST'), async (params, method) => {
          const text = new URLSearchParams(params).toString();
          const response =
            method === 'GET'
              ? await send('GET', `/callback?${text}`, { anonymous: true })
              : await send('POST', '/callback', {
                  rawBody: text,
                  headers: { 'content-type': 'application/x-www-form-urlencoded' },
                  anonymous: true,
                });
          expectRefusal(response, `${method} /callback ${text.slice(0, 120)}`);
        }),
        { numRuns },
      );
    });
  });

  it('refuses callback bodies that are not a form, with 415', async () => {
    await unchanged(async () => {
      for (const [type, body] of [
        ['application/json', '{"state":"x","code":"y"}'],
        ['text/plain', 'state=x&code=y'],
        ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="state"\r\n\r\nx\r\n--x--'],
      ] as const) {
        const response = await send('POST', '/callback', { rawBody: body, headers: { 'content-type': type }, anonymous: true });
        expectRefusal(response, `POST /callback as ${type}`);
        expect(response.status).toBe(415);
      }
    });
  });
});
