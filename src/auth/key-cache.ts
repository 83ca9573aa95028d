import type { KeyRecord, KeyStore } from '../store/types.js';
import type { PolicyCache } from './policy-cache.js';
import { principalFromRecord, type ResolvedPrincipal } from './principal.js';

/** A rotated key's previous secret: accepted for `principal` while now < `until`. */
export interface RotatedSecret {
  readonly principal: ResolvedPrincipal;
  readonly until: number;
  readonly rotatedAt: number;
}

/**
 * Every key, in memory, indexed by what a request presents: the SHA-256 of an API key or the
 * fingerprint of an SSH key. Authentication is then a hash and a map lookup, with no I/O on the
 * request path, so a slow or down database never turns valid requests into errors (docs/threat-model.md
 * G7). A poll of the store's change counter every `refreshMs` (default 250 ms) brings in keys
 * created, updated or revoked by the CLI or another replica well within the promised second.
 *
 * Keys with a policy are built from it (auth/principal.ts) when they are loaded, and rebuilt, from
 * the records kept here, whenever that policy changes: the same poll refreshes the policies first,
 * so a policy change reaches every key that uses it within the same second, and a request still
 * costs a hash and a map lookup.
 */
export class KeyCache {
  readonly #store: KeyStore;
  readonly #byHash = new Map<string, ResolvedPrincipal>();
  readonly #byFingerprint = new Map<string, ResolvedPrincipal>();
  readonly #byId = new Map<string, ResolvedPrincipal>();
  /** A rotated key's previous secret (hash) → the key and the end of its overlap (auth/authenticate.ts). */
  readonly #byPreviousHash = new Map<string, RotatedSecret>();
  /** id → the index keys it was stored under, so a change replaces it without scanning. */
  readonly #indexOf = new Map<string, { hash: string | null; fingerprint: string | null; previousHash: string | null }>();
  readonly #policies: PolicyCache | null;
  /** policy id → the records of the keys that use it (whether or not the policy is loaded), to rebuild them. */
  readonly #keysOf = new Map<string, Map<string, KeyRecord>>();
  #version = 0;
  #timer: NodeJS.Timeout | null = null;
  #refreshing: Promise<void> | null = null;
  #lastOkAt = 0;
  #lastError: Error | null = null;

  /** Without `policies`, a key with a policy may do nothing (auth/principal.ts). */
  constructor(store: KeyStore, policies: PolicyCache | null = null) {
    this.#store = store;
    this.#policies = policies;
  }

  get size(): number {
    return this.#byId.size;
  }

  /** When the store last answered, for /readyz and metrics. */
  get health(): { lastOkAt: number; lastError: Error | null } {
    return { lastOkAt: this.#lastOkAt, lastError: this.#lastError };
  }

  byHash(hash: string): ResolvedPrincipal | undefined {
    return this.#byHash.get(hash);
  }

  /** Looked up only when `byHash` misses: the secret a key had before its last rotation. */
  byPreviousHash(hash: string): RotatedSecret | undefined {
    return this.#byPreviousHash.get(hash);
  }

  byFingerprint(fp: string): ResolvedPrincipal | undefined {
    return this.#byFingerprint.get(fp);
  }

  byId(id: string): ResolvedPrincipal | undefined {
    return this.#byId.get(id);
  }

  /** Loads changes since the last refresh. Concurrent callers share one round trip. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#doRefresh().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #doRefresh(): Promise<void> {
    try {
      if (this.#policies) {
        // Rebuilt at once, from records held here: a failure of the key read below cannot lose it.
        for (const id of await this.#policies.refresh()) for (const r of [...(this.#keysOf.get(id)?.values() ?? [])]) this.#put(r);
      }
      const { version, records } = await this.#store.changesSince(this.#version);
      for (const r of records) this.#put(r);
      this.#version = version;
      this.#lastOkAt = Date.now();
      this.#lastError = null;
    } catch (err) {
      // Keep serving from what we have; the next tick retries. Revocations made while the store is
      // unreachable cannot reach us anyway.
      this.#lastError = err as Error;
    }
  }

  #put(r: KeyRecord): void {
    this.#forget(r.id);
    const p = principalFromRecord(r, r.policyId === null ? undefined : this.#policies?.byId(r.policyId));
    this.#byId.set(r.id, p);
    const rotation = r.rotation ?? null;
    this.#indexOf.set(r.id, { hash: r.hash, fingerprint: r.fingerprint, previousHash: rotation?.previousHash ?? null });
    if (r.hash) this.#byHash.set(r.hash, p);
    if (rotation) this.#byPreviousHash.set(rotation.previousHash, { principal: p, until: rotation.previousUntil, rotatedAt: rotation.rotatedAt });
    if (r.fingerprint) this.#byFingerprint.set(r.fingerprint, p);
    if (r.policyId !== null) {
      let m = this.#keysOf.get(r.policyId);
      if (!m) this.#keysOf.set(r.policyId, (m = new Map()));
      m.set(r.id, r);
    }
  }

  #forget(id: string): void {
    const idx = this.#indexOf.get(id);
    if (!idx) return;
    const policyId = this.#byId.get(id)?.policyId ?? null;
    if (policyId !== null) {
      const m = this.#keysOf.get(policyId);
      m?.delete(id);
      if (m?.size === 0) this.#keysOf.delete(policyId);
    }
    if (idx.hash) this.#byHash.delete(idx.hash);
    if (idx.previousHash) this.#byPreviousHash.delete(idx.previousHash);
    if (idx.fingerprint) this.#byFingerprint.delete(idx.fingerprint);
    this.#byId.delete(id);
    this.#indexOf.delete(id);
  }

  start(refreshMs = 250): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.refresh(), refreshMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
