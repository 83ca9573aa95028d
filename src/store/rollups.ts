import { binOf, toPairs } from './histogram.js';
import type { NewAuditRecord } from './types.js';

/**
 * Roll-ups: per minute, hour and day (bucket start, ms UTC), per principal, model and node, the
 * counts and histograms (store/histogram.ts) the usage reports and the console's charts read
 * instead of the audit rows. Both backends keep them in the transaction that appends a batch;
 * this module turns a batch into the rows to add, so each (grain, bucket, principal, model, node)
 * is upserted once per batch. A missing principal, model or node is stored as '' (key columns
 * cannot be NULL) and read back as null.
 */

export const GRAIN_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
export type Grain = keyof typeof GRAIN_MS;
export const GRAINS: readonly Grain[] = ['minute', 'hour', 'day'];

/** What a batch adds to one row of either roll-up table. Histograms as sparse pairs, bins ascending. */
interface Additions {
  grain: number;
  bucket: number;
  requests: number;
  refused: number;
  promptTokens: number;
  completionTokens: number;
  ttft: number[];
  duration: number[];
}

/** One roll-up row's additions from a batch. */
export interface RollupDelta extends Additions {
  principalId: string;
  model: string;
  node: string;
}

/**
 * The dimensions roll-ups are also kept by one at a time (tables `rollups_by`): a chart of the
 * whole gateway split by key, model or node then reads one row per bucket and key (or model, or
 * node) instead of one per key × model × node. Without them, a 7-day hourly series over 50 keys,
 * 8 models and 3 nodes read ~200k rows, ~1 s on PostgreSQL at 10M audit rows; with them, ~8k.
 * The whole gateway's own series reads the node rows (fewest), added up.
 */
export const DIMS = ['key', 'model', 'node'] as const;
export type Dim = (typeof DIMS)[number];

/** The `rollups` column each dimension's value comes from. */
const DIM_COLUMN: Record<Dim, string> = { key: 'principal_id', model: 'model', node: 'node' };

/**
 * The roll-ups by one dimension rebuilt from the full roll-ups, not from the audit rows (day
 * roll-ups outlive the records they came from); the same SQL on both backends, whose
 * `gh_hist_sum` aggregate adds histograms up (sqlite/rollups.ts, postgres/rollups.ts). Run by the
 * migration that adds them, and after a full backfill.
 */
export const DIM_BACKFILL = `
  DELETE FROM rollups_by;
  ${DIMS.map((d) => `INSERT INTO rollups_by (grain, dim, bucket, value, requests, refused, prompt_tokens, completion_tokens, ttft, duration)
    SELECT grain, '${d}', bucket, ${DIM_COLUMN[d]}, SUM(requests), SUM(refused), SUM(prompt_tokens), SUM(completion_tokens), gh_hist_sum(ttft), gh_hist_sum(duration)
    FROM rollups GROUP BY grain, bucket, ${DIM_COLUMN[d]};`).join('\n  ')}
`;

/** One `rollups_by` row's additions from a batch: the rows of one key (model, node) added up. */
export interface DimDelta extends Additions {
  dim: Dim;
  /** The key id, model or node ('' for none). */
  value: string;
}

/** The latest name seen for a principal in a batch (labels in reports). */
export interface LabelDelta {
  principalId: string;
  name: string;
  at: number;
}

interface Acc extends Omit<RollupDelta, 'ttft' | 'duration'> {
  ttft: Map<number, number>;
  duration: Map<number, number>;
}

interface DimAcc extends Omit<DimDelta, 'ttft' | 'duration'> {
  ttft: Map<number, number>;
  duration: Map<number, number>;
}

const bump = (m: Map<number, number>, bin: number, n = 1): void => void m.set(bin, (m.get(bin) ?? 0) + n);

const valueOf = (a: Acc, dim: Dim): string => (dim === 'key' ? a.principalId : dim === 'model' ? a.model : a.node);

/** The batch's full rows added up per grain, bucket and one dimension (fewer rows than records: a batch spans a second or so). */
function dimsOf(acc: Iterable<Acc>): DimDelta[] {
  const out = new Map<string, DimAcc>();
  for (const a of acc) {
    for (const dim of DIMS) {
      const value = valueOf(a, dim);
      const key = `${a.grain}\u0000${a.bucket}\u0000${dim}\u0000${value}`;
      let d = out.get(key);
      if (!d) out.set(key, (d = { grain: a.grain, bucket: a.bucket, dim, value, requests: 0, refused: 0, promptTokens: 0, completionTokens: 0, ttft: new Map(), duration: new Map() }));
      d.requests += a.requests;
      d.refused += a.refused;
      d.promptTokens += a.promptTokens;
      d.completionTokens += a.completionTokens;
      for (const [bin, n] of a.ttft) bump(d.ttft, bin, n);
      for (const [bin, n] of a.duration) bump(d.duration, bin, n);
    }
  }
  return [...out.keys()].sort().map((k) => {
    const d = out.get(k)!;
    return { ...d, ttft: toPairs(d.ttft), duration: toPairs(d.duration) };
  });
}

