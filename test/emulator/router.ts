// Route matching with gin's outcomes: a match, a trailing-slash redirect (301 for GET, 307
// otherwise), 405 when the path exists only for other methods (HandleMethodNotAllowed = true),
// or 404. `:name` segments match exactly one non-empty path segment, so `/v1/models/:model`
// cannot match a name containing `/`.
import type { Ctx } from './context.js';

export type Family = 'native' | 'openai' | 'anthropic';

export interface Route {
  pattern: string;
  /** Handlers per method; HEAD is listed explicitly where Ollama registers it. */
  methods: Partial<Record<string, (ctx: Ctx) => Promise<void> | void>>;
  /** Which error shape the route answers in. */
  family: Family;
  /** The method whose handler consumes the request body itself (blob upload) instead of it being buffered. */
  bodyStreamedBy?: string;
}

export type RouteMatch =
  | { kind: 'found'; route: Route; params: Record<string, string>; handler: (ctx: Ctx) => Promise<void> | void }
  | { kind: 'redirect'; path: string }
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'not-found' };

function matchPattern(pattern: string, path: string): Record<string, string> | undefined {
  if (pattern === path) return {};
  const ps = pattern.split('/');
  const xs = path.split('/');
  if (ps.length !== xs.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < ps.length; i++) {
    const p = ps[i]!;
    const x = xs[i]!;
    if (p.startsWith(':')) {
      if (x === '') return undefined;
      params[p.slice(1)] = x;
    } else if (p !== x) return undefined;
  }
  return params;
}

export class Router {
  constructor(private readonly routes: Route[]) {}

  match(method: string, path: string): RouteMatch {
    const candidates: Array<{ route: Route; params: Record<string, string> }> = [];
    for (const route of this.routes) {
      const params = matchPattern(route.pattern, path);
      if (params) candidates.push({ route, params });
    }
    for (const c of candidates) {
      const handler = Object.hasOwn(c.route.methods, method) ? c.route.methods[method] : undefined;
      if (handler) return { kind: 'found', route: c.route, params: c.params, handler };
    }
    // gin's trailing-slash redirect looks only at routes of the same method.
    if (path.length > 1 && path.endsWith('/')) {
      const stripped = path.slice(0, -1);
      if (this.routes.some((r) => Object.hasOwn(r.methods, method) && matchPattern(r.pattern, stripped))) return { kind: 'redirect', path: stripped };
    }
    if (candidates.length > 0) {
      const allow = [...new Set(candidates.flatMap((c) => Object.keys(c.route.methods)))];
      return { kind: 'method-not-allowed', allow };
    }
    return { kind: 'not-found' };
  }
}
