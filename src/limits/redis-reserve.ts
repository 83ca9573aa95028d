import type { AcquireSpec, WindowState, Windows } from './store.js';

/**
 * What one replica has taken from the shared Redis counters ahead of demand, so that under load
 * most admissions are decided in this process, synchronously, without a round trip (each Redis
 * round trip costs tens of µs of CPU on both sides; see docs/limits.md, "Redis").
 *
 * Exactness: everything here was charged in Redis before it was taken, so replicas together never
 * admit more than a limit. What they give up is a little headroom: units parked in one replica
 * cannot serve another. That is bounded three ways. The script grants extras only while at least
 * 64 requests' worth is left and then at most a sixteenth of it (lua.ts), so near a limit, and
 * for any small limit, nothing is parked and every decision is Redis's. What is not used goes back (a `give`
 * or `drop` operation): a reserve limits.reserve_ttl (default 200 ms) after its last grant, a pool
 * once unused that long; and at each sweep (every reserve_ttl/2) the permits of a pool that stayed free since
 * the previous sweep, and a reserve's refunded tokens above its largest grant. Token routes with a per-day limit (tpd) never use a
 * reserve.
 *
 * Times: `now` is the limiter's clock (tests move it), `t` is performance.now(); a reserve is
 * live while both are within reserve_ttl of its last grant (a pool: of its last grant or use).
 */

/** Default of limits.reserve_ttl: how long a reserve lives after its last grant (a pool: after its last use). */
export const RESERVE_MS = 200;
/** Requests' worth of rpm / tpm an admission asks to take ahead (Redis grants up to 1/8 of what is left). */
export const EXTRA_REQUESTS = 256;
/** Concurrency permits per pool an admission asks to take ahead. */
export const EXTRA_PERMITS = 32;

interface TokenReserve {
  readonly rpm: number | null;
  tpm: number | null;
  rpmUnits: number;
  tpmTokens: number;
  /** The largest tpm grant: refunds beyond it go back to Redis at the next sweep. */
  tpmCeiling: number;
  /** The last rpm grant: below a quarter of it, the next request asks Redis for more. */
  rpmGrant: number;
  /** Until then (performance.now()) a request is already asking Redis for more. */
  refillUntil: number;
  until: number;
  clockUntil: number;
  windows: Windows;
}

interface Slot {
  member: string;
  /** Expiry of the member in Redis (limiter clock). */
  exp: number;
}

interface Pool {
  free: Slot[];
  /** The fewest free permits since the last sweep: that many were not needed, and go back. */
  minFree: number;
  refillUntil: number;
  until: number;
  clockUntil: number;
}

/** A pool with this few free permits asks Redis for more (with the next request). */
const POOL_LOW = 4;

/** Free permits a pool keeps at most (more go back to Redis at once). */
const POOL_MAX = 256;

/** Units to give back to a principal's buckets (negative tokens: a debt). */
export interface Give {
  pid: string;
  rpm: number;
  tpm: number;
  rpmUnits: number;
  tpmTokens: number;
}

/** Permits to remove from a set. */
export interface Drop {
  set: string;
  members: string[];
}

export interface Taken {
  members: string[];
  exp: number;
  tpmReserved: number;
  windows: Windows;
}

export class Reserves {
  readonly #leaseTtlMs: number;
  /** limits.reserve_ttl; 0 = nothing is taken ahead, every admission is Redis's. */
  readonly #ttlMs: number;
  /** How long a refill counts as under way (then, if its answer never came, another may ask). */
  readonly #refillMs: number;
  readonly #tokens = new Map<string, TokenReserve>();
  readonly #pools = new Map<string, Pool>();

  constructor(leaseTtlMs: number, reserveTtlMs: number = RESERVE_MS) {
    this.#leaseTtlMs = leaseTtlMs;
    this.#ttlMs = reserveTtlMs;
    this.#refillMs = reserveTtlMs / 2;
  }

  /** limits.reserve_ttl, in ms (the store sweeps every half of it). */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Whether this replica takes anything ahead at all (limits.reserve_ttl > 0). */
  get enabled(): boolean {
    return this.#ttlMs > 0;
  }

  get empty(): boolean {
    return this.#tokens.size === 0 && this.#pools.size === 0;
  }

  /** Whether a spec may ever be served from a reserve (tpd-limited token requests may not). */
  static eligible(s: AcquireSpec): boolean {
    return !(s.tokens !== null && s.tpd !== null);
  }

