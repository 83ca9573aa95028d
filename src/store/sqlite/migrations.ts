/**
 * Versioned schema. Append only: a migration that shipped is never edited, a change is a new
 * version. Each runs once, in its own transaction.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE TABLE keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('api_key', 'ssh_key')),
        hash TEXT UNIQUE,
        hint TEXT,
        fingerprint TEXT UNIQUE,
        public_key TEXT,
        scopes TEXT NOT NULL,
        models TEXT,
        limits TEXT NOT NULL,
        clamps TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER,
        last_used_at INTEGER,
        updated_at INTEGER NOT NULL,
        version INTEGER NOT NULL
      );
      CREATE INDEX keys_version ON keys (version);
      CREATE TABLE admin_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        key_id TEXT,
        detail TEXT NOT NULL
      );
    `,
  },
];
