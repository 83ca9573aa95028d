import { isIP } from 'node:net';
import type { Clock } from '../core/clock.js';

/**
 * Brute-force guard: failed authentications counted per client address in fixed windows. Past
 * `max` failures in a window, further failures from that address are answered 429 until the
 * window ends. Only failures are counted, so valid keys from the same address (a shared NAT)
 * keep working. IPv6 clients are counted per /64 (one host usually owns the whole prefix).
 *
 * With Redis the count is shared by the replicas: each failure increments a shared counter and
 * the answer uses the larger of the local count and the last shared count seen, so the shared
 * limit holds with a lag of the failures still in flight (the call itself stays synchronous).
 */

export interface SharedCounter {
  /** Increments `key` (expiring after `ttlMs`) and resolves with the new count. */
  increment(key: string, ttlMs: number): Promise<number>;
}

interface Entry {
  win: number;
  local: number;
  shared: number;
}

const MAX_TRACKED = 100_000;

export class AuthFailureGuard {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #clock: Clock;
  readonly #shared: SharedCounter | null;
  readonly #prefix: string;
  readonly #seen = new Map<string, Entry>();

  constructor(o: { max: number; windowMs: number; clock: Clock; shared?: SharedCounter | null; prefix?: string }) {
    this.#max = o.max;
    this.#windowMs = Math.max(1000, o.windowMs);
    this.#clock = o.clock;
    this.#shared = o.shared ?? null;
    this.#prefix = o.prefix ?? '';
  }

  get enabled(): boolean {
    return this.#max > 0;
  }

  /** Records a failure from `ip`; returns the seconds until it may fail again, or 0 while under the limit. */
  failure(ip: string): number {
    if (this.#max === 0) return 0;
    const now = this.#clock.now();
    const win = Math.floor(now / this.#windowMs);
    const key = addressKey(ip);
    let e = this.#seen.get(key);
    if (!e || e.win !== win) {
      if (!e && this.#seen.size >= MAX_TRACKED) this.#evict(win);
      e = { win, local: 0, shared: 0 };
      this.#seen.set(key, e);
    }
    e.local++;
    if (this.#shared) {
      const entry = e;
      this.#shared
        .increment(`${this.#prefix}af:${win}:${key}`, this.#windowMs)
        .then((n) => {
          if (entry.win === win && n > entry.shared) entry.shared = n;
        })
        .catch(() => {}); // counted by the store; the local count still holds
    }
    if (Math.max(e.local, e.shared) <= this.#max) return 0;
    return Math.max(1, Math.ceil(((win + 1) * this.#windowMs - now) / 1000));
  }

  /** Addresses currently tracked (tests, metrics). */
  get tracked(): number {
    return this.#seen.size;
  }

  #evict(win: number): void {
    for (const [k, e] of this.#seen) if (e.win !== win) this.#seen.delete(k);
    // Still full of current-window entries (a wide attack): drop the oldest tenth.
    if (this.#seen.size >= MAX_TRACKED) {
      let n = Math.ceil(MAX_TRACKED / 10);
      for (const k of this.#seen.keys()) {
        this.#seen.delete(k);
        if (--n === 0) break;
      }
    }
  }
}

/** The unit an address is counted in: IPv4 (also v4-mapped IPv6) as is, IPv6 by its /64. */
export function addressKey(ip: string): string {
  if (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4) return ip.slice(7);
  if (isIP(ip) !== 6) return ip;
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => (g || '0').toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