/** The fields of an audit record the roll-ups read. */
export type RollupSource = Pick<NewAuditRecord, 'at' | 'principalId' | 'principalName' | 'model' | 'node' | 'decision' | 'promptTokens' | 'completionTokens' | 'ttfbMs' | 'durationMs'>;

/** A batch of audit records → the roll-up rows to add, full and by one dimension (each sorted by key, so concurrent writers lock rows in one order), and labels. */
export function rollupBatch(records: readonly RollupSource[]): { rows: RollupDelta[]; dims: DimDelta[]; labels: LabelDelta[] } {
  const acc = new Map<string, Acc>();
  const labels = new Map<string, LabelDelta>();
  for (const r of records) {
    const p = r.principalId ?? '';
    const model = r.model ?? '';
    const node = r.node ?? '';
    const allowed = r.decision === 'allowed';
    const tBin = allowed && r.ttfbMs !== null ? binOf(r.ttfbMs) : -1;
    const dBin = allowed ? binOf(r.durationMs) : -1;
    for (const g of GRAINS) {
      const size = GRAIN_MS[g];
      const bucket = Math.floor(r.at / size) * size;
      const key = `${size}\u0000${bucket}\u0000${p}\u0000${model}\u0000${node}`;
      let a = acc.get(key);
      if (!a) acc.set(key, (a = { grain: size, bucket, principalId: p, model, node, requests: 0, refused: 0, promptTokens: 0, completionTokens: 0, ttft: new Map(), duration: new Map() }));
      a.requests++;
      if (!allowed) a.refused++;
      a.promptTokens += r.promptTokens ?? 0;
      a.completionTokens += r.completionTokens ?? 0;
      if (tBin >= 0) bump(a.ttft, tBin);
      if (dBin >= 0) bump(a.duration, dBin);
    }
    if (r.principalId !== null && r.principalName !== null) {
      const l = labels.get(r.principalId);
      if (!l || r.at >= l.at) labels.set(r.principalId, { principalId: r.principalId, name: r.principalName, at: r.at });
    }
  }
  const keys = [...acc.keys()].sort();
  const rows = keys.map((k) => {
    const a = acc.get(k)!;
    return { ...a, ttft: toPairs(a.ttft), duration: toPairs(a.duration) };
  });
  return { rows, dims: dimsOf(acc.values()), labels: [...labels.values()].sort((x, y) => (x.principalId < y.principalId ? -1 : 1)) };
}

/** What a report reads: one stored roll-up row, or one audit record in the same shape (the period's ragged edges). */
export interface RollupRow {
  bucket: number;
  principalId: string | null;
  /** The principal's latest name. */
  label: string | null;
  model: string | null;
  node: string | null;
  requests: number;
  refused: number;
  promptTokens: number;
  completionTokens: number;
  ttft: readonly number[];
  duration: readonly number[];
}

/** Rows of one grain with from ≤ bucket < to, or (`raw`) audit records with from ≤ at < to, filtered. */
export interface RollupQuery {
  grain: Grain | 'raw';
  from: number;
  to: number;
  principalId?: string;
  model?: string;
  node?: string;
  /**
   * Read the roll-ups kept by this one dimension (`rollups_by`): rows carry only its value (the
   * other two come back null), and only its filter may be set. Ignored by `raw`.
   */
  dim?: Dim;
  /** Only this histogram (the other comes back empty): a report reads one, and parsing is most of its cost. */
  hist?: 'ttft' | 'duration';
}

/** '' (stored "none") → null. */
export const none = (v: unknown): string | null => (v === '' || v === null || v === undefined ? null : String(v));

/** An audit row (SELECT of RAW_COLUMNS) as a roll-up row of one request. */
export function rawAsRollup(r: Record<string, unknown>): RollupRow {
  const allowed = r.decision === 'allowed';
  const ttfb = r.ttfb_ms === null || r.ttfb_ms === undefined ? null : Number(r.ttfb_ms);
  return {
    bucket: Number(r.at), principalId: none(r.principal_id), label: (r.label as string | null) ?? (r.principal_name as string | null) ?? null,
    model: none(r.model), node: none(r.node), requests: 1, refused: allowed ? 0 : 1,
    promptTokens: Number(r.prompt_tokens ?? 0), completionTokens: Number(r.completion_tokens ?? 0),
    ttft: allowed && ttfb !== null ? [binOf(ttfb), 1] : [], duration: allowed ? [binOf(Number(r.duration_ms)), 1] : [],
  };
}

/** Stored roll-up row (either backend: pg gives int8 as text) → RollupRow; `hist` parses the stored histogram. */
export function rollupFromRow(r: Record<string, unknown>, hist: (v: unknown) => readonly number[]): RollupRow {
  return {
    bucket: Number(r.bucket), principalId: none(r.principal_id), label: (r.label as string | null) ?? null, model: none(r.model), node: none(r.node),
    requests: Number(r.requests), refused: Number(r.refused), promptTokens: Number(r.prompt_tokens), completionTokens: Number(r.completion_tokens),
    ttft: r.ttft === undefined ? [] : hist(r.ttft), duration: r.duration === undefined ? [] : hist(r.duration),
  };
}

