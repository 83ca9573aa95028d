import { GatewayError, refuse } from '../core/errors.js';
import type { TokenUsage } from '../core/types.js';
import type { AuthFailureGuard } from './auth-failures.js';
import { FairQueue, type QueueEntry } from './fair-queue.js';
import { concurrencyRefusal, rateHeaders, rateRefusal, retryAfterSeconds } from './headers.js';
import type { Plans } from './plan.js';
import { OutputEstimates, type OutputEstimate } from './output-estimate.js';
import { isPromise, RATE_BLOCKERS, type AcquireResult, type AcquireSpec, type Blocker, type Granted, type Lease, type LimitStore, type ModelCap, type Windows } from './store.js';
import type { Admission, AdmissionRequest, Limiter, LimiterSnapshot } from './types.js';

/**
 * The Limiter the request path talks to. It decides nothing itself: the store (memory or Redis)
 * decides each admission atomically; this class turns the decision into an Admission or a
 * refusal, and keeps the wait queue.
 *
 * Hot path: a request to which no limit applies gets the shared FREE admission (one WeakMap
 * lookup); with the memory store an admission that needs no waiting is returned synchronously
 * (no Promise, no timer). Only requests that find a concurrency cap full are queued: the queue
 * has one timer for all deadlines and is served round-robin across principals (fair-queue.ts)
 * whenever a permit is freed (here, or — with Redis — in another replica).
 */

export interface QueueOptions {
  maxSize: number;
  maxPerPrincipal: number;
  maxWaitMs: number;
}

/** Store extras the limiter uses when present (Redis: wake-ups and health). */
export interface WakeableStore extends LimitStore {
  setWaiting?(waiting: boolean, wake: () => void): void;
  readonly health?: { errors: number; down: boolean; mode: 'closed' | 'local' };
}

export interface GatewayLimiterOptions {
  store: WakeableStore;
  plans: Plans;
  queue: QueueOptions;
  auth: AuthFailureGuard;
  /** Closed after the store (Redis connections). */
  onClose?: () => Promise<void>;
}

const FREE: Admission = Object.freeze({ headers: Object.freeze([]) as readonly string[], release: () => {} });
const NO_MODELS: readonly ModelCap[] = Object.freeze([]);

interface Waiter extends QueueEntry {
  readonly spec: AcquireSpec;
  readonly est: OutputEstimate | null;
  readonly since: number;
  readonly signal: AbortSignal;
  blocker: Blocker;
  model: string | undefined;
  windows: Windows | null;
  resolve: (a: Admission) => void;
  reject: (e: unknown) => void;
  onAbort: () => void;
}

export class GatewayLimiter implements Limiter {
  readonly #store: WakeableStore;
  readonly #plans: Plans;
  readonly #q: QueueOptions;
  readonly #auth: AuthFailureGuard;
  readonly #onClose: (() => Promise<void>) | undefined;
  readonly #queue = new FairQueue<Waiter>();
  /** Expected output per key and model: what a token request reserves besides its prompt. */
  readonly #estimates = new OutputEstimates();
  #held = 0;
  /** Moving average of how long a permit is held (ms): the Retry-After of concurrency refusals. */
  #holdMs = 1000;
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Infinity;
  #pumping = false;
  #pumpAgain = false;
  #closed = false;
  readonly #wake = (): void => this.#pump();

  constructor(o: GatewayLimiterOptions) {
    this.#store = o.store;
    this.#plans = o.plans;
    this.#q = o.queue;
    this.#auth = o.auth;
    this.#onClose = o.onClose;
  }

