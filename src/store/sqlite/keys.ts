import { rotationOf, type Actor, type KeyPatch, type KeyRecord, type KeyRotationRequest, type KeyStore, type NewKey } from '../types.js';
import { keyDiff } from '../key-diff.js';
import type { Db } from './open.js';
import type { SqliteWriter } from './writer.js';
import { INSERT_ADMIN_EVENT } from './writes.js';

interface Row {
  id: string; name: string; kind: 'api_key' | 'ssh_key'; hash: string | null; hint: string | null;
  fingerprint: string | null; public_key: string | null; scopes: string; models: string | null;
  limits: string; clamps: string; created_at: number; expires_at: number | null; revoked_at: number | null;
  last_used_at: number | null; updated_at: number; version: number; policy_id: string | null;
  previous_hash: string | null; previous_until: number | null; rotated_at: number | null; owner: string | null;
}

function fromRow(r: Row): KeyRecord {
  return {
    id: r.id, name: r.name, kind: r.kind, hash: r.hash, hint: r.hint, fingerprint: r.fingerprint,
    publicKey: r.public_key, scopes: JSON.parse(r.scopes), models: r.models === null ? null : JSON.parse(r.models),
    limits: JSON.parse(r.limits), clamps: JSON.parse(r.clamps), policyId: r.policy_id, createdAt: r.created_at, expiresAt: r.expires_at,
    revokedAt: r.revoked_at, lastUsedAt: r.last_used_at, updatedAt: r.updated_at, version: r.version,
    rotation: r.previous_hash === null ? null : { previousHash: r.previous_hash, previousUntil: r.previous_until!, rotatedAt: r.rotated_at! },
    owner: r.owner === null ? null : JSON.parse(r.owner),
  };
}

/** Key store on SQLite. Statements are prepared once; writes run in IMMEDIATE transactions. */
export class SqliteKeyStore implements KeyStore {
  readonly #db: Db;
  readonly #writer: SqliteWriter;
  readonly #stmt;

