import type pg from 'pg';
import { keyDiff } from '../key-diff.js';
import { rotationOf, type Actor, type KeyPatch, type KeyRecord, type KeyRotationRequest, type KeyStore, type NewKey } from '../types.js';
import { inTransaction, type PgHandle } from './open.js';

const COLS = 'id, name, kind, hash, hint, fingerprint, public_key, scopes, models, limits, clamps, created_at, expires_at, revoked_at, last_used_at, updated_at, version, policy_id, owner';
/** Written only by rotate; read with every row. */
const READ_COLS = `${COLS}, previous_hash, previous_until, rotated_at`;

const n = (v: unknown): number => Number(v);
const nOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function fromRow(r: Record<string, unknown>): KeyRecord {
  return {
    id: r.id as string, name: r.name as string, kind: r.kind as KeyRecord['kind'], hash: r.hash as string | null, hint: r.hint as string | null,
    fingerprint: r.fingerprint as string | null, publicKey: r.public_key as string | null, scopes: r.scopes as KeyRecord['scopes'],
    models: (r.models as string[] | null) ?? null, limits: r.limits as KeyRecord['limits'], clamps: r.clamps as KeyRecord['clamps'],
    policyId: (r.policy_id as string | null) ?? null, createdAt: n(r.created_at), expiresAt: nOrNull(r.expires_at), revokedAt: nOrNull(r.revoked_at), lastUsedAt: nOrNull(r.last_used_at),
    updatedAt: n(r.updated_at), version: n(r.version),
    rotation: r.previous_hash === null || r.previous_hash === undefined ? null : { previousHash: r.previous_hash as string, previousUntil: n(r.previous_until), rotatedAt: n(r.rotated_at) },
    owner: (r.owner as KeyRecord['owner']) ?? null,
  };
}

const jsonOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

/** Called under the keys' advisory lock, which policy changes also take: a deletion cannot slip in between. */
async function mustBeLivePolicy(c: pg.PoolClient, id: string | null): Promise<void> {
  if (id === null) return;
  const p = (await c.query('SELECT deleted_at FROM policies WHERE id = $1', [id])).rows[0];
  if (!p) throw new Error(`no policy with id ${id}`);
  if (p.deleted_at !== null) throw new Error(`policy ${id} is deleted`);
}

/**
 * Key store on PostgreSQL, shared by every replica. Each change takes one advisory lock for the
 * schema, draws `version` from a sequence and NOTIFYs in the same transaction: the lock makes
 * versions commit in order, so a cache that has seen version N has seen everything below N (a
 * plain sequence would let version 11 commit before 10, and a poller at 11 would never see 10).
 */
export class PostgresKeyStore implements KeyStore {
  readonly #h: PgHandle;

  constructor(h: PgHandle) {
    this.#h = h;
  }

