import { addPairs, binOf, HIST_BINS, mergePairs } from '../histogram.js';
import { GRAIN_MS, GRAINS } from '../rollups.js';
import type { Db } from './open.js';

/**
 * The SQLite side of the roll-ups (store/rollups.ts): tables, the backfill from audit rows, and
 * the two SQL functions and the aggregate their SQL uses, registered on every connection
 * (open.ts) so that the backfill bins values exactly as the writer does (the same binOf).
 * Histograms are JSON text `[bin,count,…]`.
 */

export function registerRollupFunctions(db: Db): void {
  db.function('gh_bin', { deterministic: true }, (v: unknown) => (v === null ? null : binOf(Number(v))));
  db.function('gh_hist_add', { deterministic: true }, (a: unknown, b: unknown) => {
    if (b === '[]' || b === null) return a;
    if (a === '[]' || a === null) return b;
    return `[${mergePairs(JSON.parse(a as string) as number[], JSON.parse(b as string) as number[]).join(',')}]`;
  });
  // Histograms added up over a group (the backfill of roll-ups by one dimension): dense counts, pairs out.
  db.aggregate('gh_hist_sum', {
    start: () => new Float64Array(HIST_BINS),
    step: (h: Float64Array, v: unknown) => {
      if (typeof v === 'string' && v !== '[]') addPairs(h, JSON.parse(v) as number[]);
    },
    result: (h: Float64Array) => {
      const out: number[] = [];
      h.forEach((n, bin) => void (n > 0 && out.push(bin, n)));
      return `[${out.join(',')}]`;
    },
  });
}

export const ROLLUP_TABLES = `
  CREATE TABLE rollups (
    grain INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    principal_id TEXT NOT NULL,
    model TEXT NOT NULL,
    node TEXT NOT NULL,
    requests INTEGER NOT NULL,
    refused INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    ttft TEXT NOT NULL,
    duration TEXT NOT NULL,
    PRIMARY KEY (grain, bucket, principal_id, model, node)
  ) WITHOUT ROWID;
  CREATE TABLE rollup_labels (
    principal_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    at INTEGER NOT NULL
  ) WITHOUT ROWID;
`;

/** Roll-ups by one dimension (store/rollups.ts DIMS): what the unfiltered charts and reports read. */
export const DIM_TABLES = `
  CREATE TABLE rollups_by (
    grain INTEGER NOT NULL,
    dim TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    value TEXT NOT NULL,
    requests INTEGER NOT NULL,
    refused INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    ttft TEXT NOT NULL,
    duration TEXT NOT NULL,
    PRIMARY KEY (grain, dim, bucket, value)
  ) WITHOUT ROWID;
`;

/**
 * One grain's rows: its histograms first into an indexed temporary table (pairs text per key and
 * metric), then the counts joined to them (an UPDATE … FROM here was a nested loop: quadratic).
 */
const grainRows = (size: number): string => `
  INSERT INTO gh_hists (b, p, m, n, metric, pairs)
    SELECT b, p, m, n, metric, '[' || group_concat(bin || ',' || c) || ']' FROM (
      SELECT (bucket / ${size}) * ${size} AS b, p, m, n, metric, bin, SUM(c) AS c FROM gh_bins GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
    ) GROUP BY b, p, m, n, metric;
  INSERT INTO rollups (grain, bucket, principal_id, model, node, requests, refused, prompt_tokens, completion_tokens, ttft, duration)
    SELECT ${size}, c.b, c.p, c.m, c.n, c.requests, c.refused, c.pt, c.ct, COALESCE(t.pairs, '[]'), COALESCE(d.pairs, '[]')
    FROM (SELECT (bucket / ${size}) * ${size} AS b, p, m, n, SUM(requests) AS requests, SUM(refused) AS refused, SUM(pt) AS pt, SUM(ct) AS ct FROM gh_counts GROUP BY 1, 2, 3, 4) c
    LEFT JOIN gh_hists t ON t.b = c.b AND t.p = c.p AND t.m = c.m AND t.n = c.n AND t.metric = 0
    LEFT JOIN gh_hists d ON d.b = c.b AND d.p = c.p AND d.m = c.m AND d.n = c.n AND d.metric = 1;
  DELETE FROM gh_hists;`;

