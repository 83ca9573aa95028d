import type { Logger } from 'pino';
import { refuse } from '../core/errors.js';
import type { MemoryStore } from './memory-store.js';
import type { RedisStore } from './redis-store.js';
import { isPromise, type AcquireResult, type AcquireSpec, type LimitStore } from './store.js';

/**
 * limits.on_store_error, around the Redis store. While Redis answers, every decision is shared.
 * When a call fails (connection lost, timeout, any Redis error) the store is marked down and,
 * until a probe succeeds again:
 *   closed  every admission is refused with 503 GW_ERR_LIMITS_UNAVAILABLE (the default: a limit
 *           that silently stops limiting is the failure of docs/threat-model.md G1);
 *   local   admissions are decided by per-process counters (each replica enforces the limits on
 *           its own, so N replicas admit up to N times a shared limit).
 * Each transition is logged once; every failed call is counted. While down, requests do not touch
 * Redis at all (no per-request timeout); a probe every 500 ms (and on reconnect) brings it back,
 * and settlements that failed meanwhile are replayed.
 */

export type OnStoreError = 'closed' | 'local';

export interface StoreHealth {
  errors: number;
  down: boolean;
  mode: OnStoreError;
}

const PROBE_MS = 500;

export class ResilientStore implements LimitStore {
  readonly #redis: RedisStore;
  readonly #local: MemoryStore;
  readonly #mode: OnStoreError;
  readonly #log: Logger;
  #errors = 0;
  #down = false;
  #probe: NodeJS.Timeout | null = null;
  #probing = false;
  #closed = false;

  constructor(o: { redis: RedisStore; local: MemoryStore; mode: OnStoreError; log: Logger }) {
    this.#redis = o.redis;
    this.#local = o.local;
    this.#mode = o.mode;
    this.#log = o.log;
  }

  get health(): StoreHealth {
    return { errors: this.#errors, down: this.#down, mode: this.#mode };
  }

  acquire(spec: AcquireSpec): AcquireResult | Promise<AcquireResult> {
    if (this.#down) return this.#fallback(spec);
    const r = this.#redis.acquire(spec);
    if (!isPromise(r)) return r; // from this replica's reserve (taken from Redis while it answered)
    return r.catch((err: unknown) => {
      this.failed(err);
      return this.#fallback(spec);
    });
  }

  inFlight(): number {
    return this.#redis.inFlight() + this.#local.inFlight();
  }

  setWaiting(waiting: boolean, wake: () => void): void {
    this.#redis.setWaiting(waiting, wake);
  }

  /** Marks the store down (first failure logs), counting the error. Also fed by background calls. */
  failed(err: unknown): void {
    this.#errors++;
    if (this.#down || this.#closed) return;
    this.#down = true;
    // Nothing more is admitted from what this replica took ahead while Redis answered.
    this.#redis.dropReserves();
    const reason = (err as Error)?.message ?? String(err);
    if (this.#mode === 'closed') this.#log.error({ err: reason, on_store_error: 'closed' }, 'limits store (redis) is unreachable: refusing requests with 503 until it is back (limits.on_store_error: closed)');
    else this.#log.error({ err: reason, on_store_error: 'local' }, 'limits store (redis) is unreachable: enforcing per-process limits until it is back (limits.on_store_error: local)');
    this.#schedule();
  }

  /** Called when the client reconnects: probe now instead of at the next tick. */
  reconnected(): void {
    if (this.#down) void this.#tryRecover();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#probe) clearTimeout(this.#probe);
    this.#probe = null;
    await this.#redis.close();
    await this.#local.close();
  }

  #fallback(spec: AcquireSpec): AcquireResult {
    if (this.#mode === 'local') return this.#local.acquire(spec);
    throw refuse('GW_ERR_LIMITS_UNAVAILABLE', 'the gateway cannot check limits right now (its limits store is unreachable); try again shortly', { headers: { 'retry-after': '1' } });
  }

  #schedule(): void {
    if (this.#probe || this.#closed) return;
    this.#probe = setTimeout(() => {
      this.#probe = null;
      void this.#tryRecover();
    }, PROBE_MS);
    this.#probe.unref();
  }

  async #tryRecover(): Promise<void> {
    if (this.#probing || !this.#down || this.#closed) return;
    this.#probing = true;
    try {
      await this.#redis.ping();
      this.#down = false;
      const pending = this.#redis.pendingSettlements;
      this.#log.warn({ store_errors: this.#errors, replayed_settlements: pending }, 'limits store (redis) is reachable again: shared limits are back in force');
      this.#redis.flushPending();
    } catch {
      this.#errors++;
      this.#schedule();
    } finally {
      this.#probing = false;
    }
  }
}
