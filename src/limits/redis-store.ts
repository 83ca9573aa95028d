import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Clock } from '../core/clock.js';
import { BATCH, RENEW, type Script } from './lua.js';
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
  /** Called on every failed Redis operation that is not an admission (those reject). */
  onBackgroundError: (err: unknown) => void;
}

const BLOCKERS: readonly Blocker[] = ['rpm', 'rpm', 'tpm', 'tpd', 'principal', 'model', 'global'];
const POLL_MIN = 20;
const POLL_MAX = 500;
const WAITERS_TTL = 3000;
/** Operations per BATCH call (each is ~10 Redis calls inside the script). */
const MAX_BATCH = 128;
/** Batches on their way to Redis at once (more wait and go together: group commit). */
const MAX_IN_FLIGHT = 1;

interface AdmitOp {
  kind: 'a';
  spec: AcquireSpec;
  id: string;
  now: number;
  resolve: (r: AcquireResult) => void;
  reject: (e: unknown) => void;
}

interface ReleaseOp {
  kind: 'r';
  lease: RedisLease;
  actual: number;
  /** Replays after an outage are not retried again. */
  replay: boolean;
}

type Op = AdmitOp | ReleaseOp;

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
  readonly #leases = new Set<RedisLease>();
  #renewTimer: NodeJS.Timeout | null = null;
  #wake: (() => void) | null = null;
  #waiting = false;
  #pollTimer: NodeJS.Timeout | null = null;
  #pollDelay = POLL_MIN;
  #flagRefreshedAt = 0;
  /** Settlements refused unsent while Redis was away, replayed when it is back. */
  #pending: ReleaseOp[] = [];
  #closed = false;

  constructor(o: RedisStoreOptions) {
    this.#o = o;
    this.#redis = o.redis;
    this.#channel = `${o.prefix}released`;
    this.#waitersKey = `${o.prefix}waiters`;
    this.#global = `${o.prefix}cc:global`;
    if (o.subscriber) {
      o.subscriber.on('message', (ch: string, from: string) => {
        if (ch === this.#channel && from !== this.#replica) this.#poke();
      });
      o.subscriber.subscribe(this.#channel).catch(() => {});
    }
  }

  acquire(spec: AcquireSpec): Promise<AcquireResult> {
    return new Promise((resolve, reject) => {
      this.#ops.push({ kind: 'a', spec, id: `${this.#replica}:${++this.#seq}`, now: 0, resolve, reject });
      this.#schedule();
    });
  }

  /** Settles one lease (from RedisLease.release). Failures are kept and replayed on recovery. */
  settle(l: RedisLease, actual: number): void {
    if (l.permits.length) {
      this.#leases.delete(l);
    } else if (l.tpmReserved === 0 && l.tpdReserved < 0 && !(l.tpm >= 0 && actual > 0)) {
      return; // nothing held and nothing to settle (e.g. rpm only): no round trip
    }
    this.#ops.push({ kind: 'r', lease: l, actual: Math.max(0, Math.ceil(actual)), replay: false });
    this.#schedule();
    // Someone here may be waiting for this very permit: its next try goes in the same batch.
    if (this.#waiting && l.permits.length) this.#poke();
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
    const p = this.#o.prefix;
    const keys: string[] = [this.#global, this.#waitersKey];
    const args: Array<string | number> = [now, this.#channel, this.#replica];
    const day = Math.floor(now / DAY);
    const dayEnd = (day + 1) * DAY;
    for (const op of ops) {
      if (op.kind === 'a') {
        const s = op.spec;
        op.now = now;
        const base = `${p}p:${s.pid}`;
        const tokens = s.tokens !== null;
        if (s.rpm !== null || (tokens && s.tpm !== null)) keys.push(base);
        if (tokens && s.tpd !== null) keys.push(`${base}:tpd:${day}`);
        if (s.concurrency !== null) keys.push(`${base}:cc`);
        let a = `a,${s.models.length},${s.rpm ?? -1},${s.tpm ?? -1},${s.tpd ?? -1},${s.tokens ?? -1},${s.concurrency ?? -1},${s.global ?? -1},${op.id},${now + this.#o.leaseTtlMs},${dayEnd}`;
        for (const m of s.models) {
          keys.push(`${p}cc:m:${m.model}`);
          a += `,${m.cap}`;
        }
        args.push(a);
      } else {
        const l = op.lease;
        if (l.tpm >= 0) keys.push(l.bucketKey);
        if (l.tpdReserved >= 0) keys.push(l.tpdKey);
        for (const k of l.permits) keys.push(k);
        args.push(`r,${l.permits.length},${l.tpm},${l.tpmReserved},${op.actual},${l.tpdReserved},${l.id}`);
      }
    }
    return this.#eval(BATCH, keys, args).then(
      (raw) => {
        const text = String(raw);
        const out = text ? text.split(',').map(Number) : [];
        let i = 0;
        for (const op of ops) {
          if (op.kind !== 'a') continue;
          op.resolve(this.#result(op, out, i));
          i += 10;
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
    const base = `${this.#o.prefix}p:${s.pid}`;
    const permits: string[] = [];
    if (s.concurrency !== null) permits.push(`${base}:cc`);
    if (s.global !== null) permits.push(this.#global);
    for (const m of s.models) permits.push(`${this.#o.prefix}cc:m:${m.model}`);
    const t = tokens ? Math.ceil(s.tokens!) : 0;
    const lease = new RedisLease(this, op.id, base, `${base}:tpd:${Math.floor(op.now / DAY)}`, permits,
      s.tpm !== null && tokens ? s.tpm : -1,
      s.tpm !== null && tokens ? Math.min(t, s.tpm) : 0,
      s.tpd !== null && tokens ? Math.min(t, s.tpd) : -1);
    if (permits.length) this.#hold(lease);
    return { ok: true, lease, ...w };
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
    for (const l of this.#leases) {
      this.#eval(RENEW, l.permits, [exp, l.id, ttl]).catch((err: unknown) => this.#o.onBackgroundError(err));
    }
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

class RedisLease implements Lease {
  #done = false;
  constructor(
    readonly store: RedisStore,
    readonly id: string,
    readonly bucketKey: string,
    readonly tpdKey: string,
    readonly permits: readonly string[],
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
