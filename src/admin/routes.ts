import type { z } from 'zod';
import type { HttpMethod } from '../core/types.js';
import { admin as adminDialect } from '../dialects/admin.js';
import type { RouteDef } from '../routes/table.js';
import * as S from './schemas.js';

/**
 * The admin API's routes (/admin/v1): one row each, read by the matcher below, the handlers
 * (api.ts), the OpenAPI document (openapi.ts) and the tests (the 401/403 matrix is generated from
 * this list). Matching is exact, as for the Ollama routes (routes/match.ts): `{id}` is one path
 * segment of plain characters; anything else is 404. Nothing here is ever forwarded.
 *
 * Reading needs `admin:read`, changing keys `admin:keys`, changing policies `admin` (each admin scope
 * includes the weaker ones; the console's viewer, operator and admin roles). The self-service rows
 * (`/admin/v1/me/keys`) need `keys:self` and act only on the caller's own keys (admin/me-keys.ts).
 */

export const ADMIN_PREFIX = '/admin/v1';

export interface AdminRoute {
  /** Audit and metrics route id: `admin.<resource>.<verb>`. */
  readonly id: string;
  readonly method: HttpMethod;
  /** OpenAPI form: `{id}` is a path parameter. */
  readonly path: string;
  readonly summary: string;
  readonly query: z.ZodType;
  /** null: the route takes no body (one sent is refused). */
  readonly body: z.ZodType | null;
  /** `csv`: with format=csv the same answer comes as text/csv. */
  readonly ok: { readonly status: 200 | 201; readonly schema: z.ZodType; readonly description: string; readonly csv?: boolean };
  /** Error statuses this route answers itself, besides those every admin route can (400 query, 401, 403, 404 route, 413, 429, 503). */
  readonly errors: readonly number[];
  /** Whether it changes stored state (written to the admin trail). */
  readonly changes: boolean;
  /**
   * The scope the caller needs (a stronger admin scope will do: core/types.ts scopeGrants):
   * `admin:read` to read, `admin:keys` to change keys, `admin` to change policies, `keys:self` for
   * the caller's own personal keys.
   */
  readonly scope: 'admin:read' | 'admin:keys' | 'admin' | 'keys:self';
  /** The row the request path carries (call.route): its scope, answered locally. */
  readonly def: RouteDef;
}

/** Reading needs admin:read; changing a key admin:keys; any other change (policies) admin. */
const defaultScope = (r: { method: HttpMethod; path: string }): AdminRoute['scope'] =>
  r.method === 'GET' || r.method === 'HEAD' ? 'admin:read' : r.path.startsWith(`${ADMIN_PREFIX}/keys`) ? 'admin:keys' : 'admin';

const row = (r: Omit<AdminRoute, 'def' | 'query' | 'scope'> & { query?: z.ZodType; scope?: AdminRoute['scope'] }): AdminRoute => {
  const scope = r.scope ?? defaultScope(r);
  return Object.freeze({
    ...r,
    query: r.query ?? S.NoQuery,
    scope,
    def: Object.freeze<RouteDef>({ id: r.id, method: r.method, path: r.path, scope, body: 'none', dialect: adminDialect, modelFields: [], accounting: 'none', local: 'admin' }),
  });
};

const K = `${ADMIN_PREFIX}/keys`;
const P = `${ADMIN_PREFIX}/policies`;
const ME = `${ADMIN_PREFIX}/me/keys`;

