import type { Clock } from '../core/clock.js';
import { DAY, MINUTE, type AcquireResult, type AcquireSpec, type Lease, type LimitStore, type WindowState, type Windows } from './store.js';

/**
 * Counters in this process's memory: every call is synchronous, allocation-light and timer-free
 * (the hot path of a single-process gateway, and the fallback of on_store_error: local).
 */

/** A token bucket: `level` units at time `ts`. */
interface Bucket {
  level: number;
  ts: number;
}

interface PrincipalState {
  rpm: Bucket | null;
  tpm: Bucket | null;
  tpdDay: number;
  tpdUsed: number;
  inFlight: number;
  /** Last time this entry was touched (idle entries are swept). */
  seen: number;
}

/** Brings a bucket up to `now` and returns its level. */
export function refill(b: Bucket, cap: number, periodMs: number, now: number): number {
  if (now > b.ts) {
    b.level = Math.min(cap, b.level + ((now - b.ts) * cap) / periodMs);
    b.ts = now;
  } else if (b.level > cap) b.level = cap; // the limit was lowered
  return b.level;
}

/** Time for a bucket at `level` to hold `need` units. */
export function waitFor(level: number, need: number, cap: number, periodMs: number): number {
  return level >= need ? 0 : Math.ceil(((need - level) * periodMs) / cap);
}

function bucketState(level: number, cap: number, periodMs: number): WindowState {
  return { limit: cap, remaining: Math.max(0, Math.floor(level)), resetMs: waitFor(level, cap, cap, periodMs) };
}

const SWEEP_EVERY = 4096;

export class MemoryStore implements LimitStore {
  readonly #clock: Clock;
  readonly #principals = new Map<string, PrincipalState>();
  readonly #models = new Map<string, number>();
  #global = 0;
  #held = 0;
  #creates = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  acquire(s: AcquireSpec): AcquireResult {
    const now = this.#clock.now();
    const st = this.#state(s.pid, now);
    const w: Windows = { rpm: null, tpm: null, tpd: null };

