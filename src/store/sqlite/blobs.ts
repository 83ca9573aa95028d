import type { Statement } from 'better-sqlite3';
import type { BlobStore, BlobUpload } from '../types.js';
import type { Db } from './open.js';
import type { SqliteWriter } from './writer.js';

/** Digests looked up per statement; a create names a handful (files, adapters, draft files). */
const LOOKUP_BATCH = 32;

/**
 * Blob uploads on SQLite. Lookups run on the caller's connection (WAL: never blocked by a writer);
 * the record goes to the SqliteWriter (in the server, its thread), like every other write.
 */
export class SqliteBlobStore implements BlobStore {
  readonly #writer: SqliteWriter;
  readonly #byDigest: Statement;
  readonly #lookups: Statement[] = [];
  readonly #db: Db;

  constructor(db: Db, writer: SqliteWriter) {
    this.#db = db;
    this.#writer = writer;
    this.#byDigest = db.prepare('SELECT digest, principal_id, principal_name, uploaded_at FROM blob_uploads WHERE digest = ? ORDER BY uploaded_at, principal_id');
  }

  recordUpload(u: BlobUpload): Promise<void> {
    return this.#writer.recordBlob(u);
  }

  async uploadedBy(principalId: string, digests: readonly string[]): Promise<string[]> {
    const wanted = [...new Set(digests)];
    const out: string[] = [];
    for (let i = 0; i < wanted.length; i += LOOKUP_BATCH) {
      const batch = wanted.slice(i, i + LOOKUP_BATCH);
      const rows = this.#lookup(batch.length).all(principalId, ...batch) as Array<{ digest: string }>;
      for (const r of rows) out.push(r.digest);
    }
    return out;
  }

  async uploadsOf(digest: string): Promise<BlobUpload[]> {
    return (this.#byDigest.all(digest) as Array<{ digest: string; principal_id: string; principal_name: string; uploaded_at: number }>).map((r) => ({
      digest: r.digest, principalId: r.principal_id, principalName: r.principal_name, uploadedAt: r.uploaded_at,
    }));
  }

  /** `SELECT … WHERE principal_id = ? AND digest IN (?, …)` for n digests, prepared once per n. */
  #lookup(n: number): Statement {
    return (this.#lookups[n] ??= this.#db.prepare(`SELECT digest FROM blob_uploads WHERE principal_id = ? AND digest IN (${Array(n).fill('?').join(', ')})`));
  }
}
