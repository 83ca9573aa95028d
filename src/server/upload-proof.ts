import { createHash, type Hash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const proofs = new WeakMap<IncomingMessage, UploadProof>();

/**
 * Proof that a blob's uploader holds its bytes: the SHA-256 of the request body exactly as the
 * client sent it, computed by Gatehouse. Ollama's answer is no such proof: it answers an upload of
 * a blob it already has with 200 without reading a byte, so a key that only knows a digest (from a
 * public manifest, `ollama show`, a HEAD probe) could "upload" it with an empty body.
 *
 * The hash follows the body on `data` events beside the stream that forwards it, so it sees every
 * byte the client sent, and keeps following after Ollama has stopped reading (that early 200):
 * `verified()` then reads the rest itself, within the same size cap and idle deadline.
 */
export class UploadProof {
  /** Starts hashing a blob upload's body; call before anything reads it. */
  static attach(req: IncomingMessage, digest: string, maxBytes: number, idleMs: number): UploadProof {
    const proof = new UploadProof(req, digest, maxBytes, idleMs);
    proofs.set(req, proof);
    return proof;
  }

  /** The proof attached to this request, if any. */
  static of(req: IncomingMessage): UploadProof | null {
    return proofs.get(req) ?? null;
  }

  readonly digest: string;
  readonly #req: IncomingMessage;
  readonly #maxBytes: number;
  readonly #idleMs: number;
  #hash: Hash | null = createHash('sha256');
  #bytes = 0;
  #result: boolean | null = null;
  #waiters: Array<(ok: boolean) => void> = [];
  #timer: NodeJS.Timeout | null = null;

  /** `digest` as `sha256:<lower-case hex>` (policy/manage.ts canonicalDigest). */
  private constructor(req: IncomingMessage, digest: string, maxBytes: number, idleMs: number) {
    this.digest = digest;
    this.#req = req;
    this.#maxBytes = maxBytes;
    this.#idleMs = idleMs;
    req.on('data', this.#onData);
    req.once('end', this.#onEnd);
    req.once('close', this.#onClose);
  }

  /** Resolves once the whole body has been received (or cannot be): true when it hashed to the digest. */
  verified(): Promise<boolean> {
    if (this.#result !== null) return Promise.resolve(this.#result);
    // Ollama answered before the body was over: stop forwarding what it ignores, and read the rest
    // here, bounded in time as in size.
    this.#timer = setTimeout(() => this.#settle(false), this.#idleMs);
    this.#req.unpipe();
    this.#req.resume();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#hash === null) return;
    this.#bytes += chunk.length;
    if (this.#bytes > this.#maxBytes) return this.#settle(false);
    this.#hash.update(chunk);
    this.#timer?.refresh();
  };

  readonly #onEnd = (): void => {
    if (this.#hash === null) return;
    this.#settle(`sha256:${this.#hash.digest('hex')}` === this.digest);
  };

  readonly #onClose = (): void => this.#settle(false);

  #settle(ok: boolean): void {
    if (this.#result !== null) return;
    this.#result = ok;
    this.#hash = null;
    if (this.#timer) clearTimeout(this.#timer);
    this.#req.off('data', this.#onData);
    this.#req.off('end', this.#onEnd);
    this.#req.off('close', this.#onClose);
    for (const w of this.#waiters.splice(0)) w(ok);
  }
}