  admit(req: AdmissionRequest): Promise<Admission> | Admission {
    const plan = this.#plans.forPrincipal(req.principal);
    // Global and per-model caps protect the GPU: they apply to routes that generate or embed.
    const gpu = req.route.accounting !== 'none';
    const tokens = gpu && plan.tokens;
    const models = gpu ? this.#plans.modelCaps(req.models) : NO_MODELS;
    const global = gpu ? this.#plans.global : null;
    if (!plan.always && !tokens && models.length === 0 && global === null) return FREE;
    if (this.#closed) return Promise.reject(refuse('GW_ERR_SHUTTING_DOWN', 'the gateway is shutting down; try again shortly'));
    // The reservation: the prompt estimate plus the output this key's requests to this model are
    // likely to produce, never more than the request's own output cap. A request that uses more
    // is charged the difference as debt when it ends (store.ts), which is what keeps the limit.
    let est: OutputEstimate | null = null;
    let reserve = 0;
    if (tokens) {
      const cap = req.outputCap > 0 ? req.outputCap : 0;
      if (cap > 0) est = this.#estimates.of(plan.pid, req.models[0] ?? '');
      reserve = Math.max(0, Math.ceil(req.promptEstimate + (est !== null && est.value < cap ? est.value : cap)) || 0);
    }
    const spec: AcquireSpec = {
      pid: plan.pid,
      rpm: plan.rpm,
      tpm: tokens ? plan.tpm : null,
      tpd: tokens ? plan.tpd : null,
      tokens: tokens ? reserve : null,
      concurrency: plan.concurrency,
      models,
      global,
    };
    // A key whose earlier requests wait for something this one needs too queues behind them
    // (FIFO within a key); anything else is decided at once.
    const head = this.#queue.head(spec.pid);
    if (head && (head.blocker === 'principal' || (head.blocker === 'global' && global !== null) || (head.blocker === 'model' && models.some((m) => m.model === head.model)))) {
      return this.#enqueue(spec, est, req, head.blocker, head.model, null);
    }
    let r: AcquireResult | Promise<AcquireResult>;
    try {
      r = this.#store.acquire(spec);
    } catch (err) {
      return Promise.reject(err);
    }
    if (isPromise(r)) return r.then((x) => this.#decide(spec, est, x, req));
    return this.#decide(spec, est, r, req);
  }

  authFailure(ip: string): number {
    return this.#auth.failure(ip);
  }

  snapshot(): LimiterSnapshot {
    const h = this.#store.health;
    return {
      inFlight: this.#held,
      queued: this.#queue.size,
      storeErrors: h?.errors ?? 0,
      degraded: !!h && h.down && h.mode === 'local',
      storeUnavailable: !!h && h.down,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    for (const w of this.#queue.drain()) this.#settle(w, null, refuse('GW_ERR_SHUTTING_DOWN', 'the gateway is shutting down; try again shortly', { headers: { 'retry-after': '1' } }));
    this.#store.setWaiting?.(false, this.#wake);
    await this.#store.close();
    await this.#onClose?.();
  }

  /** From Held.release: a permit is free (or a reservation settled). */
  released(since: number): void {
    this.#held--;
    this.#holdMs += (performance.now() - since - this.#holdMs) * 0.1;
    if (this.#queue.size > 0) this.#pump();
  }

  #decide(spec: AcquireSpec, est: OutputEstimate | null, r: AcquireResult, req: AdmissionRequest): Admission | Promise<Admission> {
    if (r.ok) return this.#granted(r, est);
    if (RATE_BLOCKERS.has(r.blocker)) return Promise.reject(rateRefusal(r, spec));
    return this.#enqueue(spec, est, req, r.blocker, r.model, r);
  }

  #granted(r: Granted, est: OutputEstimate | null): Admission {
    this.#held++;
    return new Held(this, r.lease, rateHeaders(r), est);
  }

  #retryAfter(): number {
    return Math.min(60, retryAfterSeconds(this.#holdMs));
  }

  /** `req.signal` is read only here: callers may create it lazily, and only a waiter needs one. */
  #enqueue(spec: AcquireSpec, est: OutputEstimate | null, req: AdmissionRequest, blocker: Blocker, model: string | undefined, w: Windows | null): Promise<Admission> {
    const cap = blocker === 'principal' ? spec.concurrency : blocker === 'global' ? spec.global : spec.models.find((m) => m.model === model)?.cap;
    const q = this.#q;
    if (cap === 0 || q.maxSize === 0 || q.maxWaitMs === 0) return Promise.reject(concurrencyRefusal(blocker, spec, model, this.#retryAfter(), 'full', 0, w));
    if (this.#queue.countFor(spec.pid) >= q.maxPerPrincipal) return Promise.reject(concurrencyRefusal('principal', spec, model, this.#retryAfter(), 'queue-full', 0, w));
    if (this.#queue.size >= q.maxSize) return Promise.reject(concurrencyRefusal(blocker, spec, model, this.#retryAfter(), 'queue-full', 0, w));
    const signal = req.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<Admission>((resolve, reject) => {
      const now = performance.now();
      const waiter: Waiter = {
        pid: spec.pid, spec, est, since: now, deadline: now + q.maxWaitMs, signal, done: false,
        blocker, model, windows: w, resolve, reject,
        onAbort: () => {
          if (waiter.done) return;
          this.#queue.remove(waiter);
          this.#settle(waiter, null, signal.reason ?? new Error('client went away'));
          this.#queueChanged();
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.#queue.push(waiter);
      this.#queueChanged();
      // A permit may have been freed between the refusal and now (e.g. by the Redis round trip).
      this.#pump();
    });
  }

  /** Resolves or rejects a waiter exactly once. */
  #settle(w: Waiter, a: Admission | null, err: unknown): void {
    if (w.done) return;
    w.done = true;
    w.signal.removeEventListener('abort', w.onAbort);
    if (a) w.resolve(a);
    else w.reject(err);
  }

  #queueChanged(): void {
    const n = this.#queue.size;
    this.#store.setWaiting?.(n > 0, this.#wake);
    if (n === 0) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = null;
      this.#timerAt = Infinity;
      return;
    }
    const next = this.#queue.earliestDeadline();
    if (this.#timer && this.#timerAt <= next) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = next;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#timerAt = Infinity;
      this.#expire();
    }, Math.max(0, next - performance.now()) + 1);
    this.#timer.unref();
  }

  #expire(): void {
    const now = performance.now();
    for (const w of this.#queue.takeExpired(now)) {
      this.#settle(w, null, concurrencyRefusal(w.blocker, w.spec, w.model, this.#retryAfter(), 'waited', now - w.since, w.windows));
    }
    this.#queueChanged();
  }

  #pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    if (this.#queue.size === 0 || this.#closed) return;
    this.#pumping = true;
    void this.#pumpLoop().finally(() => {
      this.#pumping = false;
      this.#queueChanged();
      if (this.#pumpAgain) {
        this.#pumpAgain = false;
        this.#pump();
      }
    });
  }

  async #pumpLoop(): Promise<void> {
    for (;;) {
      this.#pumpAgain = false;
      const granted = await this.#pass();
      if (!granted && !this.#pumpAgain) return;
      if (this.#queue.size === 0) return;
    }
  }

  /**
   * One round: each waiting principal's head tries once, in service order; a grant sends that
   * principal to the back. A full global (or model) pool stops the heads that need it for the
   * rest of the round, so a round costs at most one store call per principal.
   */
  async #pass(): Promise<boolean> {
    let granted = false;
    let globalFull = false;
    let fullModels: Set<string> | null = null;
    for (const pid of this.#queue.principals()) {
      for (;;) {
        const w = this.#queue.head(pid);
        if (!w) break;
        if (globalFull && w.spec.global !== null) break;
        if (fullModels && w.spec.models.some((m) => fullModels!.has(m.model))) break;
        let r: AcquireResult;
        try {
          const x = this.#store.acquire(w.spec);
          r = isPromise(x) ? await x : x;
        } catch (err) {
          this.#queue.remove(w);
          this.#settle(w, null, err instanceof GatewayError ? err : refuse('GW_ERR_LIMITS_UNAVAILABLE', 'the gateway cannot check limits right now; try again shortly', { cause: err }));
          continue;
        }
        if (w.done) {
          // Abandoned or expired while the store was deciding (and already out of the queue).
          if (r.ok) r.lease.release(0);
          continue;
        }
        if (r.ok) {
          this.#queue.served(w);
          this.#settle(w, this.#granted(r, w.est), null);
          granted = true;
          break;
        }
        if (RATE_BLOCKERS.has(r.blocker)) {
          this.#queue.remove(w);
          this.#settle(w, null, rateRefusal(r, w.spec));
          continue;
        }
        w.blocker = r.blocker;
        w.model = r.model;
        w.windows = r;
        if (r.blocker === 'global') globalFull = true;
        else if (r.blocker === 'model') (fullModels ??= new Set()).add(r.model ?? '');
        break;
      }
    }
    return granted;
  }
}

/** An admission that holds a lease; release is idempotent. */
class Held implements Admission {
  readonly headers: readonly string[];
  readonly #limiter: GatewayLimiter;
  #lease: Lease | null;
  readonly #since = performance.now();
  /** Learns this request's real output (token-limited requests with an output cap only). */
  readonly #est: OutputEstimate | null;

  constructor(limiter: GatewayLimiter, lease: Lease, headers: readonly string[], est: OutputEstimate | null) {
    this.#limiter = limiter;
    this.#lease = lease;
    this.headers = headers;
    this.#est = est;
  }

  release(usage: TokenUsage | null): void {
    const lease = this.#lease;
    if (!lease) return;
    this.#lease = null;
    lease.release(usedTokens(usage));
    // Only real counts teach the estimate: an estimated usage (a client that left, a stream that
    // failed before its final count) says how far the answer got, not how long it would have been.
    if (this.#est !== null && usage !== null && !usage.estimated) this.#est.add(Number(usage.completion) || 0);
    this.#limiter.released(this.#since);
  }
}

/** Prompt + completion tokens, as a whole non-negative number (0 when nothing was reported). */
export function usedTokens(u: TokenUsage | null): number {
  if (!u) return 0;
  const n = Math.ceil((Number(u.prompt) || 0) + (Number(u.completion) || 0));
  return n > 0 ? n : 0;
}
