import type { Statement } from 'better-sqlite3';
import type { ConsoleSessionRecord, ConsoleSessionStore } from '../types.js';
import type { Db } from './open.js';

interface Row {
  id_hash: string;
  principal: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

/**
 * Console sessions on SQLite, on the caller's connection: they change a few times per sign-in (and
 * once a minute while used), far too rarely to need the writer thread the audit uses.
 */
export class SqliteSessionStore implements ConsoleSessionStore {
  readonly #insert: Statement;
  readonly #get: Statement;
  readonly #touch: Statement;
  readonly #remove: Statement;
  readonly #prune: Statement;

  constructor(db: Db) {
    this.#insert = db.prepare('INSERT INTO console_sessions (id_hash, principal, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?)');
    this.#get = db.prepare('SELECT id_hash, principal, created_at, last_seen_at, expires_at FROM console_sessions WHERE id_hash = ?');
    this.#touch = db.prepare('UPDATE console_sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at < ?');
    this.#remove = db.prepare('DELETE FROM console_sessions WHERE id_hash = ?');
    this.#prune = db.prepare('DELETE FROM console_sessions WHERE expires_at <= ? OR last_seen_at <= ?');
  }

  async create(s: ConsoleSessionRecord): Promise<void> {
    this.#insert.run(s.idHash, JSON.stringify(s.principal), s.createdAt, s.lastSeenAt, s.expiresAt);
  }

  async get(idHash: string): Promise<ConsoleSessionRecord | null> {
    const r = this.#get.get(idHash) as Row | undefined;
    return r ? { idHash: r.id_hash, principal: JSON.parse(r.principal) as ConsoleSessionRecord['principal'], createdAt: r.created_at, lastSeenAt: r.last_seen_at, expiresAt: r.expires_at } : null;
  }

  async touch(idHash: string, at: number): Promise<void> {
    this.#touch.run(at, idHash, at);
  }

  async remove(idHash: string): Promise<void> {
    this.#remove.run(idHash);
  }

  async prune(now: number, idleMs: number): Promise<number> {
    return this.#prune.run(now, now - idleMs).changes;
  }
}