  /**
   * What an admission going to Redis should take ahead: only what this replica lacks, so a
   * reserve never grows past one grant's worth (plus refunds and returned permits).
   * `permits` has one character per permit set, '1' = take ahead for it.
   */
  wants(s: AcquireSpec, sets: readonly string[], now: number, t: number): { rpm: number; tpm: number; permits: string } {
    if (!this.enabled || !Reserves.eligible(s)) return { rpm: 0, tpm: 0, permits: '0'.repeat(sets.length) };
    const r = this.#tokens.get(s.pid);
    const ok = r !== undefined && live(r, now, t);
    const tokens = s.tokens !== null && s.tpm !== null;
    const need = tokens ? Math.min(s.tokens!, s.tpm!) : 0;
    const rpm = s.rpm !== null && !(ok && r.rpm === s.rpm && r.rpmUnits >= 1 && !lowRpm(r)) ? EXTRA_REQUESTS : 0;
    const tpm = tokens && !(ok && r.tpm === s.tpm && r.tpmTokens >= need && !lowTpm(r)) ? EXTRA_REQUESTS : 0;
    let permits = '';
    for (const set of sets) {
      const p = this.#pools.get(set);
      permits += p && live(p, now, t) && p.free.length > POOL_LOW ? '0' : '1';
    }
    return { rpm, tpm, permits };
  }

  /** Takes what one request needs from the reserves, all or nothing; null = ask Redis. */
  take(s: AcquireSpec, sets: readonly string[], now: number, t: number): Taken | null {
    if (!this.enabled || !Reserves.eligible(s)) return null;
    const tokens = s.tokens !== null && s.tpm !== null;
    const need = tokens ? Math.min(s.tokens!, s.tpm!) : 0;
    let r: TokenReserve | undefined;
    if (s.rpm !== null || tokens) {
      r = this.#tokens.get(s.pid);
      if (!r || !live(r, now, t)) return null;
      if (s.rpm !== null && (r.rpm !== s.rpm || r.rpmUnits < 1)) return null;
      if (tokens && (r.tpm !== s.tpm || r.tpmTokens < need)) return null;
    }
    for (const set of sets) {
      const p = this.#pools.get(set);
      if (!p || !live(p, now, t) || p.free.length === 0) return null;
    }
    // Running low: this request asks Redis for more (one at a time), while the next ones go on
    // using what is left, so a busy replica does not empty its reserve and then wait.
    if (r && t >= r.refillUntil && ((s.rpm !== null && lowRpm(r)) || (tokens && lowTpm(r)))) {
      r.refillUntil = t + this.#refillMs;
      return null;
    }
    for (const set of sets) {
      const p = this.#pools.get(set)!;
      if (p.free.length <= POOL_LOW && t >= p.refillUntil) {
        p.refillUntil = t + this.#refillMs;
        return null;
      }
    }
    const members: string[] = [];
    let exp = Infinity;
    for (const set of sets) {
      const p = this.#pools.get(set)!;
      const slot = p.free.pop()!;
      if (p.free.length < p.minFree) p.minFree = p.free.length;
      this.#keepAlive(p, now, t);
      members.push(slot.member);
      if (slot.exp < exp) exp = slot.exp;
    }
    const windows: Windows = { rpm: null, tpm: null, tpd: null };
    if (r) {
      // Not kept alive by use (pools are): a reserve is consumed, so a busy principal is granted
      // more soon enough, and an idle one's refunds go back within reserve_ttl of its last grant.
      if (s.rpm !== null) {
        r.rpmUnits -= 1;
        windows.rpm = r.windows.rpm = less(r.windows.rpm, 1);
      }
      if (tokens) {
        r.tpmTokens -= need;
        windows.tpm = r.windows.tpm = less(r.windows.tpm, need);
      }
    }
    return { members, exp, tpmReserved: need, windows };
  }

  /**
   * Records the extras a granted admission took (lua.ts): `permits[i]` members `<lease>:1…` of
   * `sets[i]`. Returns what it displaced (a reserve for a limit that has since changed, a pool
   * past its time), to be given back.
   */
  add(s: AcquireSpec, sets: readonly string[], lease: string, exp: number, rpmUnits: number, tpmTokens: number, permits: readonly number[], w: Windows, now: number, t: number): { give: Give | null; drops: Drop[] } {
    let give: Give | null = null;
    const drops: Drop[] = [];
    if (rpmUnits > 0 || tpmTokens > 0) {
      const tpm = s.tokens !== null ? s.tpm : null;
      let r = this.#tokens.get(s.pid);
      if (r && (!live(r, now, t) || r.rpm !== s.rpm || (tpm !== null && r.tpm !== null && r.tpm !== tpm))) {
        give = giveOf(s.pid, r);
        this.#tokens.delete(s.pid);
        r = undefined;
      }
      if (!r) {
        r = { rpm: s.rpm, tpm, rpmUnits: 0, tpmTokens: 0, tpmCeiling: 0, rpmGrant: 0, refillUntil: 0, until: 0, clockUntil: 0, windows: { rpm: null, tpm: null, tpd: null } };
        this.#tokens.set(s.pid, r);
      }
      if (tpm !== null) r.tpm = tpm;
      r.rpmUnits += rpmUnits;
      r.tpmTokens += tpmTokens;
      if (tpmTokens > r.tpmCeiling) r.tpmCeiling = tpmTokens;
      if (rpmUnits > 0) r.rpmGrant = rpmUnits;
      r.refillUntil = 0;
      this.#keepAlive(r, now, t);
      r.windows = { rpm: w.rpm ?? r.windows.rpm, tpm: w.tpm ?? r.windows.tpm, tpd: null };
    }
    for (let i = 0; i < sets.length; i++) {
      const n = permits[i] ?? 0;
      if (n <= 0) continue;
      const set = sets[i]!;
      let p = this.#pools.get(set);
      if (p && !live(p, now, t)) {
        if (p.free.length) drops.push({ set, members: p.free.map((x) => x.member) });
        p = undefined;
      }
      if (!p) {
        p = { free: [], minFree: 0, refillUntil: 0, until: 0, clockUntil: 0 };
        this.#pools.set(set, p);
      }
      for (let j = 1; j <= n; j++) p.free.push({ member: `${lease}:${j}`, exp });
      p.refillUntil = 0;
      this.#keepAlive(p, now, t);
    }
    return { give, drops };
  }

