import { policyDiff } from '../key-diff.js';
import { PolicyInUseError, type Actor, type NewPolicy, type PolicyPatch, type PolicyRecord, type PolicyStore } from '../types.js';
import type { Db } from './open.js';
import { INSERT_ADMIN_EVENT } from './writes.js';

interface Row {
  id: string; name: string; scopes: string; models: string | null; limits: string; clamps: string;
  created_at: number; updated_at: number; deleted_at: number | null; version: number;
}

function fromRow(r: Row): PolicyRecord {
  return {
    id: r.id, name: r.name, scopes: JSON.parse(r.scopes), models: r.models === null ? null : JSON.parse(r.models),
    limits: JSON.parse(r.limits), clamps: JSON.parse(r.clamps), createdAt: r.created_at, updatedAt: r.updated_at,
    deletedAt: r.deleted_at, version: r.version,
  };
}

/** Policy store on SQLite, on the keys' connection: a key's check of its policy and a policy's deletion share one lock. */
export class SqlitePolicyStore implements PolicyStore {
  readonly #db: Db;
  readonly #stmt;

  constructor(db: Db) {
    this.#db = db;
    this.#stmt = {
      nextVersion: db.prepare('SELECT COALESCE(MAX(version), 0) + 1 AS v FROM policies'),
      insert: db.prepare(`INSERT INTO policies (id, name, scopes, models, limits, clamps, created_at, updated_at, deleted_at, version)
        VALUES (@id, @name, @scopes, @models, @limits, @clamps, @now, @now, NULL, @version)`),
      byId: db.prepare('SELECT * FROM policies WHERE id = ?'),
      byName: db.prepare('SELECT * FROM policies WHERE name = ? AND deleted_at IS NULL'),
      live: db.prepare('SELECT * FROM policies WHERE deleted_at IS NULL ORDER BY name'),
      all: db.prepare('SELECT * FROM policies ORDER BY name, created_at'),
      since: db.prepare('SELECT * FROM policies WHERE version > ? ORDER BY version'),
      update: db.prepare(`UPDATE policies SET name = @name, scopes = @scopes, models = @models, limits = @limits, clamps = @clamps,
        updated_at = @now, version = @version WHERE id = @id`),
      delete: db.prepare('UPDATE policies SET deleted_at = @now, updated_at = @now, version = @version WHERE id = @id'),
      users: db.prepare('SELECT COUNT(*) AS n FROM keys WHERE policy_id = ? AND revoked_at IS NULL'),
      event: db.prepare(INSERT_ADMIN_EVENT),
    };
  }

  async create(p: NewPolicy, by: Actor): Promise<PolicyRecord> {
    const now = Date.now();
    this.#db.transaction(() => {
      this.#mustBeFreeName(p.name);
      const version = (this.#stmt.nextVersion.get() as { v: number }).v;
      this.#stmt.insert.run({ ...columns(p), id: p.id, now, version });
      this.#stmt.event.run(now, by.actor, 'policy.create', null, JSON.stringify({ policy: p.id, name: p.name, scopes: p.scopes, models: p.models, limits: p.limits, clamps: p.clamps }));
    }).immediate();
    return fromRow(this.#stmt.byId.get(p.id) as Row);
  }

  async find(idOrName: string): Promise<PolicyRecord | null> {
    const row = (this.#stmt.byId.get(idOrName) ?? this.#stmt.byName.get(idOrName)) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  async list(o: { includeDeleted?: boolean } = {}): Promise<PolicyRecord[]> {
    return ((o.includeDeleted ? this.#stmt.all : this.#stmt.live).all() as Row[]).map(fromRow);
  }

  async update(id: string, patch: PolicyPatch, by: Actor): Promise<PolicyRecord> {
    const now = Date.now();
    this.#db.transaction(() => {
      const cur = this.#mustBeLive(id);
      const next = { ...cur, ...patch };
      if (next.name !== cur.name) this.#mustBeFreeName(next.name);
      const diff = policyDiff(cur, next);
      if (Object.keys(diff).length === 0) return;
      const version = (this.#stmt.nextVersion.get() as { v: number }).v;
      this.#stmt.update.run({ ...columns(next), id, now, version });
      this.#stmt.event.run(now, by.actor, 'policy.update', null, JSON.stringify({ policy: id, name: next.name, ...diff }));
    }).immediate();
    return fromRow(this.#stmt.byId.get(id) as Row);
  }

  async delete(id: string, by: Actor): Promise<PolicyRecord> {
    const now = Date.now();
    this.#db.transaction(() => {
      const row = this.#stmt.byId.get(id) as Row | undefined;
      if (!row) throw new Error(`no policy with id ${id}`);
      if (row.deleted_at !== null) return;
      const users = (this.#stmt.users.get(id) as { n: number }).n;
      if (users > 0) throw new PolicyInUseError(row.name, users);
      const version = (this.#stmt.nextVersion.get() as { v: number }).v;
      this.#stmt.delete.run({ id, now, version });
      this.#stmt.event.run(now, by.actor, 'policy.delete', null, JSON.stringify({ policy: id, name: row.name }));
    }).immediate();
    return fromRow(this.#stmt.byId.get(id) as Row);
  }

  async changesSince(version: number): Promise<{ version: number; records: PolicyRecord[] }> {
    // As for keys: the version handed back is the last row's, never a separate MAX(version).
    const rows = this.#stmt.since.all(version) as Row[];
    return { version: rows.length ? rows[rows.length - 1]!.version : version, records: rows.map(fromRow) };
  }

  #mustBeLive(id: string): PolicyRecord {
    const row = this.#stmt.byId.get(id) as Row | undefined;
    if (!row) throw new Error(`no policy with id ${id}`);
    if (row.deleted_at !== null) throw new Error(`policy ${id} is deleted`);
    return fromRow(row);
  }

  #mustBeFreeName(name: string): void {
    const taken = this.#stmt.byName.get(name) as Row | undefined;
    if (taken) throw new Error(`a policy named "${name}" already exists (${taken.id})`);
  }
}

function columns(p: Pick<PolicyRecord, 'name' | 'scopes' | 'models' | 'limits' | 'clamps'>) {
  return {
    name: p.name, scopes: JSON.stringify(p.scopes), models: p.models === null ? null : JSON.stringify(p.models),
    limits: JSON.stringify(p.limits), clamps: JSON.stringify(p.clamps),
  };
}
