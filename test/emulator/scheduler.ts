// Fleet mode: one node's model scheduler, after Ollama's (server/sched.go), so that a router in
// front of several emulators meets what it would meet in front of several Ollama servers.
//
//   acquire(model) ──▶ queue (FIFO, at most maxQueue waiting; the next one is answered 503)
//                       │ model resident, a slot free (running < parallel) ──▶ runs
//                       │ model resident or loading, no slot ──▶ waits for one (as on the runner)
//                       │ model absent, room (resident + loading < maxLoaded) ──▶ load (loadMs)
//                       │ model absent, no room ──▶ evict the least recently used idle model, load;
//                       │     none idle: wait, and everything queued behind waits too (Ollama's
//                       │     scheduler blocks on that request until a runner unloads)
//   release() ──▶ slot freed; an idle model unloads after its keep_alive (0: at once)
//
// Times are wall-clock timers: a model load is `loadMs` of nothing, as a GPU load is for the CPU.
import type { FleetOptions } from './types.js';

/** Ollama's ErrMaxQueue text (server/sched.go), answered with 503. */
export const MAX_QUEUE_ERROR = 'server busy, please try again.  maximum pending requests exceeded';

/** load_duration reported when the model was already resident (the existing emulator's value). */
export const RESIDENT_LOAD_NS = 1_000_000;

/** A negative keep_alive keeps a model forever; expires_at then reads a century ahead. */
const FOREVER_MS = 100 * 365 * 86_400_000;

export interface FleetCounters {
  coldLoads: number;
  loadMsTotal: number;
  evictions: number;
  expirations: number;
  busy503: number;
}

export interface Lease {
  /** The load time this request waited for, ns (RESIDENT_LOAD_NS when its model was resident). */
  readonly loadNs: number;
  /** Frees the slot; idempotent. */
  release(): void;
}

/** A slot, or 'busy' (queue full: answer 503), or 'gone' (the client left or the node closed). */
export type Admission = Lease | 'busy' | 'gone';

interface Runner {
  model: string;
  ready: boolean;
  loadStarted: number;
  /** performance.now() when the load finished; 0 while loading. */
  loadedAt: number;
  running: number;
  lastUsed: number;
  /** The session duration the last request set (Ollama: sessionDuration); <= 0 unloads when idle. */
  keepAliveMs: number;
  timer: NodeJS.Timeout | undefined;
}

interface Waiter {
  model: string;
  keepAliveMs: number;
  enqueued: number;
  signal: AbortSignal;
  resolve: (a: Admission) => void;
  onAbort: () => void;
}

export function validFleetOptions(o: FleetOptions): Required<FleetOptions> {
  const int = (name: string, v: number, min: number): number => {
    if (!Number.isInteger(v) || v < min) throw new Error(`fleet.${name} must be an integer >= ${min}, got ${v}`);
    return v;
  };
  return {
    parallel: int('parallel', o.parallel, 1),
    maxLoaded: int('maxLoaded', o.maxLoaded, 1),
    loadMs: int('loadMs', o.loadMs, 0),
    maxQueue: int('maxQueue', o.maxQueue ?? 512, 0),
    keepAliveMs: int('keepAliveMs', o.keepAliveMs ?? 5 * 60_000, 0),
  };
}

export class Scheduler {
  readonly #runners = new Map<string, Runner>();
  readonly #queue: Waiter[] = [];
  readonly #loadTimers = new Set<NodeJS.Timeout>();
  #closed = false;

  /**
   * `loaded` is the emulator's display name → expires_at map that /api/ps reads: the scheduler
   * keeps exactly the resident models in it. `changed` wakes the emulator's waitFor.
   */
  constructor(
    readonly opts: Required<FleetOptions>,
    private readonly counters: FleetCounters,
    private readonly loaded: Map<string, number>,
    private readonly changed: () => void,
  ) {}

