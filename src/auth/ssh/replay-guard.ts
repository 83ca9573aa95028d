// "Each token is accepted once" for the Ed25519 CLI token, in memory, for one process.
//
// A token is only usable while its timestamp is inside the window (|now − ts| ≤ windowSec), so it
// only has to be remembered until ts + windowSec has passed. Entries are filed in one bucket per
// expiry second; each call drops the buckets whose second has passed, so the cost per call is the
// number of entries actually expiring, never a scan of everything.
//
// Known cost of strictness: the CLI's token is deterministic per (key, method, path, second), so two
// *legitimate* identical requests in the same second (e.g. two `ollama ps` at once) look like a
// replay and the second is refused. Callers decide whether to exempt harmless routes (`HEAD /`).
//
// Memory is bounded: at `maxEntries` the guard refuses new tokens (fails closed) instead of
// forgetting old ones, which would re-open the replay window. Only call it after the signature has
// verified; otherwise unauthenticated traffic could fill it.
//
// Single-process only: behind several gateway instances a replay can land on another instance.

export type ReplayVerdict =
  /** First sighting; recorded. */
  | 'fresh'
  /** Seen before inside its window. */
  | 'replay'
  /** Not recorded: the guard is at capacity. Refuse the request (fail closed). */
  | 'full'
  /** ts is outside the window; not recorded. The timestamp check should have refused it already. */
  | 'outside-window';

export interface ReplayGuardOptions {
  /** Same window as checkTimestamp: tokens with |now − ts| ≤ windowSec are live. */
  windowSec: number;
  /** Upper bound on remembered tokens. Default 100 000 (~20 MB worst case). */
  maxEntries?: number;
  /** Called on every refusal for capacity, so the gateway can log/alert (rate-limit it there). */
  onCapacityExceeded?: (info: { size: number; maxEntries: number }) => void;
}

export const DEFAULT_REPLAY_MAX_ENTRIES = 100_000;

export class ReplayGuard {
  readonly #windowSec: number;
  readonly #maxEntries: number;
  readonly #onCapacityExceeded: ReplayGuardOptions['onCapacityExceeded'];
  /** Every live token key. */
  readonly #live = new Set<string>();
  /** expiry second → keys that stop being live at that second. */
  readonly #buckets = new Map<number, string[]>();
  /** Every bucket with a second ≤ this has been dropped. */
  #sweptThrough = Number.NEGATIVE_INFINITY;
  #refusedForCapacity = 0;

  constructor(options: ReplayGuardOptions) {
    const { windowSec, maxEntries = DEFAULT_REPLAY_MAX_ENTRIES } = options;
    if (!Number.isSafeInteger(windowSec) || windowSec < 0) throw new RangeError('windowSec must be a non-negative integer');
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    this.#windowSec = windowSec;
    this.#maxEntries = maxEntries;
    this.#onCapacityExceeded = options.onCapacityExceeded;
  }

  /**
   * Records the token if new. `signatureB64` must be the canonical signature text
   * (parseOllamaToken's `signatureB64`); the signature already binds key and timestamp.
   */
  check(signatureB64: string, ts: number, nowSec: number): ReplayVerdict {
    // Whole seconds only: buckets are keyed by integer seconds. A non-finite clock or ts would
    // poison every comparison below, so it is refused rather than recorded.
    if (!Number.isFinite(nowSec) || !Number.isSafeInteger(ts)) return 'outside-window';
    const now = Math.floor(nowSec);
    this.#sweep(now);
    if (ts < now - this.#windowSec || ts > now + this.#windowSec) return 'outside-window';
    if (this.#live.has(signatureB64)) return 'replay';
    if (this.#live.size >= this.#maxEntries) {
      this.#refusedForCapacity++;
      this.#onCapacityExceeded?.({ size: this.#live.size, maxEntries: this.#maxEntries });
      return 'full';
    }
    // Live through second ts + window inclusive; dropped once the clock reaches the next second.
    const expiresAt = ts + this.#windowSec + 1;
    this.#live.add(signatureB64);
    const bucket = this.#buckets.get(expiresAt);
    if (bucket === undefined) this.#buckets.set(expiresAt, [signatureB64]);
    else bucket.push(signatureB64);
    // After the clock stepped back, a new bucket can sit behind the sweep mark; move the mark back
    // so the next sweep still reaches it.
    if (expiresAt <= this.#sweptThrough) this.#sweptThrough = expiresAt - 1;
    return 'fresh';
  }

  /** True when the request must be refused: replayed, guard full, or outside the window. */
  seen(signatureB64: string, ts: number, nowSec: number): boolean {
    return this.check(signatureB64, ts, nowSec) !== 'fresh';
  }

  get size(): number {
    return this.#live.size;
  }

  /** How many tokens were refused because the guard was full, since construction. */
  get refusedForCapacity(): number {
    return this.#refusedForCapacity;
  }

  #sweep(nowSec: number): void {
    if (nowSec <= this.#sweptThrough) return;
    // Walk second by second when that is shorter than the bucket list (the steady state: one step
    // per second); after a long idle gap, walk the (bounded) bucket list instead.
    if (nowSec - this.#sweptThrough <= this.#buckets.size) {
      for (let sec = this.#sweptThrough + 1; sec <= nowSec; sec++) this.#drop(sec);
    } else {
      for (const sec of this.#buckets.keys()) if (sec <= nowSec) this.#drop(sec);
    }
    this.#sweptThrough = nowSec;
  }

  #drop(sec: number): void {
    const bucket = this.#buckets.get(sec);
    if (bucket === undefined) return;
    for (const key of bucket) this.#live.delete(key);
    this.#buckets.delete(sec);
  }
}
