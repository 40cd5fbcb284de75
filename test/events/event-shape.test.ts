/** Each sample event is a payload 2.0 event API Gateway could send for a route of the route table. */
import { describe, expect, it } from 'vitest';
import { routeKey, routes } from '../../functions/routes';
import { eventNames, functionOfEvent, loadEvent } from './helpers';

const names = eventNames();

/** The path template of a route, as a regexp capturing its parameters by name. */
const pathPattern = (path: string): RegExp =>
  new RegExp(`^${path.replace(/\{(\w+)\+\}/g, '(?<$1>.+)').replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}$`);

describe('events/', () => {
  it('has an event for every route of the route table', () => {
    const covered = new Set(names.map((name) => loadEvent(name).routeKey));
    expect(routes.map(routeKey).filter((key) => !covered.has(key))).toEqual([]);
  });

  it('has the create, callback (query and form_post), data, list, get, extend and delete cases', () => {
    expect(names).toEqual(
      expect.arrayContaining([
        'auth-link-create',
        'callback-query',
        'callback-form-post',
        'data-accounts',
        'connections-list',
        'connections-get',
        'connections-extend',
        'connections-delete',
      ]),
    );
  });
});

describe.each(names)('events/%s.json', (name) => {
  const event = loadEvent(name);
  const route = routes.find((candidate) => routeKey(candidate) === event.routeKey);

  it('is a payload 2.0 event for a route of the route table, sent to the function its name says', () => {
    expect(event.version).toBe('2.0');
    expect(route, event.routeKey).toBeDefined();
    expect(route?.function).toBe(functionOfEvent(name));
    expect(event.requestContext.routeKey).toBe(event.routeKey);
    expect(event.requestContext.stage).toBe('$default');
    expect(event.requestContext.http.method).toBe(route?.method);
  });

  it('has a path that matches the route and the path parameters', () => {
    const match = pathPattern(route!.path).exec(event.rawPath);
    expect(match, event.rawPath).not.toBeNull();
    expect(event.requestContext.http.path).toBe(event.rawPath);
    expect(match?.groups ?? {}).toEqual(event.pathParameters ?? {});
  });

  it('has the query string both raw and parsed, as API Gateway sends it', () => {
    expect(Object.fromEntries(new URLSearchParams(event.rawQueryString))).toEqual(event.queryStringParameters ?? {});
  });

  it('carries JWT claims with a sub exactly when the route is behind the authorizer', () => {
    const claims = event.requestContext.authorizer?.jwt?.claims;
    if (route?.auth === 'jwt') {
      expect(typeof claims?.sub).toBe('string');
      // The HTTP API JWT authorizer passes every claim as a string.
      for (const value of Object.values(claims ?? {})) expect(typeof value).toBe('string');
    } else {
      expect(event.requestContext.authorizer).toBeUndefined();
    }
  });

  it('has lower-case header names, a host equal to the domain, and a body matching its content type and length', () => {
    for (const header of Object.keys(event.headers)) expect(header).toBe(header.toLowerCase());
    expect(event.headers.host).toBe(event.requestContext.domainName);
    if (event.body === undefined) {
      expect(event.isBase64Encoded).toBe(false);
      return;
    }
    const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    expect(event.headers['content-length']).toBe(String(Buffer.byteLength(text)));
    if (event.headers['content-type'] === 'application/json') {
      expect(event.isBase64Encoded).toBe(false);
      expect(() => JSON.parse(text)).not.toThrow();
    } else {
      // HTTP APIs base64-encode form posts.
      expect(event.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(event.isBase64Encoded).toBe(true);
    }
  });
});
