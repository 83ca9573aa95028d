import type { Logger } from 'pino';
import type { ResolvedPrincipal } from '../auth/principal.js';
import { refuse, type GatewayError } from '../core/errors.js';
import type { JsonObject } from '../policy/json-body.js';
import { createBlobDigests } from '../policy/manage.js';
import type { RouteDef } from '../routes/table.js';
import type { BlobStore } from '../store/types.js';
import type { UploadProof } from './upload-proof.js';

/** Known (principal, digest) pairs kept in memory; past this the set starts again (the store has them all). */
const MAX_KNOWN = 10_000;
/** How long an upload's answer waits for its record to be stored before going out anyway. */
const STORE_WAIT_MS = 2000;

/**
 * Blobs follow the allowlist (issue #23): a create may reference only blobs its own key uploaded
 * through Gatehouse. A digest is only a name, which anyone can learn (public registry manifests,
 * `ollama show --modelfile`, a HEAD probe); an upload whose bytes Gatehouse hashed to that digest
 * shows the key holds the blob itself. So a key whose allowlist excludes a model cannot build a
 * copy of it from the blobs Ollama already has, nor from blobs another key uploaded.
 *
 * Uploads are recorded in the store (per uploader, with name and time) and remembered here, so a
 * create right after its upload never waits for the store. Every request but a create naming
 * blobs passes without a promise.
 */
export class BlobRegistry {
  readonly #store: BlobStore;
  readonly #log: Logger;
  readonly #known = new Set<string>();

  constructor(store: BlobStore, log: Logger) {
    this.#store = store;
    this.#log = log;
  }

  /**
   * The create check, after checkManageRequest has accepted the body: null when there is nothing
   * to look up (every route but a create naming blobs), else the refusal or null, once known.
   */
  checkCreate(route: RouteDef, body: JsonObject, p: ResolvedPrincipal): Promise<GatewayError | null> | null {
    if (route.id !== 'create') return null;
    const digests = createBlobDigests(body);
    if (digests.length === 0) return null;
    return this.unknownDigests(p, digests).then(
      (unknown) => (unknown.length ? notUploaded(unknown) : null),
      (err: unknown) => refuse('GW_ERR_STORE_UNAVAILABLE', 'the gateway cannot check which blobs this key uploaded right now; try again shortly', { cause: err }),
    );
  }

  /** Which of `digests` (canonical) this principal has not uploaded through Gatehouse. */
  async unknownDigests(p: ResolvedPrincipal, digests: readonly string[]): Promise<string[]> {
    const missing = digests.filter((d) => !this.#known.has(pairKey(p.id, d)));
    if (missing.length === 0) return [];
    const found = new Set(await this.#store.uploadedBy(p.id, missing));
    for (const d of found) this.#remember(p.id, d);
    return missing.filter((d) => !found.has(d));
  }

  /** Records a verified upload: known here at once, stored for other replicas. Never rejects. */
  recordUpload(digest: string, p: ResolvedPrincipal): Promise<void> {
    this.#remember(p.id, digest);
    const stored = this.#store.recordUpload({ digest, principalId: p.id, principalName: p.name, uploadedAt: Date.now() }).catch((err: unknown) => {
      this.#log.error({ err: (err as Error).message, digest, key_id: p.id }, 'could not store a blob upload; other replicas will refuse a create that uses it until it is uploaded again');
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, STORE_WAIT_MS)));
    return Promise.race([stored, late]).finally(() => clearTimeout(timer));
  }

  /**
   * For Exchange.holdResponse on a blob upload: when Ollama accepts it (200 or 201), the answer
   * waits until Gatehouse has verified the body against the digest and recorded the upload.
   */
  holdUpload(proof: UploadProof | null, p: ResolvedPrincipal): (status: number) => Promise<void> | null {
    return (status) => {
      if (!proof || (status !== 200 && status !== 201)) return null;
      return proof.verified().then((ok) => {
        if (ok) return this.recordUpload(proof.digest, p);
        this.#log.warn({ digest: proof.digest, key_id: p.id }, 'blob upload not recorded: the body Gatehouse received was incomplete or did not hash to its digest');
      });
    };
  }

  #remember(principalId: string, digest: string): void {
    if (this.#known.size >= MAX_KNOWN) this.#known.clear();
    this.#known.add(pairKey(principalId, digest));
  }
}

const pairKey = (principalId: string, digest: string): string => `${principalId}\n${digest}`;

function notUploaded(digests: readonly string[]): GatewayError {
  const list = digests.slice(0, 5).join(', ') + (digests.length > 5 ? ` and ${digests.length - 5} more` : '');
  const first = digests[0]!;
  return refuse(
    'GW_ERR_MANAGE_BLOB_NOT_UPLOADED',
    `this create references ${digests.length === 1 ? 'a blob' : 'blobs'} this key has not uploaded through Gatehouse: ${list}. ` +
      `A create may use only blobs its own key uploaded here; upload each through Gatehouse first (POST /api/blobs/${first} with the file as the body), then send the create again`,
  );
}
