import type { Scope } from '../core/types.js';
import type { AdminEvent, AuditRecord, NewAuditRecord, UsageGroupBy, UsageQuery, UsageRow } from './types.js';

/**
 * What the SQLite and PostgreSQL audit stores share: the column list, row mapping, and the usage
 * report SQL. Both dialects run the same report text (only placeholders differ), so the contract
 * suite can demand identical answers, percentiles included.
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

const BUCKET: Record<'day' | 'hour', number> = { day: 86_400_000, hour: 3_600_000 };

function groupExpr(by: UsageGroupBy): string {
  switch (by) {
    case 'key':
      return 'principal_id';
    case 'model':
      return 'model';
    case 'all':
      // A constant that both databases accept in GROUP BY / PARTITION BY (a literal is not).
      return '(at * 0)';
    default:
      // Integer division on an integer column in both SQLite and PostgreSQL: UTC bucket start.
      return `(at / ${BUCKET[by]}) * ${BUCKET[by]}`;
  }
}

/**
 * The two report queries. `ph(i)` renders the i-th placeholder (0-based). Percentiles are nearest
 * rank (the ceil(p·n)-th smallest duration of allowed requests), computed with window functions
 * so both databases give exactly the same numbers.
 */
export function usageSql(q: UsageQuery, ph: (i: number) => string): { totals: string; percentiles: string; params: unknown[] } {
  const g = groupExpr(q.by);
  const params: unknown[] = [q.since, q.until];
  let where = `at >= ${ph(0)} AND at < ${ph(1)}`;
  if (q.principalId !== undefined) {
    params.push(q.principalId);
    where += ` AND principal_id = ${ph(2)}`;
  }
  const totals = `SELECT ${g} AS g, MAX(principal_name) AS label, COUNT(*) AS requests,
      SUM(CASE WHEN decision = 'refused' THEN 1 ELSE 0 END) AS refused,
      COALESCE(SUM(prompt_tokens), 0) AS prompt, COALESCE(SUM(completion_tokens), 0) AS completion
    FROM audit WHERE ${where} GROUP BY ${g}`;
  const percentiles = `SELECT g, MAX(CASE WHEN rn = (50 * n + 99) / 100 THEN d END) AS p50, MAX(CASE WHEN rn = (95 * n + 99) / 100 THEN d END) AS p95
    FROM (SELECT ${g} AS g, duration_ms AS d, ROW_NUMBER() OVER (PARTITION BY ${g} ORDER BY duration_ms) AS rn, COUNT(*) OVER (PARTITION BY ${g}) AS n
          FROM audit WHERE ${where} AND decision = 'allowed') t
    GROUP BY g`;
  return { totals, percentiles, params };
}

/** Joins the two result sets; time buckets oldest first, keys and models by request count. */
export function mergeUsage(by: UsageGroupBy, totals: Record<string, unknown>[], pct: Record<string, unknown>[]): UsageRow[] {
  const keyOf = (v: unknown): string => (v === null || v === undefined ? '\u0000null' : String(v));
  const p = new Map(pct.map((r) => [keyOf(r.g), r]));
  const timeBucket = by === 'day' || by === 'hour';
  const rows = totals.map((t): UsageRow => {
    const pr = p.get(keyOf(t.g));
    return {
      group: t.g === null || t.g === undefined || by === 'all' ? null : timeBucket ? num(t.g) : String(t.g),
      label: by === 'key' ? ((t.label as string | null) ?? null) : null,
      requests: num(t.requests), refused: num(t.refused), promptTokens: num(t.prompt), completionTokens: num(t.completion),
      p50Ms: pr ? numOrNull(pr.p50) : null, p95Ms: pr ? numOrNull(pr.p95) : null,
    };
  });
  if (timeBucket) rows.sort((a, b) => (a.group as number) - (b.group as number));
  else rows.sort((a, b) => b.requests - a.requests || (a.group === null ? 1 : 0) - (b.group === null ? 1 : 0) || String(a.group).localeCompare(String(b.group)));
  return rows;
}

/** Deleting old records in slices keeps each transaction (and lock) short (PostgreSQL; SQLite uses smaller ones). */
export const PRUNE_SLICE = 5000;
