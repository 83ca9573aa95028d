import type { Statement } from 'better-sqlite3';
import { adminFromRow, auditFromRow } from '../audit-shared.js';
import { usageFromRollups } from '../rollup-report.js';
import { rawAsRollup, rollupFromRow, rollupSelectSql, type RollupQuery, type RollupRow } from '../rollups.js';
import type { AdminEvent, AdminQuery, AuditQuery, AuditRecord, AuditStore, NewAuditRecord, UsageQuery, UsageRow } from '../types.js';
import type { Db } from './open.js';
import type { SqliteWriter } from './writer.js';

/**
 * Audit records and the admin trail on SQLite. Queries run here; writes go to the SqliteWriter
 * (a batch is one IMMEDIATE transaction, a few hundred rows in about a millisecond). WAL keeps
 * readers (`gatehouse audit --follow`, `gatehouse usage`) from ever blocking the writer.
 */
export class SqliteAuditStore implements AuditStore {
  readonly #db: Db;
  /** Appends, pruning and the admin trail: inline in the CLI, the writer thread in the server. */
  readonly #writer: SqliteWriter;
  /** Query statements by SQL text: a handful of filter combinations, each prepared once. */
  readonly #cache = new Map<string, Statement>();

  constructor(db: Db, writer: SqliteWriter) {
    this.#db = db;
    this.#writer = writer;
  }

  append(records: readonly NewAuditRecord[]): Promise<void> {
    return this.#writer.append(records);
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

  usage(q: UsageQuery): Promise<UsageRow[]> {
    return usageFromRollups((r) => this.rollups(r), q);
  }

  async rollups(q: RollupQuery): Promise<RollupRow[]> {
    const { sql, params } = rollupSelectSql(q, () => '?');
    const rows = this.#stmt(sql).all(...params) as Record<string, unknown>[];
    return q.grain === 'raw' ? rows.map(rawAsRollup) : rows.map((r) => rollupFromRow(r, parseHist));
  }

  recordAdmin(e: Omit<AdminEvent, 'id'>): Promise<void> {
    return this.#writer.recordAdmin(e);
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

  prune(before: number): Promise<number> {
    return this.#writer.prune(before);
  }

  #stmt(sql: string): Statement {
    let s = this.#cache.get(sql);
    if (!s) this.#cache.set(sql, (s = this.#db.prepare(sql)));
    return s;
  }
}

/** Histograms are stored as JSON text (sqlite/rollups.ts). */
const parseHist = (v: unknown): readonly number[] => (v === '[]' ? [] : (JSON.parse(v as string) as number[]));
