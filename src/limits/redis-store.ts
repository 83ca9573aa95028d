import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { systemClock, type Clock } from '../core/clock.js';
import { LeaseList, type Listed } from './lease-list.js';
import { BATCH, RENEW, type Script } from './lua.js';
import { EXTRA_PERMITS, Reserves, type Drop, type Give } from './redis-reserve.js';
import { DAY, type AcquireResult, type AcquireSpec, type Blocker, type Lease, type LimitStore, type WindowState, type Windows } from './store.js';

/**
 * Counters in Redis, shared by every replica with the same key prefix (lua.ts has the scripts and
 * the key layout). Admissions and settlements go to Redis in batches, one EVALSHA each, applied in
 * arrival order: what arrives in one event-loop turn goes together, and while a batch is on its
 * way the next one gathers (group commit). Idle, a request costs two round trips (admit, settle);
 * under load, far less than one each.
 *
 * Concurrency permits are leases: members of a sorted set scored by their expiry, renewed by the
 * holder every lease_ttl/3 and purged by the next admission that finds the pool full, so a replica
 * that dies holding permits loses them after at most lease_ttl.
 *
 * Waiting requests (the fair queue is per process) learn that a permit was freed in another
 * replica from a pub/sub message, which a settlement publishes only while some replica has
 * waiters (a flag key each waiting replica keeps alive); polling with backoff (20 → 500 ms) covers
 * lost messages and expired leases.
 */

export interface RedisStoreOptions {
  redis: Redis;
  /** Separate connection for SUBSCRIBE (a subscribed connection can run nothing else). */
  subscriber: Redis | null;
  clock: Clock;
  prefix: string;
  leaseTtlMs: number;
  /** limits.reserve_ttl (default 200 ms, RESERVE_MS); 0 = take nothing ahead, every admission asks Redis. */
  reserveTtlMs?: number;
  /** Called on every failed Redis operation that is not an admission (those reject). */
  onBackgroundError: (err: unknown) => void;
  /** Tests shorten SET_TTL_REFRESH_MS. */
  setTtlRefreshMs?: number;
}

const BLOCKERS: readonly Blocker[] = ['rpm', 'rpm', 'tpm', 'tpd', 'principal', 'model', 'global'];
const POLL_MIN = 20;
const POLL_MAX = 500;
const WAITERS_TTL = 3000;
/** Operations per BATCH call (each is 3–5 Redis calls inside the script). */
const MAX_BATCH = 128;
/** Batches on their way to Redis at once (more wait and go together: group commit). */
const MAX_IN_FLIGHT = 1;
/**
 * How often (real time) this replica renews the TTL of a permit set it adds leases to. A set's
 * TTL is lease_ttl + 60 s from its last renewal, so every lease added within 10 s of a renewal
 * expires at least 50 s before its set could.
 */
const SET_TTL_REFRESH_MS = 10_000;

interface AdmitOp {
  kind: 'a';
  spec: AcquireSpec;
  id: string;
  now: number;
  resolve: (r: AcquireResult) => void;
  reject: (e: unknown) => void;
  /** Permit sets this admission asks Redis to renew the TTL of (see SET_TTL_REFRESH_MS). */
  renews: string[] | null;
  sentAt: number;
}

interface ReleaseOp {
  kind: 'r';
  lease: RedisLease;
  actual: number;
  /** The lease's tpm limit, or -1 when its tokens were settled in this replica's reserve. */
  tpm: number;
  /** Permits to remove (those not kept in a pool for the next request), and their members. */
  sets: string[];
  members: string[];
  /** Replays after an outage are not retried again. */
  replay: boolean;
}

interface GiveOp extends Give {
  kind: 'g';
  replay: boolean;
}

interface DropOp extends Drop {
  kind: 'z';
  replay: boolean;
}

/** Operations that need no answer: kept and replayed when they could not be sent. */
type Background = ReleaseOp | GiveOp | DropOp;
type Op = AdmitOp | Background;

