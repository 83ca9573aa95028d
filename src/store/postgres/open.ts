import pg from 'pg';
import { PG_MIGRATIONS } from './migrations.js';
import { parsePostgresUrl, type PgTarget } from './url.js';
import { StoreMissingError } from '../errors.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export interface PgHandle {
  pool: pg.Pool;
  target: PgTarget;
  /** Connection settings for extra dedicated clients (the LISTEN connection). */
  clientConfig: pg.ClientConfig;
  /** Advisory-lock id for this schema's key and policy writes (versions must commit in order). */
  keysLock: number;
  /** NOTIFY channel for key and policy changes in this schema. */
  channel: string;
}

/**
 * Connects to PostgreSQL: a small pool whose every connection uses our schema (search_path set at
 * connection start), with timeouts so a hung database makes calls fail instead of hang (the key
 * cache keeps serving from memory meanwhile: docs/threat-model.md G7), then applies migrations.
 */
export async function openPostgres(url: string, opts: { max?: number; create?: boolean } = {}): Promise<PgHandle> {
  const target = parsePostgresUrl(url);
  const clientConfig: pg.ClientConfig = {
    connectionString: target.connectionString,
    options: `-c search_path=${target.schema}`,
    application_name: 'gatehouse',
    connectionTimeoutMillis: 5000,
    query_timeout: 15_000,
    keepAlive: true,
  };
  const pool = new pg.Pool({ ...clientConfig, max: opts.max ?? 5, idleTimeoutMillis: 30_000 });
  // An idle connection that dies (database restart) is reported here; without a listener the
  // process would crash. The next query simply gets a fresh connection.
  pool.on('error', () => {});
  try {
    if (opts.create === false) await mustExist(pool, target);
    await migrate(pool, target.schema);
  } catch (err) {
    await pool.end().catch(() => {});
    if (err instanceof StoreMissingError) throw err;
    throw new Error(`cannot open the PostgreSQL store ${target.display}: ${(err as Error).message}`, { cause: err });
  }
  return { pool, target, clientConfig, keysLock: lockId(`gatehouse.keys.${target.schema}`), channel: `gatehouse_keys_${target.schema}` };
}

/** For commands that must not create a store: the schema and its migrations table are there. */
async function mustExist(pool: pg.Pool, target: PgTarget): Promise<void> {
  const r = await pool.query<{ n: string | null }>("SELECT to_regclass($1) AS n", [`${target.schema}.schema_migrations`]);
  if (r.rows[0]?.n == null) throw new StoreMissingError(target.display, `schema "${target.schema}" holds no Gatehouse tables`);
}

async function migrate(pool: pg.Pool, schema: string): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1)', [lockId(`gatehouse.migrate.${schema}`)]);
    // CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists; a
    // DBA-created schema must work for a role without it.
    const exists = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) await c.query(`CREATE SCHEMA ${schema}`);
    await c.query(`SET LOCAL search_path TO ${schema}`);
    await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)');
    const done = new Set((await c.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    for (const m of PG_MIGRATIONS) {
      if (done.has(m.version)) continue;
      await c.query(m.sql);
      await c.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [m.version, Date.now()]);
    }
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

/** Runs `fn` in a transaction on one pooled connection. */
export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

/** A stable signed 32-bit id for pg_advisory_*lock (FNV-1a). */
export function lockId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/** SQLSTATE classes that mean "this data can never be written" (22 data exception, 23 integrity). */
export function isPermanentPgError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^(22|23)/.test(code);
}
