import { DIM_BACKFILL } from '../rollups.js';
import { DIM_TABLES, ROLLUP_BACKFILL, ROLLUP_TABLES } from './rollups.js';

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
  {
    // TLS client certificates (mTLS) as a third kind of principal. SQLite cannot change a CHECK
    // constraint in place, so the table is rebuilt (same columns, same order) and its index redone.
    version: 2,
    sql: `
      CREATE TABLE keys_v2 (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('api_key', 'ssh_key', 'client_cert')),
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
      INSERT INTO keys_v2 (id, name, kind, hash, hint, fingerprint, public_key, scopes, models, limits, clamps, created_at, expires_at, revoked_at, last_used_at, updated_at, version)
        SELECT id, name, kind, hash, hint, fingerprint, public_key, scopes, models, limits, clamps, created_at, expires_at, revoked_at, last_used_at, updated_at, version FROM keys;
      DROP TABLE keys;
      ALTER TABLE keys_v2 RENAME TO keys;
      CREATE INDEX keys_version ON keys (version);
    `,
  },
  {
    // Audit: one row per request (audit/record.ts), written in batches by audit/writer.ts.
    version: 3,
    sql: `
      CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        principal_id TEXT,
        principal_name TEXT,
        client_ip TEXT NOT NULL,
        method TEXT NOT NULL,
        route TEXT,
        path TEXT,
        scope TEXT,
        model TEXT,
        models TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('allowed', 'refused')),
        reason TEXT,
        status INTEGER NOT NULL,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        tokens_estimated INTEGER NOT NULL,
        ttfb_ms REAL,
        duration_ms REAL NOT NULL,
        bytes_in INTEGER NOT NULL,
        bytes_out INTEGER NOT NULL,
        client_aborted INTEGER NOT NULL,
        stream INTEGER NOT NULL,
        upstream TEXT,
        upstream_error TEXT
      );
      CREATE INDEX audit_at ON audit (at);
      CREATE INDEX audit_principal_at ON audit (principal_id, at);
      CREATE INDEX admin_events_at ON admin_events (at);
    `,
  },
  {
    // Blobs uploaded through Gatehouse, per uploader (store/types.ts BlobUpload): a create may
    // reference only these.
    version: 4,
    sql: `
      CREATE TABLE blob_uploads (
        digest TEXT NOT NULL,
        principal_id TEXT NOT NULL,
        principal_name TEXT NOT NULL,
        uploaded_at INTEGER NOT NULL,
        PRIMARY KEY (principal_id, digest)
      );
      CREATE INDEX blob_uploads_digest ON blob_uploads (digest);
    `,
  },
  {
    // With `upstreams`: the node that served a request (fleet/).
    version: 5,
    sql: `ALTER TABLE audit ADD COLUMN node TEXT;`,
  },
  {
    // Named policies (store/types.ts PolicyRecord) and the key's reference to one. A deleted
    // policy keeps its row (deleted_at), so its name is unique only among the others.
    version: 6,
    sql: `
      CREATE TABLE policies (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        models TEXT,
        limits TEXT NOT NULL,
        clamps TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        deleted_at INTEGER,
        version INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX policies_name_live ON policies (name) WHERE deleted_at IS NULL;
      CREATE INDEX policies_version ON policies (version);
      ALTER TABLE keys ADD COLUMN policy_id TEXT REFERENCES policies (id);
      CREATE INDEX keys_policy ON keys (policy_id) WHERE policy_id IS NOT NULL;
    `,
  },
  {
    // Key rotation (store/types.ts KeyRotation): the previous secret's hash and the end of its
    // overlap. One self-contained entry, so it can be renumbered if another lands first.
    version: 7,
    sql: `
      ALTER TABLE keys ADD COLUMN previous_hash TEXT;
      ALTER TABLE keys ADD COLUMN previous_until INTEGER;
      ALTER TABLE keys ADD COLUMN rotated_at INTEGER;
      CREATE UNIQUE INDEX keys_previous_hash ON keys (previous_hash) WHERE previous_hash IS NOT NULL;
    `,
  },
  {
    // Personal keys (store/types.ts KeyOwner): the identity a key belongs to, as JSON.
    version: 8,
    sql: `
      ALTER TABLE keys ADD COLUMN owner TEXT;
    `,
  },
  {
    // Roll-ups (store/rollups.ts) per minute, hour and day, kept by every append from now on and
    // built here from the audit rows already stored (about 6 minutes per 10 million rows on a 2-core
    // machine: the first start of this version waits for it).
    version: 9,
    sql: ROLLUP_TABLES + ROLLUP_BACKFILL,
  },
  {
    // Console sessions (store/types.ts ConsoleSessionRecord): only the hash of the cookie's secret.
    // One self-contained entry, so it can be renumbered if another lands first.
    version: 10,
    sql: `
      CREATE TABLE console_sessions (
        id_hash TEXT PRIMARY KEY,
        principal TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
    `,
  },
  {
    // Roll-ups by one dimension (store/rollups.ts DIMS), built here from the full roll-ups (67 s for
    // the 6.9M roll-up rows of 10M records on 2 cores; the first start of this version waits for it).
    version: 11,
    sql: DIM_TABLES + DIM_BACKFILL,
  },
  {
    // One key's audit records newest (or oldest) first, a page at a time (the console's Audit page,
    // `gatehouse audit --key`): read in id order straight from this index, instead of every record
    // of the key fetched and sorted (a key with a million records took seconds). One self-contained
    // entry, so it can be renumbered if another lands first.
    version: 12,
    sql: `
      CREATE INDEX audit_principal_id ON audit (principal_id, id);
    `,
  },
];
