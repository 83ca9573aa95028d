import { usageWithTotal } from './rollup-report.js';
import type { AuditStore, UsageQuery, UsageRow } from './types.js';

/** A report with no request in it. */
export const EMPTY_USAGE: UsageRow = { group: null, label: null, requests: 0, refused: 0, promptTokens: 0, completionTokens: 0, p50Ms: null, p95Ms: null };

/**
 * A usage report as `gatehouse usage` and `GET /admin/v1/usage` give it: the rows for the grouping
 * asked for, and the whole period's total (with its own percentiles, which no sum of rows gives).
 */
export async function usageReport(audit: Pick<AuditStore, 'usage' | 'rollups'>, q: UsageQuery): Promise<{ rows: UsageRow[]; total: UsageRow }> {
  // A store of its own: one read of the roll-ups gives both; through a gateway, two reports.
  if (audit.rollups) {
    const read = audit.rollups.bind(audit);
    const { rows, total } = await usageWithTotal(read, q);
    return { rows, total: total ?? EMPTY_USAGE };
  }
  const [rows, [all]] = await Promise.all([audit.usage(q), audit.usage({ ...q, by: 'all' })]);
  return { rows, total: all ?? EMPTY_USAGE };
}
