import { HIST_BOUNDS } from '../histogram.js';
import { GRAIN_MS, GRAINS, type DimDelta, type RollupDelta, type LabelDelta } from '../rollups.js';

/**
 * The PostgreSQL side of the roll-ups (store/rollups.ts): tables, the two SQL functions (a value's
 * bin, by width_bucket over the same bounds the writer uses; two histograms added) and the
 * aggregate built on the second, and the backfill from audit rows. Histograms are integer[] pairs
 * `{bin,count,…}`.
 */

export const PG_ROLLUP_TABLES = `
  CREATE TABLE rollups (
    grain integer NOT NULL,
    bucket bigint NOT NULL,
    principal_id text NOT NULL,
    model text NOT NULL,
    node text NOT NULL,
    requests bigint NOT NULL,
    refused bigint NOT NULL,
    prompt_tokens bigint NOT NULL,
    completion_tokens bigint NOT NULL,
    ttft integer[] NOT NULL,
    duration integer[] NOT NULL,
    PRIMARY KEY (grain, bucket, principal_id, model, node)
  );
  CREATE TABLE rollup_labels (
    principal_id text PRIMARY KEY,
    name text NOT NULL,
    at bigint NOT NULL
  );
  CREATE FUNCTION gh_bin(v double precision) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT width_bucket(v, '{${HIST_BOUNDS.map(String).join(',')}}'::double precision[]) $$;
  CREATE FUNCTION gh_hist_add(a integer[], b integer[]) RETURNS integer[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
    -- Runs on every upsert that meets a stored row: one linear pass over two bin-ascending lists
    -- (a set-based SQL version cost 6× the audit insert itself).
    DECLARE
      o integer[] := '{}';
      i integer := 1;
      j integer := 1;
      na integer := coalesce(array_length(a, 1), 0);
      nb integer := coalesce(array_length(b, 1), 0);
    BEGIN
      IF nb = 0 THEN RETURN a; END IF;
      IF na = 0 THEN RETURN b; END IF;
      WHILE i <= na AND j <= nb LOOP
        IF a[i] = b[j] THEN o := o || ARRAY[a[i], a[i + 1] + b[j + 1]]; i := i + 2; j := j + 2;
        ELSIF a[i] < b[j] THEN o := o || ARRAY[a[i], a[i + 1]]; i := i + 2;
        ELSE o := o || ARRAY[b[j], b[j + 1]]; j := j + 2;
        END IF;
      END LOOP;
      IF i <= na THEN o := o || a[i:na]; END IF;
      IF j <= nb THEN o := o || b[j:nb]; END IF;
      RETURN o;
    END
  $$;
`;

/** Roll-ups by one dimension (store/rollups.ts DIMS), and the aggregate that adds histograms up over a group (their backfill). */
export const PG_DIM_TABLES = `
  CREATE TABLE rollups_by (
    grain integer NOT NULL,
    dim text NOT NULL,
    bucket bigint NOT NULL,
    value text NOT NULL,
    requests bigint NOT NULL,
    refused bigint NOT NULL,
    prompt_tokens bigint NOT NULL,
    completion_tokens bigint NOT NULL,
    ttft integer[] NOT NULL,
    duration integer[] NOT NULL,
    PRIMARY KEY (grain, dim, bucket, value)
  );
  CREATE AGGREGATE gh_hist_sum(integer[]) (SFUNC = gh_hist_add, STYPE = integer[], INITCOND = '{}');
`;

/** One grain's rows: histograms into a temporary table, then the counts joined to them (as in sqlite/rollups.ts). */
const grainRows = (size: number): string => `
  INSERT INTO gh_hists (b, p, m, n, metric, pairs)
    SELECT b, p, m, n, metric, array_agg(x ORDER BY t.bin, v.k) FROM (
      SELECT (bucket / ${size}) * ${size} AS b, p, m, n, metric, bin, SUM(c)::integer AS c FROM gh_bins GROUP BY 1, 2, 3, 4, 5, 6
    ) t, LATERAL (VALUES (0, t.bin), (1, t.c)) AS v(k, x) GROUP BY b, p, m, n, metric;
  ANALYZE gh_hists;
  INSERT INTO rollups (grain, bucket, principal_id, model, node, requests, refused, prompt_tokens, completion_tokens, ttft, duration)
    SELECT ${size}, c.b, c.p, c.m, c.n, c.requests, c.refused, c.pt, c.ct, COALESCE(t.pairs, '{}'), COALESCE(d.pairs, '{}')
    FROM (SELECT (bucket / ${size}) * ${size} AS b, p, m, n, SUM(requests) AS requests, SUM(refused) AS refused, SUM(pt) AS pt, SUM(ct) AS ct FROM gh_counts GROUP BY 1, 2, 3, 4) c
    LEFT JOIN gh_hists t ON t.b = c.b AND t.p = c.p AND t.m = c.m AND t.n = c.n AND t.metric = 0
    LEFT JOIN gh_hists d ON d.b = c.b AND d.p = c.p AND d.m = c.m AND d.n = c.n AND d.metric = 1;
  TRUNCATE gh_hists;`;

