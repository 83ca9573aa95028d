import type { AdminEvent, BlobUpload, NewAuditRecord } from '../types.js';
import type { Db } from './open.js';
import { SqliteWrites } from './writes.js';

/** Where the SQLite stores send their background writes: inline (CLI) or the writer thread (server). */
export interface SqliteWriter {
  append(records: readonly NewAuditRecord[]): Promise<void>;
  prune(before: number): Promise<number>;
  recordAdmin(e: Omit<AdminEvent, 'id'>): Promise<void>;
  touch(lastUsed: ReadonlyMap<string, number>): Promise<void>;
  recordBlob(u: BlobUpload): Promise<void>;
  close(): Promise<void>;
}

/** The writes on the caller's own connection, on the caller's thread (the CLI's short-lived use). */
export function inlineWriter(db: Db): SqliteWriter {
  const w = new SqliteWrites(db);
  return {
    append: async (records) => w.append(records),
    prune: (before) => w.prune(before),
    recordAdmin: async (e) => w.recordAdmin(e),
    touch: async (lastUsed) => w.touch(lastUsed),
    recordBlob: async (u) => w.recordBlob(u),
    close: async () => {},
  };
}
