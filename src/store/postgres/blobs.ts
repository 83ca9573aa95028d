import type { BlobStore, BlobUpload } from '../types.js';
import type { PgHandle } from './open.js';

/** Blob uploads on PostgreSQL, shared by every replica: an upload through one is known to all. */
export class PostgresBlobStore implements BlobStore {
  readonly #h: PgHandle;

  constructor(h: PgHandle) {
    this.#h = h;
  }

  async recordUpload(u: BlobUpload): Promise<void> {
    await this.#h.pool.query(
      'INSERT INTO blob_uploads (digest, principal_id, principal_name, uploaded_at) VALUES ($1, $2, $3, $4) ON CONFLICT (principal_id, digest) DO NOTHING',
      [u.digest, u.principalId, u.principalName, u.uploadedAt],
    );
  }

  async uploadedBy(principalId: string, digests: readonly string[]): Promise<string[]> {
    if (digests.length === 0) return [];
    const r = await this.#h.pool.query<{ digest: string }>('SELECT digest FROM blob_uploads WHERE principal_id = $1 AND digest = ANY($2::text[])', [principalId, [...new Set(digests)]]);
    return r.rows.map((x) => x.digest);
  }

  async uploadsOf(digest: string): Promise<BlobUpload[]> {
    const r = await this.#h.pool.query('SELECT digest, principal_id, principal_name, uploaded_at FROM blob_uploads WHERE digest = $1 ORDER BY uploaded_at, principal_id', [digest]);
    return r.rows.map((x: Record<string, unknown>) => ({ digest: x.digest as string, principalId: x.principal_id as string, principalName: x.principal_name as string, uploadedAt: Number(x.uploaded_at) }));
  }
}
