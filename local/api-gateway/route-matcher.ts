/** Route selection as API Gateway HTTP APIs do it: the most specific route wins. */

/** The route shape the emulator needs; `Route` of functions/routes.ts fits it. */
export interface GatewayRoute {
  method: string;
  /** `{name}` is one segment, a final `{name+}` the greedy rest. */
  path: string;
  function: string;
  auth: 'jwt' | 'none';
}

export interface RouteMatch<R extends GatewayRoute = GatewayRoute> {
  route: R;
  routeKey: string;
  pathParameters: Record<string, string> | undefined;
}

type Segment = { kind: 'literal'; value: string } | { kind: 'param'; name: string } | { kind: 'greedy'; name: string };

interface CompiledRoute<R extends GatewayRoute> {
  route: R;
  routeKey: string;
  segments: Segment[];
  /** Lower sorts first: exact paths, then paths with variables, then greedy ones (API Gateway's priority). */
  rank: [number, number, number];
}

const compile = <R extends GatewayRoute>(route: R): CompiledRoute<R> => {
  if (!route.path.startsWith('/')) throw new Error(`route path must start with "/": ${route.path}`);
  const parts = route.path === '/' ? [] : route.path.slice(1).split('/');
  const segments = parts.map((part, index): Segment => {
    const variable = /^\{([A-Za-z0-9_.-]+)(\+?)\}$/.exec(part);
    if (!variable) {
      if (part.includes('{') || part.includes('}')) throw new Error(`route path segment must be a whole variable: ${route.path}`);
      return { kind: 'literal', value: part };
    }
    const name = variable[1] ?? '';
    if (variable[2] === '+') {
      if (index !== parts.length - 1) throw new Error(`a greedy variable must be the last segment: ${route.path}`);
      return { kind: 'greedy', name };
    }
    return { kind: 'param', name };
  });
  const literals = segments.filter((segment) => segment.kind === 'literal').length;
  const greedy = segments.some((segment) => segment.kind === 'greedy') ? 1 : 0;
  const variables = segments.length - literals - greedy;
  // Within a class, the route with more literal segments is the more specific one.
  return { route, routeKey: `${route.method} ${route.path}`, segments, rank: [greedy, variables > 0 ? 1 : 0, -literals] };
};

const segmentWeight = { literal: 0, param: 1, greedy: 2 } as const;

const compareRank = (a: CompiledRoute<GatewayRoute>, b: CompiledRoute<GatewayRoute>): number => {
  const byClass = a.rank[0] - b.rank[0] || a.rank[1] - b.rank[1] || a.rank[2] - b.rank[2];
  if (byClass !== 0) return byClass;
  // Same class and literal count: a literal earlier in the path beats a variable there.
  for (let index = 0; index < Math.min(a.segments.length, b.segments.length); index += 1) {
    const left = a.segments[index];
    const right = b.segments[index];
    if (left && right && left.kind !== right.kind) return segmentWeight[left.kind] - segmentWeight[right.kind];
  }
  return 0;
};

const matchSegments = (segments: Segment[], pathSegments: string[]): Record<string, string> | undefined => {
  const parameters: Record<string, string> = {};
  for (const [index, segment] of segments.entries()) {
    if (segment.kind === 'greedy') {
      const rest = pathSegments.slice(index).join('/');
      if (rest.length === 0) return undefined;
      parameters[segment.name] = rest;
      return parameters;
    }
    const value = pathSegments[index];
    if (value === undefined) return undefined;
    if (segment.kind === 'literal') {
      if (value !== segment.value) return undefined;
    } else {
      if (value.length === 0) return undefined;
      parameters[segment.name] = value;
    }
  }
  return pathSegments.length === segments.length ? parameters : undefined;
};

/**
 * Builds the matcher for one route table. Paths are matched after percent-decoding, as HTTP APIs
 * do; a method without a route answers 404 like an unknown path (HTTP APIs have no 405).
 */
export const createRouteMatcher = <R extends GatewayRoute>(routes: readonly R[]) => {
  const compiled = routes.map(compile).sort(compareRank);
  const keys = new Set<string>();
  for (const entry of compiled) {
    if (keys.has(entry.routeKey)) throw new Error(`duplicate route: ${entry.routeKey}`);
    keys.add(entry.routeKey);
  }
  return (method: string, decodedPath: string): RouteMatch<R> | undefined => {
    const pathSegments = decodedPath === '/' ? [] : decodedPath.slice(1).split('/');
    for (const entry of compiled) {
      if (entry.route.method !== method) continue;
      const parameters = matchSegments(entry.segments, pathSegments);
      if (parameters) {
        return {
          route: entry.route,
          routeKey: entry.routeKey,
          pathParameters: Object.keys(parameters).length > 0 ? parameters : undefined,
        };
      }
    }
    return undefined;
  };
};
