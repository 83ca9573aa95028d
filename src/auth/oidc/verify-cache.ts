import { createHash } from 'node:crypto';

/**
 * Tokens already verified, by SHA-256 of the token (the token itself is never kept), until they
 * expire: a request with a token seen before costs a hash and a map lookup. Bounded: when full, the
 * oldest entry goes (a Map iterates in insertion order).
 */

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}

export class VerifyCache<T extends { readonly validUntil: number }> {
  readonly #max: number;
  readonly #map = new Map<string, T>();

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The entry, if still valid at `now` (ms); an expired one is dropped. */
  get(hash: string, now: number): T | undefined {
    const e = this.#map.get(hash);
    if (e === undefined) return undefined;
    if (now >= e.validUntil) {
      this.#map.delete(hash);
      return undefined;
    }
    return e;
  }

  set(hash: string, entry: T): void {
    if (this.#map.size >= this.#max && !this.#map.has(hash)) {
      const oldest = this.#map.keys().next().value;
      if (oldest !== undefined) this.#map.delete(oldest);
    }
    this.#map.set(hash, entry);
  }
}