export class RedisStore implements LimitStore {
  readonly #o: RedisStoreOptions;
  readonly #redis: Redis;
  readonly #replica = randomBytes(6).toString('base64url');
  readonly #channel: string;
  readonly #waitersKey: string;
  readonly #global: string;
  #seq = 0;
  #ops: Op[] = [];
  #flushScheduled = false;
  /** Batches sent and not answered yet. */
  #inFlight = 0;
  /** Live leases of this process that hold permits, renewed together. */
  readonly #leases = new LeaseList<RedisLease>();
  #renewTimer: NodeJS.Timeout | null = null;
  #wake: (() => void) | null = null;
  #waiting = false;
  #pollTimer: NodeJS.Timeout | null = null;
  #pollDelay = POLL_MIN;
  #flagRefreshedAt = 0;
  /** Settlements refused unsent while Redis was away, replayed when it is back. */
  #pending: Background[] = [];
  #closed = false;
  /** Permit set → when this replica last asked for its TTL to be renewed (#real time). */
  readonly #setRefreshed = new Map<string, number>();
  readonly #setsCache = new Map<string, { shape: number; sets: readonly string[] }>();
  readonly #refreshMs: number;
  readonly #reserves: Reserves;
  #sweeper: NodeJS.Timeout | null = null;

  constructor(o: RedisStoreOptions) {
    this.#o = o;
    this.#redis = o.redis;
    this.#refreshMs = o.setTtlRefreshMs ?? SET_TTL_REFRESH_MS;
    this.#reserves = new Reserves(o.leaseTtlMs, o.reserveTtlMs);
    this.#channel = `${o.prefix}released`;
    this.#waitersKey = `${o.prefix}waiters`;
    this.#global = `${o.prefix}cc:global`;
    const sub = o.subscriber;
    if (sub) {
      sub.on('message', (ch: string, from: string) => {
        if (ch === this.#channel && from !== this.#replica) this.#poke();
      });
      // Subscribed here on every (re)connection, never by ioredis's autoResubscribe (the
      // subscriber must be created with it off): ioredis sends that SUBSCRIBE without handling its
      // rejection, and a connection lost before the reply rejects it, an unhandled rejection that
      // ends the process. Polling covers the moments without a subscription.
      const subscribe = (): void => void sub.subscribe(this.#channel).catch(() => {});
      if (sub.status === 'ready') subscribe();
      sub.on('ready', subscribe);
    }
  }

  /** From this replica's reserve when it holds enough (synchronous), else from Redis. */
  acquire(spec: AcquireSpec): AcquireResult | Promise<AcquireResult> {
    const local = this.#local(spec);
    if (local) return local;
    return new Promise((resolve, reject) => {
      this.#ops.push({ kind: 'a', spec, id: `${this.#replica}:${++this.#seq}`, now: 0, resolve, reject, renews: null, sentAt: 0 });
      this.#schedule();
    });
  }

  /**
   * Settles one lease (from RedisLease.release): permits go back to a live pool of this replica or
   * are removed in Redis; tokens settle into the principal's live reserve or in Redis. Whatever
   * needs Redis goes in the next batch; failures are kept and replayed on recovery.
   */
  settle(l: RedisLease, used: number): void {
    const actual = Math.max(0, Math.ceil(used));
    const now = this.#o.clock.now();
    const t = this.#real(now);
    const sets: string[] = [];
    const members: string[] = [];
    if (l.permits.length) {
      this.#leases.delete(l);
      for (let i = 0; i < l.permits.length; i++) {
        if (this.#closed || !this.#reserves.putBack(l.permits[i]!, l.members[i]!, l.exp, now, t)) {
          sets.push(l.permits[i]!);
          members.push(l.members[i]!);
        }
      }
    }
    let tpm = l.tpm;
    if (tpm >= 0 && l.tpdReserved < 0 && (l.tpmReserved > 0 || actual > 0)) {
      const local = this.#reserves.settleTokens(l.pid, tpm, l.tpmReserved - actual, now, t);
      if (local !== null) {
        tpm = -1;
        if (local) this.#push({ kind: 'g', ...local, replay: false });
      }
    }
    const tokens = tpm >= 0 && (l.tpmReserved > 0 || actual > 0);
    const tpd = l.tpdReserved >= 0 && actual !== l.tpdReserved;
    if (!sets.length && !tokens && !tpd) return; // all settled here: no round trip
    this.#push({ kind: 'r', lease: l, actual, tpm: tokens ? tpm : -1, sets, members, replay: false });
    // Someone here may be waiting for this very permit: its next try goes in the same batch.
    if (this.#waiting && sets.length) this.#poke();
  }

  #push(op: Op): void {
    this.#ops.push(op);
    this.#schedule();
  }

  /**
   * The permit sets an admission uses, in the order of the script's extras: key, global, models.
   * Shared (never mutated): the common shapes (no model caps) are kept per principal.
   */
  #setsOf(s: AcquireSpec): readonly string[] {
    const shape = (s.concurrency !== null ? 1 : 0) + (s.global !== null ? 2 : 0);
    if (s.models.length === 0) {
      const c = this.#setsCache.get(s.pid);
      if (c && c.shape === shape) return c.sets;
      if (this.#setsCache.size >= 10_000) this.#setsCache.clear();
      const sets = this.#buildSets(s);
      this.#setsCache.set(s.pid, { shape, sets });
      return sets;
    }
    return this.#buildSets(s);
  }

  #buildSets(s: AcquireSpec): string[] {
    const sets: string[] = [];
    if (s.concurrency !== null) sets.push(`${this.#o.prefix}p:${s.pid}:cc`);
    if (s.global !== null) sets.push(this.#global);
    for (const m of s.models) sets.push(`${this.#o.prefix}cc:m:${m.model}`);
    return sets;
  }

  #local(s: AcquireSpec): AcquireResult | null {
    if (this.#closed || this.#reserves.empty) return null;
    const sets = this.#setsOf(s);
    const now = this.#o.clock.now();
    const got = this.#reserves.take(s, sets, now, this.#real(now));
    if (!got) return null;
    const base = `${this.#o.prefix}p:${s.pid}`;
    const tpm = s.tokens !== null && s.tpm !== null;
    const lease = new RedisLease(this, s.pid, base, '', sets, got.members, got.exp, tpm ? s.tpm! : -1, got.tpmReserved, -1);
    if (sets.length) this.#hold(lease);
    return { ok: true, lease, ...got.windows };
  }

  /** Gives back what reserves and pools past their time hold (everything when closing). */
  #sweep(all: boolean): void {
    const now = this.#o.clock.now();
    const { gives, drops } = this.#reserves.sweep(now, this.#real(now), all);
    for (const g of gives) this.#push({ kind: 'g', ...g, replay: false });
    for (const d of drops) this.#push({ kind: 'z', ...d, replay: false });
    if (this.#reserves.empty && this.#sweeper) {
      clearInterval(this.#sweeper);
      this.#sweeper = null;
    }
  }

  /** Redis failed: what this replica took ahead goes back (replayed once Redis is back). */
  dropReserves(): void {
    this.#sweep(true);
  }

  #keepSweeping(): void {
    // reserve_ttl 0: nothing is ever taken ahead, so there is nothing to sweep.
    if (this.#sweeper || this.#closed || !this.#reserves.enabled) return;
    this.#sweeper = setInterval(() => this.#sweep(false), this.#reserves.ttlMs / 2);
    this.#sweeper.unref();
  }

  inFlight(): number {
    return this.#leases.size;
  }

  /** The limiter wants to hear about freed permits (its queue is not empty) or no longer does. */
  setWaiting(waiting: boolean, wake: () => void): void {
    this.#wake = wake;
    if (waiting === this.#waiting) return;
    this.#waiting = waiting;
    if (waiting) {
      this.#pollDelay = POLL_MIN;
      this.#refreshFlag(true);
      this.#schedulePoll();
    } else if (this.#pollTimer) {
      clearTimeout(this.#pollTimer);
      this.#pollTimer = null;
    }
  }

  /** Replays settlements that failed while Redis was unreachable. */
  flushPending(): void {
    const list = this.#pending;
    this.#pending = [];
    for (const op of list) this.#ops.push({ ...op, replay: true });
    if (list.length) this.#schedule();
  }

  get pendingSettlements(): number {
    return this.#pending.length;
  }

  async ping(): Promise<void> {
    await this.#redis.ping();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#sweep(true);
    this.#stopRenewing();
    if (this.#pollTimer) clearTimeout(this.#pollTimer);
    this.#pollTimer = null;
    // Let the last settlements go out (the gateway closes the limiter after its last response).
    const deadline = Date.now() + 2000;
    while ((this.#ops.length || this.#inFlight) && Date.now() < deadline) {
      if (this.#ops.length && this.#inFlight === 0) this.#flush();
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  #schedule(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(this.#flush);
  }

  /**
   * Group commit: while a batch is on its way to Redis, new operations wait for it and go
   * together when it returns. Idle, an operation goes at once; under load, batches grow with the
   * round trip instead of the number of writes growing with the request rate.
   */
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    while (this.#ops.length && this.#inFlight < MAX_IN_FLIGHT) {
      const ops = this.#ops.length <= MAX_BATCH ? this.#ops : this.#ops.slice(0, MAX_BATCH);
      this.#ops = ops === this.#ops ? [] : this.#ops.slice(MAX_BATCH);
      this.#inFlight++;
      this.#send(ops).finally(this.#batchDone);
    }
  };

  readonly #batchDone = (): void => {
    this.#inFlight--;
    if (this.#ops.length && !this.#flushScheduled) this.#flush();
  };

  #send(ops: Op[]): Promise<void> {
    const now = this.#o.clock.now();
    const sentAt = this.#real(now);
    const p = this.#o.prefix;
    const keys: string[] = [this.#global, this.#waitersKey];
    const args: Array<string | number> = [now, this.#channel, this.#replica];
    const day = Math.floor(now / DAY);
    const dayEnd = (day + 1) * DAY;
    const asked = new Set<string>();
    for (const op of ops) {
      if (op.kind === 'a') {
        const s = op.spec;
        op.now = now;
        const base = `${p}p:${s.pid}`;
        const tokens = s.tokens !== null;
        if (s.rpm !== null || (tokens && s.tpm !== null)) keys.push(base);
        if (tokens && s.tpd !== null) keys.push(`${base}:tpd:${day}`);
        // Permit sets in the script's order (key, global, models); the global set is KEYS[1].
        const sets = this.#setsOf(s);
        for (const set of sets) if (set !== this.#global) keys.push(set);
        // Sets whose TTL this admission renews (noted only once it is granted: a refused
        // admission or a failed batch renews nothing). One flag per set, like the extras'.
        op.renews = null;
        op.sentAt = sentAt;
        let refresh = '';
        for (const set of sets) refresh += this.#renewal(op, set, sentAt);
        let caps = '';
        for (const m of s.models) caps += `,${m.cap}`;
        const x = this.#extras(s, sets, now, sentAt, asked);
        // An empty flag string would vanish from the comma-separated list: '0' stands for none.
        args.push(`a,${s.models.length},${s.rpm ?? -1},${s.tpm ?? -1},${s.tpd ?? -1},${s.tokens ?? -1},${s.concurrency ?? -1},${s.global ?? -1},${op.id},${now + this.#o.leaseTtlMs},${dayEnd},${refresh || '0'},${x.rpm},${x.tpm},${x.permits.includes('1') ? EXTRA_PERMITS : 0},${x.permits || '0'}${caps}`);
      } else if (op.kind === 'r') {
        const l = op.lease;
        if (op.tpm >= 0) keys.push(l.bucketKey);
        if (l.tpdReserved >= 0) keys.push(l.tpdKey);
        for (const k of op.sets) keys.push(k);
        args.push(`r,${op.sets.length},${op.tpm},${l.tpmReserved},${op.actual},${l.tpdReserved}${op.members.length ? ',' : ''}${op.members.join(',')}`);
      } else if (op.kind === 'g') {
        keys.push(`${p}p:${op.pid}`);
        args.push(`g,${op.rpm},${op.tpm},${op.rpmUnits},${op.tpmTokens}`);
      } else {
        keys.push(op.set);
        args.push(`z,${op.members.length},${op.members.join(',')}`);
      }
    }
    return this.#eval(BATCH, keys, args).then(
      (raw) => {
        const text = String(raw);
        const out = text ? text.split(',').map(Number) : [];
        let i = 0;
        for (const op of ops) {
          if (op.kind !== 'a') continue;
          let r = this.#result(op, out, i);
          i += 12 + this.#setsOf(op.spec).length;
          // Refused in Redis, but an earlier admission of this batch may have taken reserve
          // enough for it (so a burst on one replica uses all it took ahead).
          if (!r.ok) r = this.#local(op.spec) ?? r;
          op.resolve(r);
        }
      },
      (err: unknown) => {
        let background = false;
        for (const op of ops) {
          if (op.kind === 'a') op.reject(err);
          else {
            background = true;
            // Replayed only when it certainly never reached Redis: after a timeout or a connection
            // lost mid-call it may have been applied, and a replay would count it twice.
            if (!op.replay && notSent(err) && this.#pending.length < 10_000) this.#pending.push(op);
          }
        }
        if (background && !ops.some((o) => o.kind === 'a')) this.#o.onBackgroundError(err);
      },
    );
  }

  #result(op: AdmitOp, r: number[], i: number): AcquireResult {
    const s = op.spec;
    const tokens = s.tokens !== null;
    const w: Windows = {
      rpm: s.rpm !== null ? state(s.rpm, r[i + 3]!, r[i + 4]!) : null,
      tpm: s.tpm !== null && tokens ? state(s.tpm, r[i + 5]!, r[i + 6]!) : null,
      tpd: s.tpd !== null && tokens ? state(s.tpd, r[i + 7]!, r[i + 8]!) : null,
    };
    if (r[i] !== 1) {
      const blocker = BLOCKERS[r[i + 1]!] ?? 'global';
      const out: AcquireResult = { ok: false, blocker, retryMs: r[i + 2]!, ...w };
      if (blocker === 'model') out.model = s.models[r[i + 9]! - 1]?.model ?? '';
      return out;
    }
    this.#renewed(op);
    const base = `${this.#o.prefix}p:${s.pid}`;
    const permits = this.#setsOf(s);
    const t = tokens ? Math.ceil(s.tokens!) : 0;
    const exp = op.now + this.#o.leaseTtlMs;
    const lease = new RedisLease(this, s.pid, base, `${base}:tpd:${Math.floor(op.now / DAY)}`, permits, permits.map(() => op.id), exp,
      s.tpm !== null && tokens ? s.tpm : -1,
      s.tpm !== null && tokens ? Math.min(t, s.tpm) : 0,
      s.tpd !== null && tokens ? Math.min(t, s.tpd) : -1);
    if (permits.length) this.#hold(lease);
    const extraPermits = r.slice(i + 12, i + 12 + permits.length);
    if (r[i + 10]! > 0 || r[i + 11]! > 0 || extraPermits.some((n) => n > 0)) {
      const now = this.#o.clock.now();
      const { give, drops } = this.#reserves.add(s, permits, op.id, exp, r[i + 10]!, r[i + 11]!, extraPermits, w, now, this.#real(now));
      if (give) this.#push({ kind: 'g', ...give, replay: false });
      for (const d of drops) this.#push({ kind: 'z', ...d, replay: false });
      this.#keepSweeping();
    }
    return { ok: true, lease, ...w };
  }

  /** '1' when this replica has not renewed the set's TTL for SET_TTL_REFRESH_MS (the op will). */
  #renewal(op: AdmitOp, set: string, t: number): '0' | '1' {
    const last = this.#setRefreshed.get(set);
    if (last !== undefined && t - last < this.#refreshMs) return '0';
    (op.renews ??= []).push(set);
    return '1';
  }

  /** A granted admission renewed these sets' TTLs when its batch ran (not before `sentAt`). */
  #renewed(op: AdmitOp): void {
    if (!op.renews) return;
    if (this.#setRefreshed.size >= 10_000) {
      // Entries older than the interval read as "due" anyway: forgetting them changes nothing.
      for (const [k, v] of this.#setRefreshed) if (op.sentAt - v >= this.#refreshMs) this.#setRefreshed.delete(k);
    }
    for (const set of op.renews) this.#setRefreshed.set(set, op.sentAt);
  }

  #poke(): void {
    this.#pollDelay = POLL_MIN;
    this.#wake?.();
  }

  #schedulePoll(): void {
    if (this.#closed || !this.#waiting || this.#pollTimer) return;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = null;
      if (!this.#waiting) return;
      this.#refreshFlag(false);
      this.#wake?.();
      this.#pollDelay = Math.min(POLL_MAX, this.#pollDelay * 2);
      this.#schedulePoll();
    }, this.#pollDelay);
    this.#pollTimer.unref();
  }

  /** Keeps the "someone waits" flag alive so that settlements everywhere publish. */
  #refreshFlag(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.#flagRefreshedAt < WAITERS_TTL / 3) return;
    this.#flagRefreshedAt = now;
    this.#redis.set(this.#waitersKey, '1', 'PX', WAITERS_TTL).catch((err: unknown) => this.#o.onBackgroundError(err));
  }

  #hold(l: RedisLease): void {
    this.#leases.add(l);
    // One timer for all leases, started once and kept (cheaper than starting it per request).
    if (this.#renewTimer || this.#closed) return;
    this.#renewTimer = setInterval(() => this.#renew(), Math.max(1000, Math.floor(this.#o.leaseTtlMs / 3)));
    this.#renewTimer.unref();
  }

  #stopRenewing(): void {
    if (this.#renewTimer) clearInterval(this.#renewTimer);
    this.#renewTimer = null;
  }

  #renew(): void {
    const exp = this.#o.clock.now() + this.#o.leaseTtlMs;
    const ttl = this.#o.leaseTtlMs + 60_000;
    this.#leases.forEach((l) => {
      l.exp = exp;
      this.#eval(RENEW, l.permits, [exp, ttl, ...l.members]).catch((err: unknown) => this.#o.onBackgroundError(err));
    });
  }

  /**
   * What an admission asks to take ahead for this replica's reserve (redis-reserve.ts): what the
   * replica lacks, asked once per batch (the first admission of a principal or pool asks; the
   * others of the same batch would only park more). Nothing while closing.
   */
  #extras(s: AcquireSpec, sets: readonly string[], now: number, t: number, asked: Set<string>): { rpm: number; tpm: number; permits: string } {
    if (this.#closed) return { rpm: 0, tpm: 0, permits: '0'.repeat(sets.length) };
    const x = this.#reserves.wants(s, sets, now, t);
    if (x.rpm || x.tpm) {
      if (asked.has(s.pid)) x.rpm = x.tpm = 0;
      else asked.add(s.pid);
    }
    let permits = '';
    for (let i = 0; i < sets.length; i++) {
      const want = x.permits[i] === '1' && !asked.has(sets[i]!);
      if (want) asked.add(sets[i]!);
      permits += want ? '1' : '0';
    }
    x.permits = permits;
    return x;
  }

  /**
   * Real time for the reserves and TTL renewals: the limiter's clock when it is the system clock
   * (one clock read per call on the hot path), performance.now() when a test drives the clock.
   */
  #real(now: number): number {
    return this.#o.clock === systemClock ? now : performance.now();
  }

  /** EVALSHA, loading the script on the first NOSCRIPT (after a Redis restart or failover). */
  #eval(s: Script, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    return this.#redis.evalsha(s.sha, keys.length, ...keys, ...args).catch((err: Error) => {
      if (!String(err?.message).startsWith('NOSCRIPT')) throw err;
      return this.#redis.eval(s.text, keys.length, ...keys, ...args);
    });
  }
}