export const ADMIN_ROUTES: readonly AdminRoute[] = Object.freeze([
  row({ id: 'admin.openapi', method: 'GET', path: `${ADMIN_PREFIX}/openapi.json`, summary: 'This document', body: null, ok: { status: 200, schema: S.OpenApiDoc, description: 'The OpenAPI 3.1 document' }, errors: [], changes: false }),
  row({ id: 'admin.keys.list', method: 'GET', path: K, summary: 'List keys (never a hash or secret)', body: null, ok: { status: 200, schema: S.KeyList, description: 'Every key, revoked ones included' }, errors: [], changes: false }),
  row({ id: 'admin.keys.create', method: 'POST', path: K, summary: 'Create an API key; its secret is in this answer only', body: S.KeyCreate, ok: { status: 201, schema: S.KeyWithSecret, description: 'The key and its secret (shown once)' }, errors: [404, 409], changes: true }),
  row({ id: 'admin.keys.show', method: 'GET', path: `${K}/{id}`, summary: 'One key, by id or unique name', body: null, ok: { status: 200, schema: S.Key, description: 'The key' }, errors: [409], changes: false }),
  row({ id: 'admin.keys.update', method: 'PATCH', path: `${K}/{id}`, summary: 'Change a key\'s name, grants, expiry or policy', body: S.KeyUpdate, ok: { status: 200, schema: S.Key, description: 'The key as changed' }, errors: [409], changes: true }),
  row({ id: 'admin.keys.revoke', method: 'POST', path: `${K}/{id}/revoke`, summary: 'Revoke a key (refused by every gateway within a second)', body: S.Empty, ok: { status: 200, schema: S.Key, description: 'The key, revoked' }, errors: [409], changes: true }),
  row({ id: 'admin.keys.rotate', method: 'POST', path: `${K}/{id}/rotate`, summary: 'A new secret for an API key; the old one works until the overlap ends', body: S.KeyRotate, ok: { status: 200, schema: S.KeyWithSecret, description: 'The key and its new secret (shown once)' }, errors: [409], changes: true }),
  row({ id: 'admin.me.keys.list', scope: 'keys:self', method: 'GET', path: ME, summary: 'Your personal keys (a signed-in identity with keys:self)', body: null, ok: { status: 200, schema: S.KeyList, description: 'Your keys, revoked ones included' }, errors: [], changes: false }),
  row({ id: 'admin.me.keys.create', scope: 'keys:self', method: 'POST', path: ME, summary: 'A personal key under your policy; its secret is in this answer only', body: S.MyKeyCreate, ok: { status: 201, schema: S.KeyWithSecret, description: 'The key and its secret (shown once)' }, errors: [409], changes: true }),
  row({ id: 'admin.me.keys.revoke', scope: 'keys:self', method: 'POST', path: `${ME}/{id}/revoke`, summary: 'Revoke one of your personal keys', body: S.Empty, ok: { status: 200, schema: S.Key, description: 'The key, revoked' }, errors: [], changes: true }),
  row({ id: 'admin.policies.list', method: 'GET', path: P, summary: 'List policies', query: S.PolicyListQuery, body: null, ok: { status: 200, schema: S.PolicyList, description: 'Policies that are not deleted, by name (deleted=true: all)' }, errors: [], changes: false }),
  row({ id: 'admin.policies.create', method: 'POST', path: P, summary: 'Create a policy', body: S.PolicyCreate, ok: { status: 201, schema: S.Policy, description: 'The policy' }, errors: [409], changes: true }),
  row({ id: 'admin.policies.show', method: 'GET', path: `${P}/{id}`, summary: 'One policy, by id or name', body: null, ok: { status: 200, schema: S.Policy, description: 'The policy' }, errors: [], changes: false }),
  row({ id: 'admin.policies.update', method: 'PATCH', path: `${P}/{id}`, summary: 'Change a policy (every key that uses it follows within a second)', body: S.PolicyUpdate, ok: { status: 200, schema: S.Policy, description: 'The policy as changed' }, errors: [409], changes: true }),
  row({ id: 'admin.policies.delete', method: 'DELETE', path: `${P}/{id}`, summary: 'Delete a policy no key that is not revoked uses', body: null, ok: { status: 200, schema: S.Policy, description: 'The policy, deleted' }, errors: [409], changes: true }),
  row({ id: 'admin.usage', method: 'GET', path: `${ADMIN_PREFIX}/usage`, summary: 'Requests, refusals, tokens and latency per key, model, node, day or hour (what `gatehouse usage` shows)', query: S.UsageQuery, body: null, ok: { status: 200, schema: S.UsageReport, description: 'The report (format=csv: its rows as text/csv)', csv: true }, errors: [], changes: false }),
  row({ id: 'admin.usage.series', method: 'GET', path: `${ADMIN_PREFIX}/usage/series`, summary: 'Requests, refusals, tokens and TTFT p50/p95 over time, per key, model or node (the console\'s charts)', query: S.SeriesQuery, body: null, ok: { status: 200, schema: S.UsageSeries, description: 'One series per group (top 10 by requests, then "other"), one point per bucket' }, errors: [], changes: false }),
  row({ id: 'admin.audit', method: 'GET', path: `${ADMIN_PREFIX}/audit`, summary: 'Request records, paginated with afterId/limit (what `gatehouse audit` shows)', query: S.AuditQuery, body: null, ok: { status: 200, schema: S.AuditPage, description: 'One page of records' }, errors: [], changes: false }),
  row({ id: 'admin.audit.admin', method: 'GET', path: `${ADMIN_PREFIX}/audit/admin`, summary: 'The admin trail: who changed keys, policies and configuration (`gatehouse audit --admin`)', query: S.AdminEventQuery, body: null, ok: { status: 200, schema: S.AdminEventPage, description: 'One page of events' }, errors: [], changes: false }),
  row({ id: 'admin.config', scope: 'admin', method: 'GET', path: `${ADMIN_PREFIX}/config`, summary: 'The configuration this gateway runs with (passwords in URLs hidden; `gatehouse config check --json`)', body: null, ok: { status: 200, schema: S.ConfigView, description: 'The effective configuration' }, errors: [], changes: false }),
  row({ id: 'admin.doctor', scope: 'admin', method: 'GET', path: `${ADMIN_PREFIX}/doctor`, summary: 'The doctor\'s findings as this gateway sees them (the probe around the gateway stays with `gatehouse doctor` on the host)', body: null, ok: { status: 200, schema: S.DoctorView, description: 'Findings, most severe first' }, errors: [], changes: false }),
  row({ id: 'admin.nodes', method: 'GET', path: `${ADMIN_PREFIX}/nodes`, summary: 'The Ollama nodes as this gateway process sees them (`gatehouse nodes --json`); 404 without upstreams', body: null, ok: { status: 200, schema: S.Nodes, description: 'The live fleet view' }, errors: [], changes: false }),
]);

