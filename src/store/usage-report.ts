import type { AuditStore, UsageQuery, UsageRow } from './types.js';

/** A report with no request in it. */
export const EMPTY_USAGE: UsageRow = { group: null, label: null, requests: 0, refused: 0, promptTokens: 0, completionTokens: 0, p50Ms: null, p95Ms: null };

/**
 * A usage report as `gatehouse usage` and `GET /admin/v1/usage` give it: the rows for the grouping
 * asked for, and the whole period's total (with its own percentiles, which no sum of rows gives).
 */
export async function usageReport(audit: Pick<AuditStore, 'usage'>, q: UsageQuery): Promise<{ rows: UsageRow[]; total: UsageRow }> {
  const [rows, [all]] = await Promise.all([audit.usage(q), audit.usage({ ...q, by: 'all' })]);
  return { rows, total: all ?? EMPTY_USAGE };
}
