import type { Statement } from 'better-sqlite3';
import { AUDIT_COLUMNS, adminFromRow, auditFromRow, auditValues, mergeUsage, usageSql } from '../audit-shared.js';
import type { AdminEvent, AdminQuery, AuditQuery, AuditRecord, AuditStore, NewAuditRecord, UsageQuery, UsageRow } from '../types.js';
import type { Db } from './open.js';

/**
 * Audit records and the admin trail on SQLite. A batch is one IMMEDIATE transaction with a
 * statement prepared once, so a few hundred rows cost about a millisecond; WAL keeps readers
 * (`gatehouse audit --follow`, `gatehouse usage`) from ever blocking the writer.
 */
/**
 * Rows deleted per prune transaction. SQLite runs on the event loop: 1000 rows hold it for a few
 * milliseconds (5000 took 10–20 ms), and requests get in between slices.
 */
const PRUNE_SLICE = 1000;
/** Rows per multi-row INSERT (25 rows × 25 columns = 625 parameters, far under SQLite's limit). */
const MULTI_ROWS = 25;

export class SqliteAuditStore implements AuditStore {
  readonly #db: Db;
  readonly #insert: Statement;
  readonly #insertMany: Statement;
  readonly #insertAdmin: Statement;
  readonly #pruneSlice: Statement;
  /** Query statements by SQL text: a handful of filter combinations, each prepared once. */
  readonly #cache = new Map<string, Statement>();

  constructor(db: Db) {
    this.#db = db;
    this.#insert = db.prepare(`INSERT INTO audit (${AUDIT_COLUMNS.join(', ')}) VALUES (${AUDIT_COLUMNS.map(() => '?').join(', ')})`);
    const row = `(${AUDIT_COLUMNS.map(() => '?').join(', ')})`;
    this.#insertMany = db.prepare(`INSERT INTO audit (${AUDIT_COLUMNS.join(', ')}) VALUES ${Array(MULTI_ROWS).fill(row).join(', ')}`);
    this.#insertAdmin = db.prepare('INSERT INTO admin_events (at, actor, action, key_id, detail) VALUES (?, ?, ?, ?, ?)');
    this.#pruneSlice = db.prepare(`DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ? ORDER BY at LIMIT ${PRUNE_SLICE})`);
  }

  async append(records: readonly NewAuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    const insert = this.#insert;
    const insertMany = this.#insertMany;
    this.#db
      .transaction(() => {
        // Rows go in MULTI_ROWS at a time: one statement call per group instead of per row saves
        // about a microsecond per record (measured), and audit runs for every request.
        let i = 0;
        if (records.length >= MULTI_ROWS) {
          const values: unknown[] = new Array(MULTI_ROWS * AUDIT_COLUMNS.length);
          for (; i + MULTI_ROWS <= records.length; i += MULTI_ROWS) {
            let k = 0;
            for (let j = i; j < i + MULTI_ROWS; j++) for (const v of auditValues(records[j]!)) values[k++] = sqliteValue(v);
            insertMany.run(values);
          }
        }
        for (; i < records.length; i++) insert.run(auditValues(records[i]!).map(sqliteValue));
      })
      .immediate();
  }

  async query(q: AuditQuery): Promise<AuditRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.since !== undefined) (where.push('at >= ?'), params.push(q.since));
    if (q.until !== undefined) (where.push('at < ?'), params.push(q.until));
    if (q.principalId !== undefined) (where.push('principal_id = ?'), params.push(q.principalId));
    if (q.deniedOnly) where.push("decision = 'refused'");
    if (q.afterId !== undefined) (where.push('id > ?'), params.push(q.afterId));
    const sql = `SELECT * FROM audit${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id ${q.order === 'desc' ? 'DESC' : 'ASC'} LIMIT ?`;
    params.push(q.limit ?? 1000);
    return (this.#stmt(sql).all(...params) as Record<string, unknown>[]).map(auditFromRow);
  }

  async usage(q: UsageQuery): Promise<UsageRow[]> {
    const { totals, percentiles, params } = usageSql(q, () => '?');
    const t = this.#stmt(totals).all(...params) as Record<string, unknown>[];
    const p = this.#stmt(percentiles).all(...params) as Record<string, unknown>[];
    return mergeUsage(q.by, t, p);
  }

  async recordAdmin(e: Omit<AdminEvent, 'id'>): Promise<void> {
    this.#insertAdmin.run(e.at, e.actor, e.action, e.keyId, JSON.stringify(e.detail));
  }

  async adminEvents(q: AdminQuery): Promise<AdminEvent[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.since !== undefined) (where.push('at >= ?'), params.push(q.since));
    if (q.until !== undefined) (where.push('at < ?'), params.push(q.until));
    if (q.keyId !== undefined) (where.push('key_id = ?'), params.push(q.keyId));
    if (q.action !== undefined) {
      if (q.action.endsWith('.')) (where.push('substr(action, 1, ?) = ?'), params.push(q.action.length, q.action));
      else (where.push('action = ?'), params.push(q.action));
    }
    if (q.afterId !== undefined) (where.push('id > ?'), params.push(q.afterId));
    const sql = `SELECT * FROM admin_events${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id ${q.order === 'desc' ? 'DESC' : 'ASC'} LIMIT ?`;
    params.push(q.limit ?? 1000);
    return (this.#stmt(sql).all(...params) as Record<string, unknown>[]).map(adminFromRow);
  }

  async prune(before: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = this.#pruneSlice.run(before).changes;
      total += n;
      if (n < PRUNE_SLICE) return total;
      // Let requests and the audit writer in between slices.
      await new Promise((r) => setImmediate(r));
    }
  }

  #stmt(sql: string): Statement {
    let s = this.#cache.get(sql);
    if (!s) this.#cache.set(sql, (s = this.#db.prepare(sql)));
    return s;
  }
}

function sqliteValue(v: unknown): unknown {
  return typeof v === 'boolean' ? (v ? 1 : 0) : v;
}
