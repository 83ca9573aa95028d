import { join } from 'node:path';
import type { AuditStore, BlobStore, ConsoleSessionStore, KeyStore, PolicyStore } from './types.js';
import { openSqlite, type Db } from './sqlite/open.js';
import { SqliteKeyStore } from './sqlite/keys.js';
import { SqlitePolicyStore } from './sqlite/policies.js';
import { SqliteAuditStore } from './sqlite/audit.js';
import { SqliteBlobStore } from './sqlite/blobs.js';
import { SqliteSessionStore } from './sqlite/sessions.js';
import { WriterThread } from './sqlite/writer-thread.js';
import { inlineWriter } from './sqlite/writer.js';
import { isPostgresUrl } from './postgres/url.js';
import { ensureDataDir, requireStoreFile, STORE_FILE } from './data-dir.js';
import { StoreAccessError } from './errors.js';

export { ensureDataDir } from './data-dir.js';
export { StoreAccessError, StoreMissingError } from './errors.js';

export interface Stores {
  keys: KeyStore;
  /** Named policies keys may take their scopes, models, limits and clamps from. */
  policies: PolicyStore;
  /** Request records, the admin trail (key and config changes) and usage reports. */
  audit: AuditStore;
  /** Blobs uploaded through Gatehouse, per uploader (what a create may reference). */
  blobs: BlobStore;
  /** Console sign-in sessions (server/console/sessions.ts). */
  sessions: ConsoleSessionStore;
  /** Where the stores live, for messages (passwords hidden). */
  location: string;
  backend: 'sqlite' | 'postgres';
  /**
   * Calls `onChange` soon after any process changes a key or a policy (PostgreSQL LISTEN/NOTIFY); returns an
   * unsubscribe function. Null when the backend can only be polled (SQLite: a local file, polled
   * every 250 ms, which is cheap).
   */
  watchKeys: ((onChange: () => void) => () => void) | null;
  close(): Promise<void>;
}

export interface OpenStoresOptions {
  dataDir: string;
  /** `sqlite` (default: <data dir>/gatehouse.db) or a postgres:// URL (config key `store`). */
  store?: string;
  /**
   * `cli` (default): every commit is fsynced, so a key change is durable once the CLI says so,
   * even across a power cut. `server`: WAL commits are not fsynced one by one; a crash of the
   * process still loses nothing committed, a power cut at most the last moments of audit records.
   * With SQLite, the server's background writes (audit, last-used times) run on a thread of their own.
   */
  role?: 'cli' | 'server';
  /**
   * `create` (default): make the data dir (0700) and the store if they are not there (serve, init).
   * `fail`: a missing store is a StoreMissingError: a command that only reads or changes keys must
   * not leave an empty store where it looked, while the gateway serves from another.
   */
  ifMissing?: 'create' | 'fail';
}

/** WAL pages past which a server connection checkpoints (both of them: see openStores). */
const SERVER_AUTOCHECKPOINT_PAGES = 100;

/** The store factory: the one place that knows which backend is in use. */
export async function openStores(opts: OpenStoresOptions): Promise<Stores> {
  const create = (opts.ifMissing ?? 'create') === 'create';
  if (opts.store && isPostgresUrl(opts.store)) return openPostgresStores(opts.store, opts.role ?? 'cli', create);
  let file: string;
  if (create) {
    ensureDataDir(opts.dataDir);
    file = join(opts.dataDir, STORE_FILE);
  } else file = requireStoreFile(opts.dataDir);
  let db: Db;
  try {
    db = openSqlite(file);
  } catch (err) {
    throw new StoreAccessError(`cannot open the key store ${file}: ${(err as Error).message}`, (err as { code?: string }).code);
  }
  const role = opts.role ?? 'cli';
  if (role === 'cli') db.pragma('synchronous = FULL');
  // In the server, the background writes (audit batches, pruning, admin trail, last-used times)
  // run on a thread of their own (sqlite/writer-thread.ts). SQLite checkpoints the WAL inside the
  // commit that crosses the threshold, on the committing connection: mostly the thread's, which
  // commits all the time; this one commits only key changes made through it. At the same small
  // threshold on both (the default 1000 pages, ~4 MB, stalled the event loop 12–14 ms when this
  // connection still wrote the audit), a commit here finds little left to copy.
  const writer = role === 'server' ? new WriterThread({ file, autocheckpointPages: SERVER_AUTOCHECKPOINT_PAGES }) : inlineWriter(db);
  if (role === 'server') db.pragma(`wal_autocheckpoint = ${SERVER_AUTOCHECKPOINT_PAGES}`);
  return {
    keys: new SqliteKeyStore(db, writer),
    policies: new SqlitePolicyStore(db),
    audit: new SqliteAuditStore(db, writer),
    blobs: new SqliteBlobStore(db, writer),
    sessions: new SqliteSessionStore(db),
    location: file,
    backend: 'sqlite',
    watchKeys: null,
    async close() {
      await writer.close();
      db.close();
    },
  };
}

async function openPostgresStores(url: string, role: 'cli' | 'server', create: boolean): Promise<Stores> {
  // Loaded only when configured: SQLite users never load pg.
  const [{ openPostgres }, { PostgresKeyStore }, { PostgresPolicyStore }, { PostgresAuditStore }, { PostgresBlobStore }, { PostgresSessionStore }, { KeyChangeListener }] = await Promise.all([
    import('./postgres/open.js'), import('./postgres/keys.js'), import('./postgres/policies.js'), import('./postgres/audit.js'), import('./postgres/blobs.js'),
    import('./postgres/sessions.js'), import('./postgres/notify.js'),
  ]);
  const h = await openPostgres(url, { max: role === 'server' ? 5 : 2, create });
  let listener: InstanceType<typeof KeyChangeListener> | null = null;
  return {
    keys: new PostgresKeyStore(h),
    policies: new PostgresPolicyStore(h),
    audit: new PostgresAuditStore(h),
    blobs: new PostgresBlobStore(h),
    sessions: new PostgresSessionStore(h),
    location: h.target.display,
    backend: 'postgres',
    watchKeys(onChange) {
      listener ??= new KeyChangeListener(h.clientConfig, h.channel);
      return listener.subscribe(onChange);
    },
    async close() {
      await listener?.close();
      // A query stuck on an unreachable database must not hold up shutdown past its deadline.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([h.pool.end().catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, 3000)))]);
      clearTimeout(timer);
    },
  };
}
