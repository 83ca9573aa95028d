import type { z } from 'zod';
import { usageCsv } from '../store/usage-csv.js';
import { usageReport } from '../store/usage-report.js';
import type { AdminDeps, AdminHandler } from './context.js';
import { findKey } from './keys.js';
import { notFound } from './refusals.js';
import type { AdminEventQuery, AuditQuery, UsageQuery } from './schemas.js';

/** Usage, audit records, the admin trail and the nodes: read-only, the CLI's reports as JSON. */

const DAY = 86_400_000;
const PAGE = 100;
const now = (d: AdminDeps): number => (d.now ?? Date.now)();

export const usage: AdminHandler = async (d, r) => {
  const q = r.query as z.output<typeof UsageQuery>;
  const until = q.until ?? now(d);
  const since = q.since ?? until - DAY;
  const by = q.by ?? 'key';
  const principalId = q.key !== undefined ? (await findKey(d, q.key)).id : undefined;
  if (q.format === 'csv') {
    const rows = await d.audit.usage({ since, until, by, ...(principalId ? { principalId } : {}) });
    return { status: 200, body: usageCsv(by, rows), contentType: 'text/csv; charset=utf-8' };
  }
  const { rows, total } = await usageReport(d.audit, { since, until, by, ...(principalId ? { principalId } : {}) });
  return { status: 200, body: { since, until, by, key: principalId ?? null, rows, total } };
};

/** The next page starts after the last id of a full page (oldest first); null when there is no more. */
const nextAfter = (items: readonly { id: number }[], limit: number, order: 'asc' | 'desc'): number | null =>
  order === 'asc' && items.length === limit ? items[items.length - 1]!.id : null;

export const audit: AdminHandler = async (d, r) => {
  const q = r.query as z.output<typeof AuditQuery>;
  const limit = q.limit ?? PAGE;
  const order = q.order ?? 'asc';
  const principalId = q.key !== undefined ? (await findKey(d, q.key)).id : undefined;
  const records = await d.audit.query({ since: q.since, until: q.until, principalId, deniedOnly: q.denied === 'true', afterId: q.afterId, limit, order });
  return { status: 200, body: { records, nextAfterId: nextAfter(records, limit, order) } };
};

export const adminTrail: AdminHandler = async (d, r) => {
  const q = r.query as z.output<typeof AdminEventQuery>;
  const limit = q.limit ?? PAGE;
  const order = q.order ?? 'asc';
  const keyId = q.key !== undefined ? (await findKey(d, q.key)).id : undefined;
  const events = await d.audit.adminEvents({ since: q.since, until: q.until, keyId, action: q.action, afterId: q.afterId, limit, order });
  return { status: 200, body: { events, nextAfterId: nextAfter(events, limit, order) } };
};

export const nodes: AdminHandler = async (d) => {
  if (!d.fleet) throw notFound('nodes: this gateway has one upstream, not `upstreams`', 'configure upstreams (docs/fleet.md) to see nodes here');
  const s = d.fleet();
  return { status: 200, body: { source: 'gateway', processes: 1, queued: s.queued, nodes: s.nodes } };
};
