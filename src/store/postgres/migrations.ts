import { DIM_BACKFILL } from '../rollups.js';
import { PG_DIM_TABLES, PG_ROLLUP_BACKFILL, PG_ROLLUP_TABLES } from './rollups.js';

/**
 * PostgreSQL schema, versioned like the SQLite one: append only, a shipped version is never
 * edited. All pending versions run in one transaction under an advisory lock, so replicas that
 * start together migrate once. The tables mirror the SQLite ones; `version` comes from a
 * sequence and every key change also NOTIFYs (store/postgres/keys.ts).
 */
export const PG_MIGRATIONS: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE SEQUENCE key_version_seq;
      CREATE TABLE keys (
        id text PRIMARY KEY,
        name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('api_key', 'ssh_key', 'client_cert')),
        hash text UNIQUE,
        hint text,
        fingerprint text UNIQUE,
        public_key text,
        scopes jsonb NOT NULL,
        models jsonb,
        limits jsonb NOT NULL,
        clamps jsonb NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint,
        revoked_at bigint,
        last_used_at bigint,
        updated_at bigint NOT NULL,
        version bigint NOT NULL
      );
      CREATE INDEX keys_version ON keys (version);
      CREATE TABLE admin_events (
        id bigserial PRIMARY KEY,
        at bigint NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        key_id text,
        detail jsonb NOT NULL
      );
      CREATE INDEX admin_events_at ON admin_events (at);
      CREATE TABLE audit (
        id bigserial PRIMARY KEY,
        at bigint NOT NULL,
        request_id text NOT NULL,
        principal_id text,
        principal_name text,
        client_ip text NOT NULL,
        method text NOT NULL,
        route text,
        path text,
        scope text,
        model text,
        models jsonb NOT NULL,
        decision text NOT NULL CHECK (decision IN ('allowed', 'refused')),
        reason text,
        status integer NOT NULL,
        prompt_tokens bigint,
        completion_tokens bigint,
        tokens_estimated boolean NOT NULL,
        ttfb_ms double precision,
        duration_ms double precision NOT NULL,
        bytes_in bigint NOT NULL,
        bytes_out bigint NOT NULL,
        client_aborted boolean NOT NULL,
        stream boolean NOT NULL,
        upstream text,
        upstream_error text
      );
      CREATE INDEX audit_at ON audit (at);
      CREATE INDEX audit_principal_at ON audit (principal_id, at);
    `,
  },
  {
    // Blobs uploaded through Gatehouse, per uploader (store/types.ts BlobUpload).
    version: 2,
    sql: `
      CREATE TABLE blob_uploads (
        digest text NOT NULL,
        principal_id text NOT NULL,
        principal_name text NOT NULL,
        uploaded_at bigint NOT NULL,
        PRIMARY KEY (principal_id, digest)
      );
      CREATE INDEX blob_uploads_digest ON blob_uploads (digest);
    `,
  },
  {
    // With `upstreams`: the node that served a request (fleet/).
    version: 3,
    sql: `ALTER TABLE audit ADD COLUMN node text;`,
  },
  {
    // Named policies (store/types.ts PolicyRecord) and the key's reference to one; versions from
    // their own sequence, written under the keys' advisory lock (store/postgres/policies.ts).
    version: 4,
    sql: `
      CREATE SEQUENCE policy_version_seq;
      CREATE TABLE policies (
        id text PRIMARY KEY,
        name text NOT NULL,
        scopes jsonb NOT NULL,
        models jsonb,
        limits jsonb NOT NULL,
        clamps jsonb NOT NULL,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        deleted_at bigint,
        version bigint NOT NULL
      );
      CREATE UNIQUE INDEX policies_name_live ON policies (name) WHERE deleted_at IS NULL;
      CREATE INDEX policies_version ON policies (version);
      ALTER TABLE keys ADD COLUMN policy_id text REFERENCES policies (id);
      CREATE INDEX keys_policy ON keys (policy_id) WHERE policy_id IS NOT NULL;
    `,
  },
  {
    // Key rotation (store/types.ts KeyRotation): the previous secret's hash and the end of its
    // overlap. One self-contained entry, so it can be renumbered if another lands first.
    version: 5,
    sql: `
      ALTER TABLE keys ADD COLUMN previous_hash text;
      ALTER TABLE keys ADD COLUMN previous_until bigint;
      ALTER TABLE keys ADD COLUMN rotated_at bigint;
      CREATE UNIQUE INDEX keys_previous_hash ON keys (previous_hash) WHERE previous_hash IS NOT NULL;
    `,
  },
  {
    // Personal keys (store/types.ts KeyOwner): the identity a key belongs to.
    version: 6,
    sql: `
      ALTER TABLE keys ADD COLUMN owner jsonb;
    `,
  },
  {
    // Roll-ups (store/rollups.ts) per minute, hour and day, kept by every append from now on and
    // built here from the audit rows already stored (about a minute per million rows on a 2-core
    // machine: the first start of this version waits for it).
    version: 7,
    sql: PG_ROLLUP_TABLES + PG_ROLLUP_BACKFILL,
  },
  {
    // Console sessions (store/types.ts ConsoleSessionRecord): only the hash of the cookie's secret.
    version: 8,
    sql: `
      CREATE TABLE console_sessions (
        id_hash text PRIMARY KEY,
        principal jsonb NOT NULL,
        created_at bigint NOT NULL,
        last_seen_at bigint NOT NULL,
        expires_at bigint NOT NULL
      );
      CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
    `,
  },
  {
    // Roll-ups by one dimension (store/rollups.ts DIMS), built here from the full roll-ups (325 s for
    // the 6.9M roll-up rows of 10M records on 2 cores; the first start of this version waits for it).
    version: 9,
    sql: PG_DIM_TABLES + DIM_BACKFILL,
  },
  {
    // One key's audit records newest (or oldest) first, a page at a time (the console's Audit page,
    // `gatehouse audit --key`): read in id order straight from this index, instead of every record
    // of the key fetched and sorted (a key with a million records took seconds). One self-contained
    // entry, so it can be renumbered if another lands first.
    version: 10,
    sql: `
      CREATE INDEX audit_principal_id ON audit (principal_id, id);
    `,
  },
];
