import { principalFromRecord, type ResolvedPrincipal } from '../../src/auth/principal.js';
import { ROUTES, type RouteDef } from '../../src/routes/table.js';
import { RequestScope } from '../../src/request/scope.js';

/** Finished RequestScopes as the gateway hands them to observers, for unit tests. */

export function route(id: string): RouteDef {
  const r = ROUTES.find((x) => x.id === id);
  if (!r) throw new Error(`no route ${id}`);
  return r;
}

export function principal(name = 'alice', id = 'key_alice000001'): ResolvedPrincipal {
  return principalFromRecord({
    id, name, kind: 'api_key', hash: 'f'.repeat(64), hint: 'gatehouse_ab12', fingerprint: null, publicKey: null, scopes: ['inference', 'models:read'],
    models: null, limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, policyId: null, createdAt: 1, expiresAt: null, revokedAt: null,
    lastUsedAt: null, updatedAt: 1, version: 1,
  });
}

export interface ScopeInit {
  id?: string;
  route?: string | null;
  path?: string;
  method?: string;
  principal?: ResolvedPrincipal | null;
  models?: string[];
  decision?: 'allowed' | 'refused';
  reason?: string | null;
  status?: number;
  usage?: { prompt: number; completion: number; estimated: boolean } | null;
  ttfbMs?: number | null;
  overheadMs?: number | null;
  ageMs?: number;
  clientAborted?: boolean;
  upstreamError?: string | null;
  bytesIn?: number;
  bytesOut?: number;
  stream?: boolean;
}

let n = 0;
export function scope(o: ScopeInit = {}): RequestScope {
  const r = o.route === undefined ? route('chat') : o.route === null ? null : route(o.route);
  const s = new RequestScope(o.id ?? `req_t${++n}`, performance.now() - (o.ageMs ?? 12.5), '10.0.0.7', o.method ?? r?.method ?? 'GET', o.path ?? r?.path ?? '/nowhere');
  s.route = r;
  s.principal = o.principal === undefined ? principal() : o.principal;
  s.models = o.models ?? (r?.id === 'chat' ? ['registry.ollama.ai/library/llama3:latest'] : []);
  s.decision = o.decision ?? 'allowed';
  s.reason = o.reason ?? null;
  s.status = o.status ?? 200;
  s.usage = o.usage === undefined ? { prompt: 7, completion: 11, estimated: false } : o.usage;
  s.ttfbMs = o.ttfbMs === undefined ? 3.25 : o.ttfbMs;
  s.overheadMs = o.overheadMs === undefined ? 0.4 : o.overheadMs;
  s.clientAborted = o.clientAborted ?? false;
  s.upstreamError = o.upstreamError ?? null;
  s.upstream = s.decision === 'allowed' ? 'http://127.0.0.1:11434' : null;
  s.bytesIn = o.bytesIn ?? 120;
  s.bytesOut = o.bytesOut ?? 900;
  s.stream = o.stream ?? true;
  return s;
}
