import { addPairs, newHist, percentile, type Hist } from './histogram.js';
import { GRAIN_MS, type Dim, type Grain, type RollupQuery, type RollupRow } from './rollups.js';
import type { UsageGroupBy, UsageQuery, UsageRow } from './types.js';

/**
 * Usage reports and time series computed from roll-up rows (store/rollups.ts): the SQL only
 * selects rows by grain, time and filter; adding them up, histograms included, happens here, the
 * same for both backends. Counts and tokens are exact; percentiles are within the histogram's
 * error (store/histogram.ts).
 */

type ReadRollups = (q: RollupQuery) => Promise<RollupRow[]>;

const FINER: Record<Grain, Grain | 'raw'> = { day: 'hour', hour: 'minute', minute: 'raw' };

/**
 * [since, until) as whole days, then whole hours, then whole minutes at its ends, then the raw
 * audit records of the seconds left over: exact for any period, reading at most a few hundred
 * roll-up rows per key, model and node beyond the whole days.
 */
export function decompose(since: number, until: number, coarsest: Grain): Array<Pick<RollupQuery, 'grain' | 'from' | 'to'>> {
  const out: Array<Pick<RollupQuery, 'grain' | 'from' | 'to'>> = [];
  const walk = (from: number, to: number, g: Grain | 'raw'): void => {
    if (from >= to) return;
    if (g === 'raw') return void out.push({ grain: 'raw', from, to });
    const size = GRAIN_MS[g];
    const a = Math.ceil(from / size) * size;
    const b = Math.floor(to / size) * size;
    if (a >= b) return walk(from, to, FINER[g]);
    out.push({ grain: g, from: a, to: b });
    walk(from, a, FINER[g]);
    walk(b, to, FINER[g]);
  };
  walk(since, until, coarsest);
  return out;
}

/** The filters a report may set. */
type Filters = Pick<RollupQuery, 'principalId' | 'model' | 'node'>;

/**
 * Which roll-ups by one dimension (store/rollups.ts DIMS) answer a report grouped by `by` (null:
 * by time or not at all) under `filters`, or undefined when only the full rows do: grouped by a
 * dimension, with no filter but on that one; by time, with at most one filter (or none: the node
 * rows, fewest, added up).
 */
export function dimFor(by: Dim | null, filters: Filters): Dim | undefined {
  const set: Dim[] = [];
  if (filters.principalId !== undefined) set.push('key');
  if (filters.model !== undefined) set.push('model');
  if (filters.node !== undefined) set.push('node');
  if (by !== null) return set.every((d) => d === by) ? by : undefined;
  return set.length === 0 ? 'node' : set.length === 1 ? set[0] : undefined;
}

const dimOfGroup = (by: UsageGroupBy): Dim | null => (by === 'key' || by === 'model' || by === 'node' ? by : null);

interface Group {
  key: string | number | null;
  label: string | null;
  requests: number;
  refused: number;
  promptTokens: number;
  completionTokens: number;
  ttft: Hist | null;
  duration: Hist | null;
}

const newGroup = (key: string | number | null): Group => ({ key, label: null, requests: 0, refused: 0, promptTokens: 0, completionTokens: 0, ttft: null, duration: null });

function add(g: Group, r: RollupRow): void {
  g.requests += r.requests;
  g.refused += r.refused;
  g.promptTokens += r.promptTokens;
  g.completionTokens += r.completionTokens;
  if (r.ttft.length) addPairs((g.ttft ??= newHist()), r.ttft);
  if (r.duration.length) addPairs((g.duration ??= newHist()), r.duration);
  if (g.label === null && r.label !== null) g.label = r.label;
}

function groupOf(by: UsageGroupBy, r: RollupRow): string | number | null {
  switch (by) {
    case 'key': return r.principalId;
    case 'model': return r.model;
    case 'node': return r.node;
    case 'day': return Math.floor(r.bucket / GRAIN_MS.day) * GRAIN_MS.day;
    case 'hour': return Math.floor(r.bucket / GRAIN_MS.hour) * GRAIN_MS.hour;
    case 'all': return null;
  }
}

/** The usage report (store/types.ts UsageRow: p50/p95 of duration, allowed requests) from roll-ups. */
export async function usageFromRollups(read: ReadRollups, q: UsageQuery): Promise<UsageRow[]> {
  return (await usageWithTotal(read, q)).rows;
}

/**
 * The report's rows and the whole period's total (its own percentiles, which no sum of rows
 * gives), from one read of the roll-ups.
 */