/** ioredis refuses commands without sending them while disconnected (enableOfflineQueue: false). */
function notSent(err: unknown): boolean {
  return /enableOfflineQueue|isn't writeable/.test(String((err as Error)?.message));
}

function state(limit: number, remaining: number, resetMs: number): WindowState {
  return { limit, remaining: Math.max(0, remaining), resetMs: Math.max(0, resetMs) };
}

class RedisLease implements Lease, Listed<RedisLease> {
  #done = false;
  // The store's LeaseList links (see lease-list.ts).
  prev: RedisLease | null = null;
  next: RedisLease | null = null;
  listed = false;
  constructor(
    readonly store: RedisStore,
    readonly pid: string,
    readonly bucketKey: string,
    readonly tpdKey: string,
    /** Permit sets held, and this lease's member in each. */
    readonly permits: readonly string[],
    readonly members: readonly string[],
    /** When the members expire in Redis unless renewed (limiter clock). */
    public exp: number,
    /** tpm limit, or -1 when the request was not token-limited per minute. */
    readonly tpm: number,
    readonly tpmReserved: number,
    /** -1 when the request was not token-limited per day. */
    readonly tpdReserved: number,
  ) {}

  release(actualTokens: number): void {
    if (this.#done) return;
    this.#done = true;
    this.store.settle(this, actualTokens);
  }
}