/** Columns of an audit row a `raw` read needs (rawAsRollup). */
const RAW_COLUMNS = 'a.at, a.principal_id, a.principal_name, l.name AS label, a.model, a.node, a.decision, a.prompt_tokens, a.completion_tokens, a.ttfb_ms, a.duration_ms';

/**
 * The one SELECT of a RollupQuery, for either backend (`ph(i)` renders the i-th placeholder,
 * 0-based). Stored rows are found by their key's prefix (grain, bucket); audit rows by `at`.
 */
export function rollupSelectSql(q: RollupQuery, ph: (i: number) => string): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const p = (v: unknown): string => (params.push(v), ph(params.length - 1));
  if (q.grain === 'raw') {
    const where = [`a.at >= ${p(q.from)}`, `a.at < ${p(q.to)}`];
    if (q.principalId !== undefined) where.push(`a.principal_id = ${p(q.principalId)}`);
    if (q.model !== undefined) where.push(q.model === '' ? 'a.model IS NULL' : `a.model = ${p(q.model)}`);
    if (q.node !== undefined) where.push(q.node === '' ? 'a.node IS NULL' : `a.node = ${p(q.node)}`);
    return { sql: `SELECT ${RAW_COLUMNS} FROM audit a LEFT JOIN rollup_labels l ON l.principal_id = a.principal_id WHERE ${where.join(' AND ')}`, params };
  }
  const hists = q.hist === 'ttft' ? 'r.ttft' : q.hist === 'duration' ? 'r.duration' : 'r.ttft, r.duration';
  if (q.dim !== undefined) {
    const filter = q.dim === 'key' ? q.principalId : q.dim === 'model' ? q.model : q.node;
    const others = DIMS.filter((d) => d !== q.dim).map((d) => (d === 'key' ? q.principalId : d === 'model' ? q.model : q.node));
    if (others.some((v) => v !== undefined)) throw new Error(`roll-ups by ${q.dim} cannot be filtered by another dimension`);
    const where = [`r.grain = ${p(GRAIN_MS[q.grain])}`, `r.dim = ${p(q.dim)}`, `r.bucket >= ${p(q.from)}`, `r.bucket < ${p(q.to)}`];
    if (filter !== undefined) where.push(`r.value = ${p(filter)}`);
    const cols = { key: 'r.value AS principal_id, l.name AS label, NULL AS model, NULL AS node', model: 'NULL AS principal_id, NULL AS label, r.value AS model, NULL AS node', node: 'NULL AS principal_id, NULL AS label, NULL AS model, r.value AS node' }[q.dim];
    const join = q.dim === 'key' ? ' LEFT JOIN rollup_labels l ON l.principal_id = r.value' : '';
    const sql = `SELECT r.bucket, ${cols}, r.requests, r.refused, r.prompt_tokens, r.completion_tokens, ${hists} FROM rollups_by r${join} WHERE ${where.join(' AND ')}`;
    return { sql, params };
  }
  const where = [`r.grain = ${p(GRAIN_MS[q.grain])}`, `r.bucket >= ${p(q.from)}`, `r.bucket < ${p(q.to)}`];
  if (q.principalId !== undefined) where.push(`r.principal_id = ${p(q.principalId)}`);
  if (q.model !== undefined) where.push(`r.model = ${p(q.model)}`);
  if (q.node !== undefined) where.push(`r.node = ${p(q.node)}`);
  const sql = `SELECT r.bucket, r.principal_id, l.name AS label, r.model, r.node, r.requests, r.refused, r.prompt_tokens, r.completion_tokens, ${hists}
    FROM rollups r LEFT JOIN rollup_labels l ON l.principal_id = r.principal_id WHERE ${where.join(' AND ')}`;
  return { sql, params };
}

/** Buckets of one grain deleted per prune statement: a few hundred rows per bucket at most (keys × models × nodes), so each holds the write lock briefly. `remove` deletes them from `rollups` and `rollups_by` alike. */
const PRUNE_BUCKETS = 5;

/**
 * Deletes the minute and hour roll-ups that end by `before` (bucket + size <= before), a few
 * buckets per statement, oldest first; day roll-ups stay. `oldest` reads the first bucket of a grain,
 * `remove` deletes that grain's buckets below a bound; `pause` runs between statements. Both
 * backends' prune (sqlite/writes.ts, postgres/audit.ts).
 */
export async function pruneRollups(before: number, o: { oldest(size: number): Promise<number | null> | number | null; remove(size: number, below: number): Promise<unknown> | unknown; pause?: () => Promise<void> }): Promise<void> {
  for (const size of [GRAIN_MS.minute, GRAIN_MS.hour]) {
    const end = before - size + 1;
    for (;;) {
      const oldest = await o.oldest(size);
      if (oldest === null || oldest >= end) break;
      await o.remove(size, Math.min(oldest + PRUNE_BUCKETS * size, end));
      await o.pause?.();
    }
  }
}