export async function usageWithTotal(read: ReadRollups, q: UsageQuery): Promise<{ rows: UsageRow[]; total: UsageRow | null }> {
  const parts = decompose(q.since, q.until, q.by === 'hour' ? 'hour' : 'day');
  const filter: Filters = q.principalId !== undefined ? { principalId: q.principalId } : {};
  const dim = dimFor(dimOfGroup(q.by), filter);
  const chunks = await Promise.all(parts.map((p) => read({ ...p, ...filter, ...(dim ? { dim } : {}), hist: 'duration' })));
  const groups = new Map<string | number | null, Group>();
  const total = newGroup(null);
  for (const rows of chunks) {
    for (const r of rows) {
      const k = groupOf(q.by, r);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = newGroup(k)));
      add(g, r);
      if (q.by !== 'all') add(total, r);
    }
  }
  const view = (g: Group): UsageRow => ({
    group: g.key, label: q.by === 'key' && g.key !== null ? g.label : null, requests: g.requests, refused: g.refused,
    promptTokens: g.promptTokens, completionTokens: g.completionTokens,
    p50Ms: g.duration ? percentile(g.duration, 50) : null, p95Ms: g.duration ? percentile(g.duration, 95) : null,
  });
  const out = [...groups.values()].map(view);
  if (q.by === 'day' || q.by === 'hour') out.sort((a, b) => (a.group as number) - (b.group as number));
  else out.sort((a, b) => b.requests - a.requests || (a.group === null ? 1 : 0) - (b.group === null ? 1 : 0) || String(a.group).localeCompare(String(b.group)));
  const t = q.by === 'all' ? (out[0] ?? null) : total.requests > 0 ? { ...view(total), label: null } : null;
  return { rows: out, total: t };
}

export type SeriesBy = 'key' | 'model' | 'node' | 'none';

export interface SeriesQuery {
  /** Aligned to the grain. */
  since: number;
  until: number;
  grain: Grain;
  by: SeriesBy;
  principalId?: string;
  model?: string;
  node?: string;
}

export interface SeriesPoint {
  t: number;
  requests: number;
  refused: number;
  promptTokens: number;
  completionTokens: number;
  ttftP50Ms: number | null;
  ttftP95Ms: number | null;
}

export interface Series {
  /** The key id, model or node; null for requests without one, for `by=none`, and for "other". */
  group: string | null;
  label: string | null;
  points: SeriesPoint[];
}

/** How many groups get a series of their own; the rest are summed into one labelled "other". */
export const SERIES_TOP = 10;

/** One series per group (the SERIES_TOP with most requests, then "other"), one point per bucket, zeros included. */
export async function seriesFromRollups(read: ReadRollups, q: SeriesQuery): Promise<Series[]> {
  const size = GRAIN_MS[q.grain];
  const n = Math.max(0, Math.round((q.until - q.since) / size));
  const filters: Filters = {
    ...(q.principalId !== undefined ? { principalId: q.principalId } : {}), ...(q.model !== undefined ? { model: q.model } : {}), ...(q.node !== undefined ? { node: q.node } : {}),
  };
  const by: UsageGroupBy = q.by === 'none' ? 'all' : q.by;
  const dim = dimFor(dimOfGroup(by), filters);
  const rows = await read({ grain: q.grain, from: q.since, to: q.until, hist: 'ttft', ...filters, ...(dim ? { dim } : {}) });
  const totals = new Map<string | number | null, { requests: number; label: string | null }>();
  for (const r of rows) {
    const k = groupOf(by, r);
    const t = totals.get(k);
    if (t) t.requests += r.requests;
    else totals.set(k, { requests: r.requests, label: r.label });
  }
  const ranked = [...totals.entries()].sort((a, b) => b[1].requests - a[1].requests || String(a[0]).localeCompare(String(b[0])));
  const top = new Map(ranked.slice(0, SERIES_TOP).map(([k], i) => [k, i]));
  const other = ranked.length > SERIES_TOP ? SERIES_TOP : -1;
  const slots: Group[][] = Array.from({ length: top.size + (other >= 0 ? 1 : 0) }, () => []);
  for (const r of rows) {
    const s = top.get(groupOf(by, r)) ?? other;
    const i = Math.floor((r.bucket - q.since) / size);
    if (s < 0 || i < 0 || i >= n) continue;
    add((slots[s]![i] ??= newGroup(null)), r);
  }
  const labelOf = (k: string | number | null): string | null =>
    q.by === 'none' ? 'all' : k === null ? null : q.by === 'key' ? (totals.get(k)?.label ?? null) : String(k);
  return slots.map((points, s) => {
    const k = s === other ? null : (ranked[s]![0] as string | null);
    return {
      group: k,
      label: s === other ? 'other' : labelOf(k),
      points: Array.from({ length: n }, (_, i): SeriesPoint => {
        const g = points[i];
        return {
          t: q.since + i * size, requests: g?.requests ?? 0, refused: g?.refused ?? 0, promptTokens: g?.promptTokens ?? 0, completionTokens: g?.completionTokens ?? 0,
          ttftP50Ms: g?.ttft ? percentile(g.ttft, 50) : null, ttftP95Ms: g?.ttft ? percentile(g.ttft, 95) : null,
        };
      }),
    };
  });
}