  /** `writer` takes the last-used times (`touch`): in the server, a background write on its thread. */
  constructor(db: Db, writer: SqliteWriter) {
    this.#db = db;
    this.#writer = writer;
    this.#stmt = {
      nextVersion: db.prepare('SELECT COALESCE(MAX(version), 0) + 1 AS v FROM keys'),
      insert: db.prepare(`INSERT INTO keys (id, name, kind, hash, hint, fingerprint, public_key, scopes, models, limits, clamps,
        created_at, expires_at, revoked_at, last_used_at, updated_at, version, policy_id, owner)
        VALUES (@id, @name, @kind, @hash, @hint, @fingerprint, @public_key, @scopes, @models, @limits, @clamps,
        @created_at, @expires_at, NULL, NULL, @created_at, @version, @policy_id, @owner)`),
      byId: db.prepare('SELECT * FROM keys WHERE id = ?'),
      byName: db.prepare('SELECT * FROM keys WHERE name = ? ORDER BY created_at'),
      all: db.prepare('SELECT * FROM keys ORDER BY created_at, id'),
      since: db.prepare('SELECT * FROM keys WHERE version > ? ORDER BY version'),
      ping: db.prepare('SELECT 1 FROM keys LIMIT 1'),
      update: db.prepare(`UPDATE keys SET name = @name, scopes = @scopes, models = @models, limits = @limits, clamps = @clamps,
        expires_at = @expires_at, policy_id = @policy_id, updated_at = @now, version = @version WHERE id = @id`),
      policy: db.prepare('SELECT deleted_at FROM policies WHERE id = ?'),
      revoke: db.prepare('UPDATE keys SET revoked_at = @now, updated_at = @now, version = @version WHERE id = @id'),
      rotate: db.prepare(`UPDATE keys SET hash = @hash, hint = @hint, previous_hash = @previous_hash, previous_until = @previous_until,
        rotated_at = @now, updated_at = @now, version = @version WHERE id = @id`),
      event: db.prepare(INSERT_ADMIN_EVENT),
    };
  }

  async create(key: NewKey, by: Actor): Promise<KeyRecord> {
    const now = Date.now();
    const policyId = key.policyId ?? null;
    const run = this.#db.transaction(() => {
      this.#mustBeLivePolicy(policyId);
      const version = (this.#stmt.nextVersion.get() as { v: number }).v;
      this.#stmt.insert.run({
        id: key.id, name: key.name, kind: key.kind, hash: key.hash, hint: key.hint, fingerprint: key.fingerprint,
        public_key: key.publicKey, scopes: JSON.stringify(key.scopes), models: key.models === null ? null : JSON.stringify(key.models),
        limits: JSON.stringify(key.limits), clamps: JSON.stringify(key.clamps), created_at: now, expires_at: key.expiresAt, version, policy_id: policyId,
        owner: key.owner ? JSON.stringify(key.owner) : null,
      });
      this.#stmt.event.run(now, by.actor, 'key.create', key.id, JSON.stringify({ name: key.name, kind: key.kind, scopes: key.scopes, models: key.models, expiresAt: key.expiresAt, limits: key.limits, policyId, ...(key.owner ? { owner: key.owner } : {}) }));
    });
    run.immediate();
    return fromRow(this.#stmt.byId.get(key.id) as Row);
  }

  #mustBeLivePolicy(id: string | null): void {
    if (id === null) return;
    const p = this.#stmt.policy.get(id) as { deleted_at: number | null } | undefined;
    if (!p) throw new Error(`no policy with id ${id}`);
    if (p.deleted_at !== null) throw new Error(`policy ${id} is deleted`);
  }

  async find(idOrName: string): Promise<KeyRecord | null> {
    const byId = this.#stmt.byId.get(idOrName) as Row | undefined;
    if (byId) return fromRow(byId);
    const byName = this.#stmt.byName.all(idOrName) as Row[];
    if (byName.length > 1) throw new Error(`${byName.length} keys are named "${idOrName}"; use the key id (see \`gatehouse keys list\`)`);
    return byName[0] ? fromRow(byName[0]) : null;
  }

  async list(): Promise<KeyRecord[]> {
    return (this.#stmt.all.all() as Row[]).map(fromRow);
  }

  async update(id: string, patch: KeyPatch, by: Actor): Promise<KeyRecord> {
    const now = Date.now();
    const run = this.#db.transaction(() => {
      const row = this.#stmt.byId.get(id) as Row | undefined;
      if (!row) throw new Error(`no key with id ${id}`);
      const cur = fromRow(row);
      const next = { ...cur, ...patch };
      if (patch.policyId !== undefined && patch.policyId !== cur.policyId) this.#mustBeLivePolicy(next.policyId);
      const version = (this.#stmt.nextVersion.get() as { v: number }).v;
      this.#stmt.update.run({
        id, name: next.name, scopes: JSON.stringify(next.scopes), models: next.models === null ? null : JSON.stringify(next.models),
        limits: JSON.stringify(next.limits), clamps: JSON.stringify(next.clamps), expires_at: next.expiresAt, policy_id: next.policyId, now, version,
      });
      this.#stmt.event.run(now, by.actor, 'key.update', id, JSON.stringify(keyDiff(cur, next)));
    });
    run.immediate();
    return fromRow(this.#stmt.byId.get(id) as Row);
  }

  async revoke(id: string, by: Actor): Promise<KeyRecord> {
    const now = Date.now();
    const run = this.#db.transaction(() => {
      const row = this.#stmt.byId.get(id) as Row | undefined;
      if (!row) throw new Error(`no key with id ${id}`);
      if (row.revoked_at !== null) return;
      const version = (this.#stmt.nextVersion.get() as { v: number }).v;
      this.#stmt.revoke.run({ id, now, version });
      this.#stmt.event.run(now, by.actor, 'key.revoke', id, JSON.stringify({ name: row.name }));
    });
    run.immediate();
    return fromRow(this.#stmt.byId.get(id) as Row);
  }

  async rotate(id: string, next: KeyRotationRequest, by: Actor): Promise<KeyRecord> {
    const now = Date.now();
    const run = this.#db.transaction(() => {
      const row = this.#stmt.byId.get(id) as Row | undefined;
      if (!row) throw new Error(`no key with id ${id}`);
      const rot = rotationOf(fromRow(row), next, now);
      const version = (this.#stmt.nextVersion.get() as { v: number }).v;
      this.#stmt.rotate.run({ id, hash: next.hash, hint: next.hint, previous_hash: rot.previousHash, previous_until: rot.previousUntil, now, version });
      this.#stmt.event.run(now, by.actor, 'key.rotate', id, JSON.stringify({ name: row.name, previousValidUntil: rot.previousUntil }));
    });
    run.immediate();
    return fromRow(this.#stmt.byId.get(id) as Row);
  }

  async changesSince(version: number): Promise<{ version: number; records: KeyRecord[] }> {
    // The version handed back is the last row's, never a separate MAX(version): another process
    // (the CLI) can commit between two reads, and a version read second would cover a key the
    // first read did not return, so the cache would never load it.
    const rows = this.#stmt.since.all(version) as Row[];
    return { version: rows.length ? rows[rows.length - 1]!.version : version, records: rows.map(fromRow) };
  }

  touch(lastUsed: ReadonlyMap<string, number>): Promise<void> {
    return this.#writer.touch(lastUsed);
  }

  async ping(): Promise<void> {
    this.#stmt.ping.get();
  }

  async close(): Promise<void> {
    /* the database handle is shared and closed by its owner (store/index.ts) */
  }
}
