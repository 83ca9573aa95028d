import type { Scope } from '../core/types.js';
import type { AdminEvent, AuditRecord, NewAuditRecord } from './types.js';

/**
 * What the SQLite and PostgreSQL audit stores share: the column list and the row mapping. Usage
 * reports come from the roll-ups (rollups.ts, rollup-report.ts), read by the same SQL in both.
 */

export const AUDIT_COLUMNS = [
  'at', 'request_id', 'principal_id', 'principal_name', 'client_ip', 'method', 'route', 'path', 'scope', 'model', 'models',
  'decision', 'reason', 'status', 'prompt_tokens', 'completion_tokens', 'tokens_estimated', 'ttfb_ms', 'duration_ms',
  'bytes_in', 'bytes_out', 'client_aborted', 'stream', 'upstream', 'upstream_error', 'node',
] as const;

/** A record's values in AUDIT_COLUMNS order (booleans as JS booleans; each backend adapts). */
export function auditValues(r: NewAuditRecord): unknown[] {
  return [
    r.at, r.requestId, r.principalId, r.principalName, r.clientIp, r.method, r.route, r.path, r.scope, r.model, JSON.stringify(r.models),
    r.decision, r.reason, r.status, r.promptTokens, r.completionTokens, r.tokensEstimated, r.ttfbMs, r.durationMs,
    r.bytesIn, r.bytesOut, r.clientAborted, r.stream, r.upstream, r.upstreamError, r.node,
  ];
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));
const bool = (v: unknown): boolean => v === true || v === 1 || v === '1' || v === 't';
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

/** Row → record for either backend (SQLite: 0/1 and JSON text; pg: int8 as text, booleans, jsonb). */
export function auditFromRow(r: Record<string, unknown>): AuditRecord {
  return {
    id: num(r.id), at: num(r.at), requestId: r.request_id as string, principalId: (r.principal_id as string | null) ?? null,
    principalName: (r.principal_name as string | null) ?? null, clientIp: r.client_ip as string, method: r.method as string,
    route: (r.route as string | null) ?? null, path: (r.path as string | null) ?? null, scope: (r.scope as Scope | null) ?? null,
    model: (r.model as string | null) ?? null, models: json<string[]>(r.models), decision: r.decision as 'allowed' | 'refused',
    reason: (r.reason as string | null) ?? null, status: num(r.status), promptTokens: numOrNull(r.prompt_tokens),
    completionTokens: numOrNull(r.completion_tokens), tokensEstimated: bool(r.tokens_estimated), ttfbMs: numOrNull(r.ttfb_ms),
    durationMs: num(r.duration_ms), bytesIn: num(r.bytes_in), bytesOut: num(r.bytes_out), clientAborted: bool(r.client_aborted),
    stream: bool(r.stream), upstream: (r.upstream as string | null) ?? null, upstreamError: (r.upstream_error as string | null) ?? null,
    node: (r.node as string | null) ?? null,
  };
}

export function adminFromRow(r: Record<string, unknown>): AdminEvent {
  return { id: num(r.id), at: num(r.at), actor: r.actor as string, action: r.action as string, keyId: (r.key_id as string | null) ?? null, detail: json<Record<string, unknown>>(r.detail) };
}

/** Deleting old records in slices keeps each transaction (and lock) short (PostgreSQL; SQLite uses smaller ones). */
export const PRUNE_SLICE = 5000;
