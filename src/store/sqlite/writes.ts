import type { Statement } from 'better-sqlite3';
import { AUDIT_COLUMNS, auditValues } from '../audit-shared.js';
import { pruneRollups, rollupBatch, type RollupSource } from '../rollups.js';
import type { AdminEvent, BlobUpload, NewAuditRecord } from '../types.js';
import type { Db } from './open.js';
import { OLDEST_ROLLUP, PRUNE_DIMS, PRUNE_ROLLUPS, UPSERT_DIM, UPSERT_LABEL, UPSERT_ROLLUP } from './rollups.js';

/**
 * Rows deleted per prune transaction. Each slice holds the write lock: 1000 rows hold it for a few
 * milliseconds (5000 took 10–20 ms), and other writers get in between slices.
 */
const PRUNE_SLICE = 1000;
/** Rows per multi-row INSERT (25 rows × 25 columns = 625 parameters, far under SQLite's limit). */
const MULTI_ROWS = 25;
/** One admin-trail row: written here, and by the key store inside each key change's own transaction. */
export const INSERT_ADMIN_EVENT = 'INSERT INTO admin_events (at, actor, action, key_id, detail) VALUES (?, ?, ?, ?, ?)';

/**
 * The writes a running server makes all the time or in the background — audit batches, pruning,
 * the admin trail, last-used times — on one SQLite connection, synchronously. In the CLI they run
 * on the caller's connection (writer.ts); in the server, on a thread of their own (writer-thread.ts).
 */
export class SqliteWrites {
  readonly #db: Db;
  readonly #insert: Statement;
  readonly #insertMany: Statement;
  readonly #pruneSlice: Statement;
  readonly #insertAdmin: Statement;
  readonly #touch: Statement;
  readonly #blob: Statement;
  readonly #upsertRollup: Statement;
  readonly #upsertDim: Statement;
  readonly #upsertLabel: Statement;
  readonly #oldestRollup: Statement;
  readonly #pruneRollups: Statement;
  readonly #pruneDims: Statement;

  constructor(db: Db) {
    this.#db = db;
    const row = `(${AUDIT_COLUMNS.map(() => '?').join(', ')})`;
    this.#insert = db.prepare(`INSERT INTO audit (${AUDIT_COLUMNS.join(', ')}) VALUES ${row}`);
    this.#insertMany = db.prepare(`INSERT INTO audit (${AUDIT_COLUMNS.join(', ')}) VALUES ${Array(MULTI_ROWS).fill(row).join(', ')}`);
    this.#pruneSlice = db.prepare(`DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ? ORDER BY at LIMIT ${PRUNE_SLICE})`);
    this.#insertAdmin = db.prepare(INSERT_ADMIN_EVENT);
    this.#touch = db.prepare('UPDATE keys SET last_used_at = MAX(COALESCE(last_used_at, 0), @at) WHERE id = @id');
    this.#blob = db.prepare('INSERT OR IGNORE INTO blob_uploads (digest, principal_id, principal_name, uploaded_at) VALUES (?, ?, ?, ?)');
    this.#upsertRollup = db.prepare(UPSERT_ROLLUP);
    this.#upsertDim = db.prepare(UPSERT_DIM);
    this.#upsertLabel = db.prepare(UPSERT_LABEL);
    this.#oldestRollup = db.prepare(OLDEST_ROLLUP).pluck();
    this.#pruneRollups = db.prepare(PRUNE_ROLLUPS);
    this.#pruneDims = db.prepare(PRUNE_DIMS);
  }

  /** One IMMEDIATE transaction: all rows (and their roll-ups) or none. */
  append(records: readonly NewAuditRecord[]): void {
    this.appendRows(auditRows(records));
  }