/** Roll-ups rebuilt from every audit row, as in sqlite/rollups.ts (migration 7 and the benchmark). */
export const PG_ROLLUP_BACKFILL = `
  DELETE FROM rollups;
  DELETE FROM rollup_labels;
  CREATE TEMP TABLE gh_counts AS
    SELECT (at / 60000) * 60000 AS bucket, COALESCE(principal_id, '') AS p, COALESCE(model, '') AS m, COALESCE(node, '') AS n,
      COUNT(*) AS requests, COUNT(*) FILTER (WHERE decision = 'refused') AS refused, COALESCE(SUM(prompt_tokens), 0) AS pt, COALESCE(SUM(completion_tokens), 0) AS ct
    FROM audit GROUP BY 1, 2, 3, 4;
  CREATE TEMP TABLE gh_bins AS
    SELECT (at / 60000) * 60000 AS bucket, COALESCE(principal_id, '') AS p, COALESCE(model, '') AS m, COALESCE(node, '') AS n, 0 AS metric, gh_bin(ttfb_ms) AS bin, COUNT(*) AS c
    FROM audit WHERE decision = 'allowed' AND ttfb_ms IS NOT NULL GROUP BY 1, 2, 3, 4, 6
    UNION ALL
    SELECT (at / 60000) * 60000, COALESCE(principal_id, ''), COALESCE(model, ''), COALESCE(node, ''), 1, gh_bin(duration_ms), COUNT(*)
    FROM audit WHERE decision = 'allowed' GROUP BY 1, 2, 3, 4, 6;
  CREATE TEMP TABLE gh_hists (b bigint, p text, m text, n text, metric integer, pairs integer[]);
  ANALYZE gh_counts;
  ANALYZE gh_bins;
  ${GRAINS.map((g) => grainRows(GRAIN_MS[g])).join('\n')}
  INSERT INTO rollup_labels (principal_id, name, at)
    SELECT DISTINCT ON (principal_id) principal_id, principal_name, at FROM audit
    WHERE principal_id IS NOT NULL AND principal_name IS NOT NULL ORDER BY principal_id, at DESC;
  DROP TABLE gh_counts;
  DROP TABLE gh_bins;
  DROP TABLE gh_hists;
`;

/**
 * The batch's roll-up rows and labels, as CTEs to run in the statement that inserts the batch
 * (store/postgres/audit.ts): one round trip, one transaction. `first` is the number of the first
 * parameter these take (11 arrays of rows, 3 of labels, 10 of rows by one dimension).
 */
export function rollupCtes(first: number): string {
  const $ = (i: number): string => `$${first + i}`;
  return `r AS (
    INSERT INTO rollups (grain, bucket, principal_id, model, node, requests, refused, prompt_tokens, completion_tokens, ttft, duration)
    SELECT g, b, p, m, n, rq, rf, pt, ct, h1::integer[], h2::integer[]
    FROM unnest(${$(0)}::integer[], ${$(1)}::bigint[], ${$(2)}::text[], ${$(3)}::text[], ${$(4)}::text[], ${$(5)}::bigint[], ${$(6)}::bigint[], ${$(7)}::bigint[], ${$(8)}::bigint[], ${$(9)}::text[], ${$(10)}::text[])
      AS u(g, b, p, m, n, rq, rf, pt, ct, h1, h2)
    ON CONFLICT (grain, bucket, principal_id, model, node) DO UPDATE SET
      requests = rollups.requests + excluded.requests, refused = rollups.refused + excluded.refused,
      prompt_tokens = rollups.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollups.completion_tokens + excluded.completion_tokens,
      ttft = gh_hist_add(rollups.ttft, excluded.ttft), duration = gh_hist_add(rollups.duration, excluded.duration)
  ), l AS (
    INSERT INTO rollup_labels (principal_id, name, at) SELECT * FROM unnest(${$(11)}::text[], ${$(12)}::text[], ${$(13)}::bigint[])
    ON CONFLICT (principal_id) DO UPDATE SET name = excluded.name, at = excluded.at WHERE excluded.at >= rollup_labels.at
  ), d AS (
    INSERT INTO rollups_by (grain, dim, bucket, value, requests, refused, prompt_tokens, completion_tokens, ttft, duration)
    SELECT g, dm, b, v, rq, rf, pt, ct, h1::integer[], h2::integer[]
    FROM unnest(${$(14)}::integer[], ${$(15)}::text[], ${$(16)}::bigint[], ${$(17)}::text[], ${$(18)}::bigint[], ${$(19)}::bigint[], ${$(20)}::bigint[], ${$(21)}::bigint[], ${$(22)}::text[], ${$(23)}::text[])
      AS u(g, dm, b, v, rq, rf, pt, ct, h1, h2)
    ON CONFLICT (grain, dim, bucket, value) DO UPDATE SET
      requests = rollups_by.requests + excluded.requests, refused = rollups_by.refused + excluded.refused,
      prompt_tokens = rollups_by.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollups_by.completion_tokens + excluded.completion_tokens,
      ttft = gh_hist_add(rollups_by.ttft, excluded.ttft), duration = gh_hist_add(rollups_by.duration, excluded.duration)
  )`;
}

const pgArray = (pairs: readonly number[]): string => `{${pairs.join(',')}}`;

/** The parameters rollupCtes reads, column arrays in its order. */
export function rollupParams(rows: readonly RollupDelta[], dims: readonly DimDelta[], labels: readonly LabelDelta[]): unknown[] {
  return [
    rows.map((r) => r.grain), rows.map((r) => r.bucket), rows.map((r) => r.principalId), rows.map((r) => r.model), rows.map((r) => r.node),
    rows.map((r) => r.requests), rows.map((r) => r.refused), rows.map((r) => r.promptTokens), rows.map((r) => r.completionTokens),
    rows.map((r) => pgArray(r.ttft)), rows.map((r) => pgArray(r.duration)),
    labels.map((l) => l.principalId), labels.map((l) => l.name), labels.map((l) => l.at),
    dims.map((d) => d.grain), dims.map((d) => d.dim), dims.map((d) => d.bucket), dims.map((d) => d.value),
    dims.map((d) => d.requests), dims.map((d) => d.refused), dims.map((d) => d.promptTokens), dims.map((d) => d.completionTokens),
    dims.map((d) => pgArray(d.ttft)), dims.map((d) => pgArray(d.duration)),
  ];
}