  async create(key: NewKey, by: Actor): Promise<KeyRecord> {
    const now = Date.now();
    return this.#change(async (c, nextVersion) => {
      const policyId = key.policyId ?? null;
      await mustBeLivePolicy(c, policyId);
      const version = await nextVersion();
      const r = await c.query(
        `INSERT INTO keys (${COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10::jsonb, $11::jsonb, $12, $13, NULL, NULL, $12, $14, $15, $16::jsonb) RETURNING ${READ_COLS}`,
        [key.id, key.name, key.kind, key.hash, key.hint, key.fingerprint, key.publicKey, JSON.stringify(key.scopes), jsonOrNull(key.models),
          JSON.stringify(key.limits), JSON.stringify(key.clamps), now, key.expiresAt, version, policyId, jsonOrNull(key.owner)],
      );
      await this.#event(c, now, by, 'key.create', key.id, { name: key.name, kind: key.kind, scopes: key.scopes, models: key.models, expiresAt: key.expiresAt, limits: key.limits, policyId, ...(key.owner ? { owner: key.owner } : {}) });
      return fromRow(r.rows[0]);
    });
  }

  async find(idOrName: string): Promise<KeyRecord | null> {
    const byId = await this.#h.pool.query(`SELECT ${READ_COLS} FROM keys WHERE id = $1`, [idOrName]);
    if (byId.rows[0]) return fromRow(byId.rows[0]);
    const byName = await this.#h.pool.query(`SELECT ${READ_COLS} FROM keys WHERE name = $1 ORDER BY created_at`, [idOrName]);
    if (byName.rows.length > 1) throw new Error(`${byName.rows.length} keys are named "${idOrName}"; use the key id (see \`gatehouse keys list\`)`);
    return byName.rows[0] ? fromRow(byName.rows[0]) : null;
  }

  async list(): Promise<KeyRecord[]> {
    return (await this.#h.pool.query(`SELECT ${READ_COLS} FROM keys ORDER BY created_at, id`)).rows.map(fromRow);
  }

  async update(id: string, patch: KeyPatch, by: Actor): Promise<KeyRecord> {
    const now = Date.now();
    return this.#change(async (c, nextVersion) => {
      const row = (await c.query(`SELECT ${READ_COLS} FROM keys WHERE id = $1 FOR UPDATE`, [id])).rows[0];
      if (!row) throw new Error(`no key with id ${id}`);
      const cur = fromRow(row);
      const next = { ...cur, ...patch };
      if (patch.policyId !== undefined && patch.policyId !== cur.policyId) await mustBeLivePolicy(c, next.policyId);
      const version = await nextVersion();
      const r = await c.query(
        `UPDATE keys SET name = $2, scopes = $3::jsonb, models = $4::jsonb, limits = $5::jsonb, clamps = $6::jsonb, expires_at = $7, updated_at = $8, version = $9, policy_id = $10
         WHERE id = $1 RETURNING ${READ_COLS}`,
        [id, next.name, JSON.stringify(next.scopes), jsonOrNull(next.models), JSON.stringify(next.limits), JSON.stringify(next.clamps), next.expiresAt, now, version, next.policyId],
      );
      await this.#event(c, now, by, 'key.update', id, keyDiff(cur, next));
      return fromRow(r.rows[0]);
    });
  }

  async revoke(id: string, by: Actor): Promise<KeyRecord> {
    const now = Date.now();
    return this.#change(async (c, nextVersion) => {
      const row = (await c.query(`SELECT ${READ_COLS} FROM keys WHERE id = $1 FOR UPDATE`, [id])).rows[0];
      if (!row) throw new Error(`no key with id ${id}`);
      if (row.revoked_at !== null) return fromRow(row);
      const version = await nextVersion();
      const r = await c.query(`UPDATE keys SET revoked_at = $2, updated_at = $2, version = $3 WHERE id = $1 RETURNING ${READ_COLS}`, [id, now, version]);
      await this.#event(c, now, by, 'key.revoke', id, { name: row.name });
      return fromRow(r.rows[0]);
    });
  }

  async rotate(id: string, next: KeyRotationRequest, by: Actor): Promise<KeyRecord> {
    const now = Date.now();
    return this.#change(async (c, nextVersion) => {
      const row = (await c.query(`SELECT ${READ_COLS} FROM keys WHERE id = $1 FOR UPDATE`, [id])).rows[0];
      if (!row) throw new Error(`no key with id ${id}`);
      const rot = rotationOf(fromRow(row), next, now);
      const version = await nextVersion();
      const r = await c.query(
        `UPDATE keys SET hash = $2, hint = $3, previous_hash = $4, previous_until = $5, rotated_at = $6, updated_at = $6, version = $7 WHERE id = $1 RETURNING ${READ_COLS}`,
        [id, next.hash, next.hint, rot.previousHash, rot.previousUntil, now, version],
      );
      await this.#event(c, now, by, 'key.rotate', id, { name: row.name, previousValidUntil: rot.previousUntil });
      return fromRow(r.rows[0]);
    });
  }

  async changesSince(version: number): Promise<{ version: number; records: KeyRecord[] }> {
    // The common case (nothing changed) is one index-only probe.
    const max = n((await this.#h.pool.query('SELECT COALESCE(MAX(version), 0) AS v FROM keys')).rows[0].v);
    if (max <= version) return { version: Math.max(version, max), records: [] };
    const rows = (await this.#h.pool.query(`SELECT ${READ_COLS} FROM keys WHERE version > $1 ORDER BY version`, [version])).rows.map(fromRow);
    return { version: rows.length ? rows[rows.length - 1]!.version : version, records: rows };
  }

  async touch(lastUsed: ReadonlyMap<string, number>): Promise<void> {
    if (lastUsed.size === 0) return;
    await this.#h.pool.query(
      `UPDATE keys k SET last_used_at = GREATEST(COALESCE(k.last_used_at, 0), u.at)
       FROM unnest($1::text[], $2::bigint[]) AS u(id, at) WHERE k.id = u.id`,
      [[...lastUsed.keys()], [...lastUsed.values()]],
    );
  }

  async ping(): Promise<void> {
    await this.#h.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    /* the pool is shared and closed by its owner (store/index.ts) */
  }

  /**
   * One key change: lock, write, NOTIFY, commit. `fn` draws a version (once) only when it really
   * changes something, so a no-op (revoking a revoked key) wakes no cache.
   */
  async #change<T>(fn: (c: pg.PoolClient, nextVersion: () => Promise<number>) => Promise<T>): Promise<T> {
    return inTransaction(this.#h.pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [this.#h.keysLock]);
      let drawn: number | null = null;
      const draw = async (): Promise<number> => (drawn = n((await c.query("SELECT nextval('key_version_seq') AS v")).rows[0].v));
      const out = await fn(c, draw);
      if (drawn !== null) await c.query('SELECT pg_notify($1, $2)', [this.#h.channel, String(drawn)]);
      return out;
    });
  }

  async #event(c: pg.PoolClient, at: number, by: Actor, action: string, keyId: string, detail: unknown): Promise<void> {
    await c.query('INSERT INTO admin_events (at, actor, action, key_id, detail) VALUES ($1, $2, $3, $4, $5::jsonb)', [at, by.actor, action, keyId, JSON.stringify(detail)]);
  }
}