  /**
   * The same, for rows already flattened by auditRows (the writer thread is sent these: a flat
   * array of primitives costs the structured clone far less than one object per record).
   * Returns how many rows were written.
   */
  appendRows(values: readonly SqliteValue[]): number {
    const width = AUDIT_COLUMNS.length;
    const rows = values.length / width;
    if (rows === 0) return 0;
    if (!Number.isInteger(rows)) throw new Error(`audit rows: ${values.length} values is not a whole number of ${width}-column rows`);
    const insert = this.#insert;
    const insertMany = this.#insertMany;
    // Added up per roll-up row before the transaction: one upsert per (grain, bucket, key, model, node).
    const { rows: deltas, dims, labels } = rollupBatch(sourcesOf(values, rows));
    this.#db
      .transaction(() => {
        // Rows go in MULTI_ROWS at a time: one statement call per group instead of per row saves
        // about a microsecond per record (measured), and audit runs for every request.
        // Values are passed as arguments, not as one array: better-sqlite3 reads an array through
        // V8's generic property lookup, one element at a time: ~9k of ~45k instructions per row
        // under callgrind (25-column rows, two indexes), gone when the same values come as arguments.
        let i = 0;
        if (rows >= MULTI_ROWS) {
          const group = MULTI_ROWS * width;
          for (; i + MULTI_ROWS <= rows; i += MULTI_ROWS) insertMany.run(...values.slice(i * width, i * width + group));
        }
        for (; i < rows; i++) insert.run(...values.slice(i * width, (i + 1) * width));
        for (const d of deltas) {
          this.#upsertRollup.run(d.grain, d.bucket, d.principalId, d.model, d.node, d.requests, d.refused, d.promptTokens, d.completionTokens,
            JSON.stringify(d.ttft), JSON.stringify(d.duration));
        }
        for (const d of dims) {
          this.#upsertDim.run(d.grain, d.dim, d.bucket, d.value, d.requests, d.refused, d.promptTokens, d.completionTokens, JSON.stringify(d.ttft), JSON.stringify(d.duration));
        }
        for (const l of labels) this.#upsertLabel.run(l.principalId, l.name, l.at);
      })
      .immediate();
    return rows;
  }

  /**
   * Deletes records with at < before, a slice per transaction, yielding in between, then the
   * minute and hour roll-ups that end by then (a few buckets per slice); returns how many records.
   */
  async prune(before: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = this.#pruneSlice.run(before).changes;
      total += n;
      if (n < PRUNE_SLICE) break;
      // Other work on this thread (requests, or queued appends on the writer thread) runs in between.
      await new Promise((r) => setImmediate(r));
    }
    await pruneRollups(before, {
      oldest: (size) => this.#oldestRollup.get(size) as number | null,
      remove: (size, below) => this.#db.transaction(() => {
        this.#pruneRollups.run(size, below);
        this.#pruneDims.run(size, below);
      })(),
      pause: () => new Promise((r) => setImmediate(r)),
    });
    return total;
  }

  recordAdmin(e: Omit<AdminEvent, 'id'>): void {
    this.#insertAdmin.run(e.at, e.actor, e.action, e.keyId, JSON.stringify(e.detail));
  }

  /** A verified blob upload; the first record of a (principal, digest) pair is kept. */
  recordBlob(u: BlobUpload): void {
    this.#blob.run(u.digest, u.principalId, u.principalName, u.uploadedAt);
  }

  /** Last-used times, never moved back (another replica may have seen a later use). */
  touch(lastUsed: ReadonlyMap<string, number>): void {
    if (lastUsed.size === 0) return;
    this.#db.transaction(() => {
      for (const [id, at] of lastUsed) this.#touch.run({ id, at });
    })();
  }
}

const COL = Object.fromEntries(AUDIT_COLUMNS.map((c, i) => [c, i])) as Record<(typeof AUDIT_COLUMNS)[number], number>;

/** The fields roll-ups read, from flattened rows (the writer thread gets nothing else). */
function sourcesOf(values: readonly SqliteValue[], rows: number): RollupSource[] {
  const width = AUDIT_COLUMNS.length;
  const out: RollupSource[] = new Array(rows);
  for (let i = 0, o = 0; i < rows; i++, o += width) {
    out[i] = {
      at: Number(values[o + COL.at]), principalId: values[o + COL.principal_id] as string | null, principalName: values[o + COL.principal_name] as string | null,
      model: values[o + COL.model] as string | null, node: values[o + COL.node] as string | null, decision: values[o + COL.decision] as 'allowed' | 'refused',
      promptTokens: values[o + COL.prompt_tokens] as number | null, completionTokens: values[o + COL.completion_tokens] as number | null,
      ttfbMs: values[o + COL.ttfb_ms] as number | null, durationMs: Number(values[o + COL.duration_ms]),
    };
  }
  return out;
}

/** What better-sqlite3 binds: booleans become 0/1. */
export type SqliteValue = string | number | bigint | null;

/** Records as one flat array of SQLite values, AUDIT_COLUMNS.length per record, in order. */
export function auditRows(records: readonly NewAuditRecord[]): SqliteValue[] {
  const out: SqliteValue[] = [];
  for (const r of records) for (const v of auditValues(r)) out.push(typeof v === 'boolean' ? (v ? 1 : 0) : (v as SqliteValue));
  return out;
}
