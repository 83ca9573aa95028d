import type pg from 'pg';
import { policyDiff } from '../key-diff.js';
import { PolicyInUseError, type Actor, type NewPolicy, type PolicyPatch, type PolicyRecord, type PolicyStore } from '../types.js';
import { inTransaction, type PgHandle } from './open.js';

const COLS = 'id, name, scopes, models, limits, clamps, created_at, updated_at, deleted_at, version';

const n = (v: unknown): number => Number(v);

function fromRow(r: Record<string, unknown>): PolicyRecord {
  return {
    id: r.id as string, name: r.name as string, scopes: r.scopes as PolicyRecord['scopes'], models: (r.models as string[] | null) ?? null,
    limits: r.limits as PolicyRecord['limits'], clamps: r.clamps as PolicyRecord['clamps'], createdAt: n(r.created_at), updatedAt: n(r.updated_at),
    deletedAt: r.deleted_at === null || r.deleted_at === undefined ? null : n(r.deleted_at), version: n(r.version),
  };
}

/**
 * Policy store on PostgreSQL. Every change takes the keys' advisory lock (so a key cannot be given
 * a policy that is being deleted, and versions commit in order), draws its version from its own
 * sequence and NOTIFYs on the keys' channel: one LISTEN wakes the key cache for both.
 */
export class PostgresPolicyStore implements PolicyStore {
  readonly #h: PgHandle;

  constructor(h: PgHandle) {
    this.#h = h;
  }

  async create(p: NewPolicy, by: Actor): Promise<PolicyRecord> {
    const now = Date.now();
    return this.#change(async (c, nextVersion) => {
      await mustBeFreeName(c, p.name);
      const version = await nextVersion();
      const r = await c.query(
        `INSERT INTO policies (${COLS}) VALUES ($1, $2, $3::jsonb, $4::jsonb, $5::jsonb, $6::jsonb, $7, $7, NULL, $8) RETURNING ${COLS}`,
        [p.id, p.name, JSON.stringify(p.scopes), p.models === null ? null : JSON.stringify(p.models), JSON.stringify(p.limits), JSON.stringify(p.clamps), now, version],
      );
      await event(c, now, by, 'policy.create', { policy: p.id, name: p.name, scopes: p.scopes, models: p.models, limits: p.limits, clamps: p.clamps });
      return fromRow(r.rows[0]);
    });
  }

  async find(idOrName: string): Promise<PolicyRecord | null> {
    const r = await this.#h.pool.query(`SELECT ${COLS} FROM policies WHERE id = $1 OR (name = $1 AND deleted_at IS NULL) ORDER BY (id = $1) DESC LIMIT 1`, [idOrName]);
    return r.rows[0] ? fromRow(r.rows[0]) : null;
  }

  async list(o: { includeDeleted?: boolean } = {}): Promise<PolicyRecord[]> {
    const where = o.includeDeleted ? '' : 'WHERE deleted_at IS NULL';
    return (await this.#h.pool.query(`SELECT ${COLS} FROM policies ${where} ORDER BY name, created_at`)).rows.map(fromRow);
  }

  async update(id: string, patch: PolicyPatch, by: Actor): Promise<PolicyRecord> {
    const now = Date.now();
    return this.#change(async (c, nextVersion) => {
      const row = (await c.query(`SELECT ${COLS} FROM policies WHERE id = $1 FOR UPDATE`, [id])).rows[0];
      if (!row) throw new Error(`no policy with id ${id}`);
      const cur = fromRow(row);
      if (cur.deletedAt !== null) throw new Error(`policy ${id} is deleted`);
      const next = { ...cur, ...patch };
      if (next.name !== cur.name) await mustBeFreeName(c, next.name);
      const diff = policyDiff(cur, next);
      if (Object.keys(diff).length === 0) return cur;
      const version = await nextVersion();
      const r = await c.query(
        `UPDATE policies SET name = $2, scopes = $3::jsonb, models = $4::jsonb, limits = $5::jsonb, clamps = $6::jsonb, updated_at = $7, version = $8
         WHERE id = $1 RETURNING ${COLS}`,
        [id, next.name, JSON.stringify(next.scopes), next.models === null ? null : JSON.stringify(next.models), JSON.stringify(next.limits), JSON.stringify(next.clamps), now, version],
      );
      await event(c, now, by, 'policy.update', { policy: id, name: next.name, ...diff });
      return fromRow(r.rows[0]);
    });
  }

  async delete(id: string, by: Actor): Promise<PolicyRecord> {
    const now = Date.now();
    return this.#change(async (c, nextVersion) => {
      const row = (await c.query(`SELECT ${COLS} FROM policies WHERE id = $1 FOR UPDATE`, [id])).rows[0];
      if (!row) throw new Error(`no policy with id ${id}`);
      if (row.deleted_at !== null) return fromRow(row);
      const users = n((await c.query('SELECT COUNT(*) AS n FROM keys WHERE policy_id = $1 AND revoked_at IS NULL', [id])).rows[0].n);
      if (users > 0) throw new PolicyInUseError(row.name as string, users);
      const version = await nextVersion();
      const r = await c.query(`UPDATE policies SET deleted_at = $2, updated_at = $2, version = $3 WHERE id = $1 RETURNING ${COLS}`, [id, now, version]);
      await event(c, now, by, 'policy.delete', { policy: id, name: row.name });
      return fromRow(r.rows[0]);
    });
  }

  async changesSince(version: number): Promise<{ version: number; records: PolicyRecord[] }> {
    const max = n((await this.#h.pool.query('SELECT COALESCE(MAX(version), 0) AS v FROM policies')).rows[0].v);
    if (max <= version) return { version: Math.max(version, max), records: [] };
    const rows = (await this.#h.pool.query(`SELECT ${COLS} FROM policies WHERE version > $1 ORDER BY version`, [version])).rows.map(fromRow);
    return { version: rows.length ? rows[rows.length - 1]!.version : version, records: rows };
  }

  /** One policy change: the keys' lock, write, NOTIFY (only when a version was drawn), commit. */
  async #change<T>(fn: (c: pg.PoolClient, nextVersion: () => Promise<number>) => Promise<T>): Promise<T> {
    return inTransaction(this.#h.pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [this.#h.keysLock]);
      let drawn: number | null = null;
      const draw = async (): Promise<number> => (drawn = n((await c.query("SELECT nextval('policy_version_seq') AS v")).rows[0].v));
      const out = await fn(c, draw);
      if (drawn !== null) await c.query('SELECT pg_notify($1, $2)', [this.#h.channel, `policy:${drawn}`]);
      return out;
    });
  }
}

async function mustBeFreeName(c: pg.PoolClient, name: string): Promise<void> {
  const taken = (await c.query('SELECT id FROM policies WHERE name = $1 AND deleted_at IS NULL', [name])).rows[0];
  if (taken) throw new Error(`a policy named "${name}" already exists (${taken.id as string})`);
}

async function event(c: pg.PoolClient, at: number, by: Actor, action: string, detail: unknown): Promise<void> {
  await c.query('INSERT INTO admin_events (at, actor, action, key_id, detail) VALUES ($1, $2, $3, NULL, $4::jsonb)', [at, by.actor, action, JSON.stringify(detail)]);
}