  /**
   * Waits for a slot on `model` (display name). `keepAliveMs` is the request's keep_alive
   * (undefined: the node default; Infinity: forever; 0: unload when idle).
   */
  acquire(model: string, keepAliveMs: number | undefined, signal: AbortSignal): Promise<Admission> {
    if (signal.aborted || this.#closed) return Promise.resolve('gone');
    if (this.#queue.length >= this.opts.maxQueue) {
      this.counters.busy503++;
      this.changed();
      return Promise.resolve('busy');
    }
    return new Promise<Admission>((resolve) => {
      const w: Waiter = {
        model,
        keepAliveMs: keepAliveMs ?? this.opts.keepAliveMs,
        enqueued: performance.now(),
        signal,
        resolve,
        onAbort: () => {
          const i = this.#queue.indexOf(w);
          if (i < 0) return;
          this.#queue.splice(i, 1);
          resolve('gone');
          // The request that blocked the queue may be the one that left.
          this.#pump();
          this.changed();
        },
      };
      signal.addEventListener('abort', w.onAbort, { once: true });
      this.#queue.push(w);
      this.#pump();
    });
  }

  /** keep_alive 0 without a prompt (and a deleted model): unload now, or once its requests end. */
  unload(model: string): void {
    const r = this.#runners.get(model);
    if (!r) return;
    r.keepAliveMs = 0;
    if (r.ready && r.running === 0) {
      this.#drop(r, 'expired');
      this.#pump();
    }
    this.changed();
  }

  resident(): string[] {
    return [...this.#runners.values()].filter((r) => r.ready).map((r) => r.model);
  }

  queued(): number {
    return this.#queue.length;
  }

  /** Stops every timer and sends queued requests away (the node is closing). */
  close(): void {
    this.#closed = true;
    for (const t of this.#loadTimers) clearTimeout(t);
    this.#loadTimers.clear();
    for (const r of this.#runners.values()) clearTimeout(r.timer);
    for (const w of this.#queue.splice(0)) {
      w.signal.removeEventListener('abort', w.onAbort);
      w.resolve('gone');
    }
  }

  /** Starts whatever can start, in queue order; stops at a request that needs room none can give. */
  #pump(): void {
    if (this.#closed) return;
    let started = false;
    for (let i = 0; i < this.#queue.length; ) {
      const w = this.#queue[i]!;
      const r = this.#runners.get(w.model);
      if (r) {
        if (r.ready && r.running < this.opts.parallel) {
          this.#queue.splice(i, 1);
          this.#start(w, r);
          started = true;
        } else {
          i++;
        }
        continue;
      }
      if (!this.#makeRoom()) break;
      this.#load(w.model); // the next turn finds it loading and moves on
      started = true;
    }
    if (started) this.changed();
  }

  /** True when a load may start: below maxLoaded, or after evicting the LRU idle resident model. */
  #makeRoom(): boolean {
    if (this.#runners.size < this.opts.maxLoaded) return true;
    let victim: Runner | undefined;
    for (const r of this.#runners.values()) {
      if (r.ready && r.running === 0 && (!victim || r.lastUsed < victim.lastUsed)) victim = r;
    }
    if (!victim) return false;
    this.#drop(victim, 'evicted');
    return true;
  }

  #load(model: string): void {
    const now = performance.now();
    const r: Runner = { model, ready: false, loadStarted: now, loadedAt: 0, running: 0, lastUsed: now, keepAliveMs: this.opts.keepAliveMs, timer: undefined };
    this.#runners.set(model, r);
    const t = setTimeout(() => {
      this.#loadTimers.delete(t);
      r.ready = true;
      r.loadedAt = performance.now();
      this.counters.coldLoads++;
      this.counters.loadMsTotal += r.loadedAt - r.loadStarted;
      this.#expiresIn(r, r.keepAliveMs);
      this.#pump();
      this.#settle(r);
      this.changed();
    }, this.opts.loadMs);
    this.#loadTimers.add(t);
  }

  #start(w: Waiter, r: Runner): void {
    w.signal.removeEventListener('abort', w.onAbort);
    clearTimeout(r.timer);
    r.timer = undefined;
    r.running++;
    r.lastUsed = performance.now();
    r.keepAliveMs = w.keepAliveMs;
    this.#expiresIn(r, r.keepAliveMs);
    // A request that was waiting while its model loaded reports the part of the load it waited
    // for; the one that caused the load waited for all of it. Ollama's load_duration is the same.
    const waitedForLoad = r.loadedAt > w.enqueued;
    const loadNs = waitedForLoad ? Math.max(RESIDENT_LOAD_NS, Math.round((r.loadedAt - Math.max(w.enqueued, r.loadStarted)) * 1e6)) : RESIDENT_LOAD_NS;
    let released = false;
    w.resolve({
      loadNs,
      release: () => {
        if (released) return;
        released = true;
        this.#release(r);
      },
    });
  }

  #release(r: Runner): void {
    r.running--;
    r.lastUsed = performance.now();
    if (this.#runners.get(r.model) === r) this.#expiresIn(r, r.keepAliveMs);
    this.#pump();
    this.#settle(r);
    this.changed();
  }

  /** An idle resident model: unload now (keep_alive 0) or arm its expiry. */
  #settle(r: Runner): void {
    if (this.#closed || this.#runners.get(r.model) !== r || !r.ready || r.running > 0) return;
    if (r.keepAliveMs <= 0) {
      this.#drop(r, 'expired');
      this.#pump();
      return;
    }
    if (!Number.isFinite(r.keepAliveMs)) return;
    clearTimeout(r.timer);
    r.timer = setTimeout(() => {
      r.timer = undefined;
      if (this.#runners.get(r.model) !== r || r.running > 0) return;
      this.#drop(r, 'expired');
      this.#pump();
      this.changed();
    }, r.keepAliveMs);
    // An idle model must not keep a test process alive.
    r.timer.unref();
  }

  #expiresIn(r: Runner, ms: number): void {
    if (r.ready) this.loaded.set(r.model, Date.now() + Math.min(ms, FOREVER_MS));
  }

  #drop(r: Runner, why: 'evicted' | 'expired'): void {
    clearTimeout(r.timer);
    r.timer = undefined;
    this.#runners.delete(r.model);
    this.loaded.delete(r.model);
    if (why === 'evicted') this.counters.evictions++;
    else this.counters.expirations++;
  }
}
