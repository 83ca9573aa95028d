import Database from 'better-sqlite3';
import { chmodSync, existsSync } from 'node:fs';
import { MIGRATIONS } from './migrations.js';
import { registerRollupFunctions } from './rollups.js';

export type Db = Database.Database;

/**
 * Opens (creating if needed) the SQLite database in the data dir: WAL so the CLI and a running
 * server can use it at once, a busy timeout instead of SQLITE_BUSY errors, synchronous=NORMAL
 * (WAL keeps that crash-safe: a power cut may lose the last commits, never corrupt the file), and
 * versioned migrations applied in one transaction each (the roll-ups' SQL functions are registered
 * first: their upserts and backfill use them) (`migrate: false` for a second connection
 * to a file that the first has already migrated).
 */
export function openSqlite(file: string, o: { migrate?: boolean } = {}): Db {
  const fresh = !existsSync(file);
  const db = new Database(file);
  if (fresh) chmodSync(file, 0o600);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  registerRollupFunctions(db);
  if (o.migrate !== false) migrate(db);
  return db;
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const done = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version));
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
    }).immediate();
  }
}