    // 1. Check everything (nothing is charged unless all pass).
    let rpmLevel = 0;
    if (s.rpm !== null) {
      const b = (st.rpm ??= { level: s.rpm, ts: now });
      rpmLevel = refill(b, s.rpm, MINUTE, now);
      if (rpmLevel < 1 || s.rpm === 0) {
        w.rpm = bucketState(rpmLevel, s.rpm, MINUTE);
        return { ok: false, blocker: 'rpm', retryMs: s.rpm === 0 ? MINUTE : waitFor(rpmLevel, 1, s.rpm, MINUTE), ...w };
      }
    }
    let tpmNeed = 0;
    let tpmLevel = 0;
    let tpdNeed = 0;
    if (s.tokens !== null) {
      if (s.tpm !== null) {
        const b = (st.tpm ??= { level: s.tpm, ts: now });
        tpmLevel = refill(b, s.tpm, MINUTE, now);
        tpmNeed = Math.min(s.tokens, s.tpm);
        if (tpmLevel < tpmNeed || s.tpm === 0) {
          w.tpm = bucketState(tpmLevel, s.tpm, MINUTE);
          return { ok: false, blocker: 'tpm', retryMs: s.tpm === 0 ? MINUTE : waitFor(tpmLevel, tpmNeed, s.tpm, MINUTE), ...w };
        }
      }
      if (s.tpd !== null) {
        const day = Math.floor(now / DAY);
        if (st.tpdDay !== day) {
          st.tpdDay = day;
          st.tpdUsed = 0;
        }
        tpdNeed = Math.min(s.tokens, s.tpd);
        if (st.tpdUsed + tpdNeed > s.tpd || s.tpd === 0) {
          w.tpd = { limit: s.tpd, remaining: Math.max(0, s.tpd - st.tpdUsed), resetMs: (day + 1) * DAY - now };
          return { ok: false, blocker: 'tpd', retryMs: (day + 1) * DAY - now, ...w };
        }
      }
    }
    if (s.concurrency !== null && st.inFlight >= s.concurrency) return { ok: false, blocker: 'principal', retryMs: 0, ...w };
    for (const m of s.models) {
      if ((this.#models.get(m.model) ?? 0) >= m.cap) return { ok: false, blocker: 'model', model: m.model, retryMs: 0, ...w };
    }
    if (s.global !== null && this.#global >= s.global) return { ok: false, blocker: 'global', retryMs: 0, ...w };

    // 2. Charge everything.
    if (s.rpm !== null) {
      st.rpm!.level = rpmLevel - 1;
      w.rpm = bucketState(rpmLevel - 1, s.rpm, MINUTE);
    }
    if (s.tokens !== null) {
      if (s.tpm !== null) {
        st.tpm!.level = tpmLevel - tpmNeed;
        w.tpm = bucketState(tpmLevel - tpmNeed, s.tpm, MINUTE);
      }
      if (s.tpd !== null) {
        st.tpdUsed += tpdNeed;
        w.tpd = { limit: s.tpd, remaining: Math.max(0, s.tpd - st.tpdUsed), resetMs: (st.tpdDay + 1) * DAY - now };
      }
    }
    st.inFlight++;
    for (const m of s.models) this.#models.set(m.model, (this.#models.get(m.model) ?? 0) + 1);
    if (s.global !== null) this.#global++;
    this.#held++;
    return { ok: true, lease: new MemoryLease(this, st, s, tpmNeed, tpdNeed), ...w };
  }

  /** Called by MemoryLease.release. */
  settle(st: PrincipalState, s: AcquireSpec, tpmReserved: number, tpdReserved: number, day: number, actual: number): void {
    const now = this.#clock.now();
    st.seen = now;
    if (s.tokens !== null || actual > 0) {
      if (s.tpm !== null && st.tpm) {
        refill(st.tpm, s.tpm, MINUTE, now);
        st.tpm.level = Math.min(s.tpm, st.tpm.level + tpmReserved - actual);
      }
      // A request that spans midnight is charged to the day it started on.
      if (s.tpd !== null && st.tpdDay === day) st.tpdUsed = Math.max(0, st.tpdUsed + actual - tpdReserved);
    }
    st.inFlight--;
    for (const m of s.models) {
      const n = (this.#models.get(m.model) ?? 1) - 1;
      if (n <= 0) this.#models.delete(m.model);
      else this.#models.set(m.model, n);
    }
    if (s.global !== null) this.#global--;
    this.#held--;
  }

  inFlight(): number {
    return this.#held;
  }

  /** Test and snapshot helper: permits in use in a pool. */
  count(pool: 'global' | { model: string } | { principal: string }): number {
    if (pool === 'global') return this.#global;
    if ('model' in pool) return this.#models.get(pool.model) ?? 0;
    return this.#principals.get(pool.principal)?.inFlight ?? 0;
  }

  async close(): Promise<void> {}

  #state(pid: string, now: number): PrincipalState {
    let st = this.#principals.get(pid);
    if (st) {
      st.seen = now;
      return st;
    }
    st = { rpm: null, tpm: null, tpdDay: Math.floor(now / DAY), tpdUsed: 0, inFlight: 0, seen: now };
    this.#principals.set(pid, st);
    if (++this.#creates % SWEEP_EVERY === 0) this.#sweep(now);
    return st;
  }

  /**
   * Forgets principals that hold nothing and would read as fresh anyway (idle for a day: every
   * bucket is full again and the day window has turned). Keys are few, but authorized_keys
   * principals and deleted keys should not pin memory forever.
   */
  #sweep(now: number): void {
    for (const [pid, st] of this.#principals) {
      if (st.inFlight === 0 && now - st.seen > DAY) this.#principals.delete(pid);
    }
  }
}

class MemoryLease implements Lease {
  readonly #store: MemoryStore;
  readonly #st: PrincipalState;
  readonly #spec: AcquireSpec;
  readonly #tpm: number;
  readonly #tpd: number;
  readonly #day: number;

  constructor(store: MemoryStore, st: PrincipalState, spec: AcquireSpec, tpm: number, tpd: number) {
    this.#store = store;
    this.#st = st;
    this.#spec = spec;
    this.#tpm = tpm;
    this.#tpd = tpd;
    this.#day = st.tpdDay;
  }

  release(actualTokens: number): void {
    this.#store.settle(this.#st, this.#spec, this.#tpm, this.#tpd, this.#day, actualTokens);
  }
}