/**
 * Roll-ups rebuilt from every audit row, in SQL: one pass over the audit table to per-minute
 * counts and bins (temporary tables), then each grain from those. Run by migration 9 and by the
 * benchmark after seeding; about a minute for 10 million rows (docs/performance.md).
 */
export const ROLLUP_BACKFILL = `
  DELETE FROM rollups;
  DELETE FROM rollup_labels;
  CREATE TEMP TABLE gh_counts AS
    SELECT (at / 60000) * 60000 AS bucket, COALESCE(principal_id, '') AS p, COALESCE(model, '') AS m, COALESCE(node, '') AS n,
      COUNT(*) AS requests, SUM(decision = 'refused') AS refused, COALESCE(SUM(prompt_tokens), 0) AS pt, COALESCE(SUM(completion_tokens), 0) AS ct
    FROM audit GROUP BY 1, 2, 3, 4;
  CREATE TEMP TABLE gh_bins AS
    SELECT (at / 60000) * 60000 AS bucket, COALESCE(principal_id, '') AS p, COALESCE(model, '') AS m, COALESCE(node, '') AS n, 0 AS metric, gh_bin(ttfb_ms) AS bin, COUNT(*) AS c
    FROM audit WHERE decision = 'allowed' AND ttfb_ms IS NOT NULL GROUP BY 1, 2, 3, 4, 6
    UNION ALL
    SELECT (at / 60000) * 60000, COALESCE(principal_id, ''), COALESCE(model, ''), COALESCE(node, ''), 1, gh_bin(duration_ms), COUNT(*)
    FROM audit WHERE decision = 'allowed' GROUP BY 1, 2, 3, 4, 6;
  CREATE TEMP TABLE gh_hists (b INTEGER, p TEXT, m TEXT, n TEXT, metric INTEGER, pairs TEXT, PRIMARY KEY (b, p, m, n, metric)) WITHOUT ROWID;
  ${GRAINS.map((g) => grainRows(GRAIN_MS[g])).join('\n')}
  INSERT INTO rollup_labels (principal_id, name, at)
    SELECT principal_id, principal_name, MAX(at) FROM audit WHERE principal_id IS NOT NULL AND principal_name IS NOT NULL GROUP BY principal_id;
  DROP TABLE gh_counts;
  DROP TABLE gh_bins;
  DROP TABLE gh_hists;
`;

/** A batch's additions to one roll-up row (store/rollups.ts RollupDelta, in column order). */
export const UPSERT_ROLLUP = `
  INSERT INTO rollups (grain, bucket, principal_id, model, node, requests, refused, prompt_tokens, completion_tokens, ttft, duration)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (grain, bucket, principal_id, model, node) DO UPDATE SET
    requests = requests + excluded.requests, refused = refused + excluded.refused,
    prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens,
    ttft = gh_hist_add(ttft, excluded.ttft), duration = gh_hist_add(duration, excluded.duration)`;

/** A batch's additions to one roll-up by one dimension (store/rollups.ts DimDelta, in column order). */
export const UPSERT_DIM = `
  INSERT INTO rollups_by (grain, dim, bucket, value, requests, refused, prompt_tokens, completion_tokens, ttft, duration)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (grain, dim, bucket, value) DO UPDATE SET
    requests = requests + excluded.requests, refused = refused + excluded.refused,
    prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens,
    ttft = gh_hist_add(ttft, excluded.ttft), duration = gh_hist_add(duration, excluded.duration)`;

/** The latest name of a principal: a batch never moves it back to an older one. */
export const UPSERT_LABEL = `
  INSERT INTO rollup_labels (principal_id, name, at) VALUES (?, ?, ?)
  ON CONFLICT (principal_id) DO UPDATE SET name = excluded.name, at = excluded.at WHERE excluded.at >= rollup_labels.at`;

/** Oldest bucket of a grain, and one slice of its rows (a few buckets' worth) deleted. */
export const OLDEST_ROLLUP = 'SELECT MIN(bucket) AS b FROM rollups WHERE grain = ?';
export const PRUNE_ROLLUPS = 'DELETE FROM rollups WHERE grain = ? AND bucket < ?';
export const PRUNE_DIMS = 'DELETE FROM rollups_by WHERE grain = ? AND bucket < ?';
