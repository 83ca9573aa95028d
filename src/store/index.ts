import { mkdirSync, chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyStore } from './types.js';
import { openSqlite, type Db } from './sqlite/open.js';
import { SqliteKeyStore } from './sqlite/keys.js';

export interface Stores {
  keys: KeyStore;
  /** Where the stores live, for messages. */
  location: string;
  close(): Promise<void>;
}

/** Creates the data dir with owner-only permissions (0700), tightening it if it already exists. */
export function ensureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o777;
  if (mode !== 0o700) chmodSync(dir, 0o700);
}

/** The store factory: the one place that knows which backend is in use. */
export async function openStores(opts: { dataDir: string }): Promise<Stores> {
  ensureDataDir(opts.dataDir);
  const file = join(opts.dataDir, 'gatehouse.db');
  const db: Db = openSqlite(file);
  return {
    keys: new SqliteKeyStore(db),
    location: file,
    async close() {
      db.close();
    },
  };
}
