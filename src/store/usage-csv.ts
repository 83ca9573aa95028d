import type { UsageGroupBy, UsageRow } from './types.js';

/** A usage report as CSV, the same for `gatehouse usage --csv` and `GET /admin/v1/usage?format=csv`. */

export const USAGE_CSV_HEADER = ['group', 'name', 'requests', 'refused', 'prompt_tokens', 'completion_tokens', 'p50_ms', 'p95_ms'];

/** RFC 4180 quoting; cells that a spreadsheet would run as a formula get a leading quote. */
export function toCsv(rows: string[][]): string {
  const cell = (c: string): string => {
    const v = /^[=+\-@\t\r]/.test(c) && !/^-?\d+(\.\d+)?$/.test(c) ? `'${c}` : c;
    return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
  };
  return rows.map((r) => r.map(cell).join(',')).join('\n');
}

/** Time buckets as ISO times (UTC), none as an empty cell. */
export function usageCsvRow(by: UsageGroupBy, r: UsageRow): string[] {
  const group = r.group === null ? '' : by === 'day' || by === 'hour' ? new Date(r.group as number).toISOString() : String(r.group);
  return [group, r.label ?? '', String(r.requests), String(r.refused), String(r.promptTokens), String(r.completionTokens), r.p50Ms === null ? '' : String(r.p50Ms), r.p95Ms === null ? '' : String(r.p95Ms)];
}

export function usageCsv(by: UsageGroupBy, rows: readonly UsageRow[]): string {
  return toCsv([USAGE_CSV_HEADER, ...rows.map((r) => usageCsvRow(by, r))]);
}
