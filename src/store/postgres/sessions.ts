import type { ConsoleSessionRecord, ConsoleSessionStore } from '../types.js';
import type { PgHandle } from './open.js';

/** Console sessions on PostgreSQL: a session made through one replica works on every other. */
export class PostgresSessionStore implements ConsoleSessionStore {
  readonly #h: PgHandle;

  constructor(h: PgHandle) {
    this.#h = h;
  }

  async create(s: ConsoleSessionRecord): Promise<void> {
    await this.#h.pool.query('INSERT INTO console_sessions (id_hash, principal, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [s.idHash, JSON.stringify(s.principal), s.createdAt, s.lastSeenAt, s.expiresAt]);
  }

  async get(idHash: string): Promise<ConsoleSessionRecord | null> {
    const r = await this.#h.pool.query('SELECT id_hash, principal, created_at, last_seen_at, expires_at FROM console_sessions WHERE id_hash = $1', [idHash]);
    const x = r.rows[0] as Record<string, unknown> | undefined;
    return x ? { idHash: x.id_hash as string, principal: x.principal as ConsoleSessionRecord['principal'], createdAt: Number(x.created_at), lastSeenAt: Number(x.last_seen_at), expiresAt: Number(x.expires_at) } : null;
  }

  async touch(idHash: string, at: number): Promise<void> {
    await this.#h.pool.query('UPDATE console_sessions SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at < $2', [idHash, at]);
  }

  async remove(idHash: string): Promise<void> {
    await this.#h.pool.query('DELETE FROM console_sessions WHERE id_hash = $1', [idHash]);
  }

  async prune(now: number, idleMs: number): Promise<number> {
    const r = await this.#h.pool.query('DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at <= $2', [now, now - idleMs]);
    return r.rowCount ?? 0;
  }
}