  /**
   * A permit whose request has ended goes back into its live pool (true), unless its expiry in
   * Redis is near (a long request's lease): then, and without a live pool, it is removed (false).
   */
  putBack(set: string, member: string, exp: number, now: number, t: number): boolean {
    const p = this.#pools.get(set);
    // Past POOL_MAX (requests admitted through Redis add their permits too) the pool keeps no more.
    if (!p || !live(p, now, t) || p.free.length >= POOL_MAX || exp - now <= this.#leaseTtlMs / 2) return false;
    p.free.push({ member, exp });
    return true;
  }

  /**
   * Settles a request's tokens into its principal's live reserve (`delta` = reserved − used).
   * Returns null when there is none (settle in Redis), false when settled here, or — when the
   * request used more than its reservation and the reserve — what to give back (a debt) now.
   */
  settleTokens(pid: string, tpm: number, delta: number, now: number, t: number): Give | false | null {
    const r = this.#tokens.get(pid);
    if (!r || !live(r, now, t) || r.tpm !== tpm) return null;
    r.tpmTokens += delta;
    if (r.tpmTokens >= 0) return false;
    // A debt: the bucket in Redis must carry it now, and the next request must ask Redis (which
    // refuses until refill has repaid it), so the whole reserve goes back with it.
    this.#tokens.delete(pid);
    return giveOf(pid, r);
  }

  /**
   * What goes back to Redis (everything when `all`): reserves and pools unused for reserve_ttl,
   * the permits of a live pool that stayed free since the last sweep, and refunded tokens above
   * a reserve's largest grant.
   */
  sweep(now: number, t: number, all: boolean): { gives: Give[]; drops: Drop[] } {
    const gives: Give[] = [];
    const drops: Drop[] = [];
    for (const [pid, r] of this.#tokens) {
      if (!all && live(r, now, t)) {
        const excess = r.tpm === null ? 0 : r.tpmTokens - r.tpmCeiling;
        if (excess > 0) {
          r.tpmTokens -= excess;
          gives.push({ pid, rpm: -1, tpm: r.tpm!, rpmUnits: 0, tpmTokens: excess });
        }
        continue;
      }
      this.#tokens.delete(pid);
      if (r.rpmUnits > 0 || r.tpmTokens !== 0) gives.push(giveOf(pid, r));
    }
    for (const [set, p] of this.#pools) {
      if (!all && live(p, now, t)) {
        const idle = p.minFree;
        if (idle > 0) drops.push({ set, members: p.free.splice(0, idle).map((x) => x.member) });
        p.minFree = p.free.length;
        continue;
      }
      this.#pools.delete(set);
      if (p.free.length) drops.push({ set, members: p.free.map((x) => x.member) });
    }
    return { gives, drops };
  }

  #keepAlive(x: { until: number; clockUntil: number }, now: number, t: number): void {
    x.until = t + this.#ttlMs;
    x.clockUntil = now + this.#ttlMs;
  }
}

function live(x: { until: number; clockUntil: number }, now: number, t: number): boolean {
  return t < x.until && now < x.clockUntil;
}

function lowRpm(r: TokenReserve): boolean {
  return r.rpmUnits * 4 <= r.rpmGrant;
}

function lowTpm(r: TokenReserve): boolean {
  return r.tpmTokens * 4 <= r.tpmCeiling;
}

function giveOf(pid: string, r: TokenReserve): Give {
  return { pid, rpm: r.rpm ?? -1, tpm: r.tpm ?? -1, rpmUnits: r.rpmUnits, tpmTokens: r.tpm === null ? 0 : r.tpmTokens };
}

function less(w: WindowState | null, n: number): WindowState | null {
  return w ? { limit: w.limit, remaining: Math.max(0, w.remaining - n), resetMs: w.resetMs } : null;
}
