import type { HttpMethod } from '../core/types.js';
import { ROUTES, type RouteDef } from './table.js';

/**
 * Exact route matching on the path as the client sent it: no decoding, no slash merging, no
 * trailing-slash or case folding, no `;` parameters, no dot segments. `/api//pull`, `/api/pull/`,
 * `/API/pull`, `/api/%70ull`, `/api/./pull` and `/api/pull;x` all miss and are answered 404 by
 * Gatehouse (docs/threat-model.md B3, B7). The only decoding allowed is of the one `/v1/models/:model`
 * segment (SDKs percent-encode the `:` of a tag), and the result is validated, then re-encoded
 * canonically for the upstream.
 */

export type MatchResult =
  | { ok: true; route: RouteDef; /** Path to send upstream (canonical form). */ upstreamPath: string; param: string | null }
  | { ok: false; status: 404 | 405 | 400; allow?: string; reason: string };

interface ParamGroup {
  prefix: string;
  byMethod: Map<string, RouteDef>;
}

const exact = new Map<string, Map<string, RouteDef>>();
const paramGroups: ParamGroup[] = [];

for (const r of ROUTES) {
  const colon = r.path.indexOf('/:');
  if (colon === -1) {
    let m = exact.get(r.path);
    if (!m) exact.set(r.path, (m = new Map()));
    m.set(r.method, r);
  } else {
    const prefix = r.path.slice(0, colon + 1);
    let g = paramGroups.find((x) => x.prefix === prefix);
    if (!g) paramGroups.push((g = { prefix, byMethod: new Map() }));
    g.byMethod.set(r.method, r);
  }
}

const DIGEST = /^sha256[:-][0-9a-fA-F]{64}$/;
const MODEL_SEGMENT = /^[A-Za-z0-9._:%-]+$/;
const OPAQUE_SEGMENT = /^[A-Za-z0-9_=-]+$/;

export function matchRoute(method: string, path: string): MatchResult {
  const byMethod = exact.get(path);
  if (byMethod) {
    const route = byMethod.get(method);
    if (route) return { ok: true, route, upstreamPath: route.path, param: null };
    return { ok: false, status: 405, allow: allowHeader(byMethod), reason: `${method} is not allowed on ${path}` };
  }
  for (const g of paramGroups) {
    if (!path.startsWith(g.prefix)) continue;
    const seg = path.slice(g.prefix.length);
    if (seg.length === 0 || seg.includes('/')) break;
    const any = g.byMethod.values().next().value as RouteDef;
    const param = canonicalParam(any.param!.kind, seg);
    if (param === null) return { ok: false, status: 404, reason: 'no such route' };
    const route = g.byMethod.get(method);
    if (!route) return { ok: false, status: 405, allow: allowHeader(g.byMethod), reason: `${method} is not allowed on ${g.prefix}:${any.param!.name}` };
    if (any.param!.kind === 'digest' && !DIGEST.test(param)) {
      return { ok: false, status: 400, reason: `invalid digest "${param.slice(0, 80)}": expected sha256:<64 hex digits>` };
    }
    return { ok: true, route, upstreamPath: g.prefix + param, param };
  }
  return { ok: false, status: 404, reason: 'no such route' };
}

/** The parameter value, or null when its spelling is not acceptable for its kind. */
function canonicalParam(kind: 'model' | 'digest' | 'opaque', seg: string): string | null {
  if (seg.length > 400) return null;
  if (kind === 'model') {
    if (!MODEL_SEGMENT.test(seg)) return null;
    let decoded: string;
    try {
      decoded = seg.includes('%') ? decodeURIComponent(seg) : seg;
    } catch {
      return null;
    }
    // After decoding it is still one path segment of plain name characters.
    return /^[A-Za-z0-9._:-]+$/.test(decoded) && !decoded.includes('..') && decoded !== '.' ? decoded : null;
  }
  if (kind === 'digest') return /^[A-Za-z0-9:-]+$/.test(seg) ? seg : null;
  return OPAQUE_SEGMENT.test(seg) ? seg : null;
}

function allowHeader(m: Map<string, RouteDef>): string {
  return [...m.keys()].join(', ');
}

export type { HttpMethod };