export type AdminMatch =
  | { ok: true; route: AdminRoute; params: Record<string, string> }
  | { ok: false; status: 404 | 405; allow?: string; reason: string };

const SEGMENT = /^[A-Za-z0-9._~:@-]{1,200}$/;
const split = (p: string): string[] => p.slice(ADMIN_PREFIX.length + 1).split('/');
const TEMPLATES = ADMIN_ROUTES.map((r) => ({ route: r, parts: split(r.path) }));

/** Is this path the admin API's (whatever follows)? */
export function isAdminPath(path: string): boolean {
  return path === '/admin' || path.startsWith('/admin/');
}

/** Exact match on the raw path: no decoding, no trailing slash, no empty segment. */
export function matchAdminRoute(method: string, path: string): AdminMatch {
  if (!path.startsWith(`${ADMIN_PREFIX}/`)) return { ok: false, status: 404, reason: 'no such admin route' };
  const parts = split(path);
  const methods: string[] = [];
  let found: { route: AdminRoute; params: Record<string, string> } | null = null;
  for (const t of TEMPLATES) {
    if (t.parts.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let same = true;
    for (let i = 0; i < parts.length && same; i++) {
      const want = t.parts[i]!;
      const got = parts[i]!;
      if (want.startsWith('{')) {
        if (SEGMENT.test(got) && got !== '.' && got !== '..') params[want.slice(1, -1)] = got;
        else same = false;
      } else same = want === got;
    }
    if (!same) continue;
    // A literal segment wins over a parameter (`/audit/admin` is not `/audit/{id}`): rows are exact first.
    if (t.route.method === method && (!found || Object.keys(found.params).length > Object.keys(params).length)) found = { route: t.route, params };
    methods.push(t.route.method);
  }
  if (found) return { ok: true, ...found };
  if (methods.length) return { ok: false, status: 405, allow: [...new Set(methods)].join(', '), reason: `${method} is not allowed on ${path}` };
  return { ok: false, status: 404, reason: 'no such admin route' };
}
