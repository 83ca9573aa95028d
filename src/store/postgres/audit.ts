import { AUDIT_COLUMNS, PRUNE_SLICE, adminFromRow, auditFromRow, auditValues } from '../audit-shared.js';
import { usageFromRollups } from '../rollup-report.js';
import { pruneRollups, rawAsRollup, rollupBatch, rollupFromRow, rollupSelectSql, type RollupQuery, type RollupRow } from '../rollups.js';
import { PermanentStoreError, type AdminEvent, type AdminQuery, type AuditQuery, type AuditRecord, type AuditStore, type NewAuditRecord, type UsageQuery, type UsageRow } from '../types.js';
import { isPermanentPgError, type PgHandle } from './open.js';
import { rollupCtes, rollupParams } from './rollups.js';

/** PostgreSQL array type of each audit column, for the one-statement batch insert. */
const PG_TYPES: Record<(typeof AUDIT_COLUMNS)[number], string> = {
  at: 'bigint', request_id: 'text', principal_id: 'text', principal_name: 'text', client_ip: 'text', method: 'text', route: 'text',
  path: 'text', scope: 'text', model: 'text', models: 'jsonb', decision: 'text', reason: 'text', status: 'integer',
  prompt_tokens: 'bigint', completion_tokens: 'bigint', tokens_estimated: 'boolean', ttfb_ms: 'float8', duration_ms: 'float8',
  bytes_in: 'bigint', bytes_out: 'bigint', client_aborted: 'boolean', stream: 'boolean', upstream: 'text', upstream_error: 'text', node: 'text',
};

/**
 * Audit records and the admin trail on PostgreSQL. A batch is one statement: INSERT … SELECT FROM
 * unnest(…) with one array parameter per column, and the roll-ups' upserts as CTEs beside it: one
 * round trip, one transaction, and 40 parameters whatever the batch size.
 */
export class PostgresAuditStore implements AuditStore {
  readonly #h: PgHandle;
  readonly #insert = `WITH a AS (INSERT INTO audit (${AUDIT_COLUMNS.join(', ')}) SELECT * FROM unnest(${AUDIT_COLUMNS.map((c, i) => `$${i + 1}::${PG_TYPES[c]}[]`).join(', ')})),
    ${rollupCtes(AUDIT_COLUMNS.length + 1)} SELECT 1`;

  constructor(h: PgHandle) {
    this.#h = h;
  }

  async append(records: readonly NewAuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    const cols: unknown[][] = AUDIT_COLUMNS.map(() => new Array(records.length));
    records.forEach((r, i) => auditValues(r).forEach((v, c) => (cols[c]![i] = v)));
    const { rows, dims, labels } = rollupBatch(records);
    try {
      await this.#h.pool.query(this.#insert, [...cols, ...rollupParams(rows, dims, labels)]);
    } catch (err) {
      if (isPermanentPgError(err)) throw new PermanentStoreError(`audit batch rejected: ${(err as Error).message}`, { cause: err });
      throw err;
    }
  }

  async query(q: AuditQuery): Promise<AuditRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown): string => (params.push(v), `$${params.length}`);
    if (q.since !== undefined) where.push(`at >= ${p(q.since)}`);
    if (q.until !== undefined) where.push(`at < ${p(q.until)}`);
    if (q.principalId !== undefined) where.push(`principal_id = ${p(q.principalId)}`);
    if (q.deniedOnly) where.push("decision = 'refused'");
    if (q.afterId !== undefined) where.push(`id > ${p(q.afterId)}`);
    const sql = `SELECT * FROM audit${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id ${q.order === 'desc' ? 'DESC' : 'ASC'} LIMIT ${p(q.limit ?? 1000)}`;
    return (await this.#h.pool.query(sql, params)).rows.map(auditFromRow);
  }

  usage(q: UsageQuery): Promise<UsageRow[]> {
    return usageFromRollups((r) => this.rollups(r), q);
  }

  async rollups(q: RollupQuery): Promise<RollupRow[]> {
    const { sql, params } = rollupSelectSql(q, (i) => `$${i + 1}`);
    const rows = (await this.#h.pool.query(sql, params)).rows as Record<string, unknown>[];
    return q.grain === 'raw' ? rows.map(rawAsRollup) : rows.map((r) => rollupFromRow(r, (v) => v as number[]));
  }

  async recordAdmin(e: Omit<AdminEvent, 'id'>): Promise<void> {
    await this.#h.pool.query('INSERT INTO admin_events (at, actor, action, key_id, detail) VALUES ($1, $2, $3, $4, $5::jsonb)', [e.at, e.actor, e.action, e.keyId, JSON.stringify(e.detail)]);
  }

  async adminEvents(q: AdminQuery): Promise<AdminEvent[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown): string => (params.push(v), `$${params.length}`);
    if (q.since !== undefined) where.push(`at >= ${p(q.since)}`);
    if (q.until !== undefined) where.push(`at < ${p(q.until)}`);
    if (q.keyId !== undefined) where.push(`key_id = ${p(q.keyId)}`);
    if (q.action !== undefined) {
      if (q.action.endsWith('.')) where.push(`substr(action, 1, ${p(q.action.length)}::int) = ${p(q.action)}`);
      else where.push(`action = ${p(q.action)}`);
    }
    if (q.afterId !== undefined) where.push(`id > ${p(q.afterId)}`);
    const sql = `SELECT * FROM admin_events${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id ${q.order === 'desc' ? 'DESC' : 'ASC'} LIMIT ${p(q.limit ?? 1000)}`;
    return (await this.#h.pool.query(sql, params)).rows.map(adminFromRow);
  }

  async prune(before: number): Promise<number> {
    let total = 0;
    for (;;) {
      const r = await this.#h.pool.query(`DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < $1 ORDER BY at LIMIT ${PRUNE_SLICE})`, [before]);
      total += r.rowCount ?? 0;
      if ((r.rowCount ?? 0) < PRUNE_SLICE) break;
    }
    await pruneRollups(before, {
      oldest: async (size) => {
        const o = await this.#h.pool.query<{ b: string | null }>('SELECT MIN(bucket) AS b FROM rollups WHERE grain = $1', [size]);
        return o.rows[0]?.b == null ? null : Number(o.rows[0].b);
      },
      // One statement, so both tables lose the same buckets together.
      remove: (size, below) => this.#h.pool.query('WITH d AS (DELETE FROM rollups_by WHERE grain = $1 AND bucket < $2) DELETE FROM rollups WHERE grain = $1 AND bucket < $2', [size, below]),
    });
    return total;
  }
}
