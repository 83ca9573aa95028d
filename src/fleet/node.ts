import type { UpstreamTarget } from '../proxy/upstream-set.js';
import { Breaker } from './breaker.js';

/**
 * What Gatehouse knows about one Ollama node: the models installed there (its /api/tags), the models
 * loaded in memory (its /api/ps, corrected at once from traffic), the requests this process has in
 * flight there per model, what loading each model has cost there, its health and breaker. Written
 * by the poller (fleet/poller.ts) and by the fleet when requests start and end; read by the router.
 */

/** A model loaded on a node. */
export interface Resident {
  /** When Ollama will unload it if idle (ms since the epoch; Infinity = never). */
  expiresAt: number;
  /** Gatehouse sent a request that loads it and it has not finished loading yet. */
  loading: boolean;
  /** The node's own /api/ps entry (null until a poll has seen it), for the merged /api/ps. */
  entry: Record<string, unknown> | null;
}

export interface NodeStats {
  requests: number;
  coldLoads: number;
  coldLoadSeconds: number;
  /** Requests this node failed before answering that were sent to another node instead. */
  retries: number;
  failures: number;
}

/** Ollama's default keep-alive: a model stays loaded this long after its last request. */
export const DEFAULT_KEEP_ALIVE_MS = 5 * 60_000;
/** Before a node has shown what a load costs: assume a slow one, so a resident model is preferred. */
export const DEFAULT_LOAD_MS = 5000;
/** Before a model's requests have been timed on a node. */
export const DEFAULT_SERVICE_MS = 2000;
/** Weight of the newest observation in the learned load and service times. */
const EWMA = 0.3;

export class FleetNode {
  readonly target: UpstreamTarget;
  readonly name: string;
  readonly parallel: number;
  readonly maxLoaded: number;
  readonly breaker: Breaker;
  /** canonical model name → its /api/tags entry. */
  installed = new Map<string, Record<string, unknown>>();
  /** When /api/tags was last read successfully (ms); 0 = never: what is installed is unknown. */
  tagsAt = 0;
  readonly resident = new Map<string, Resident>();
  /** When /api/ps was last read successfully (ms). */
  psAt = 0;
  /** Answers: the last poll reached it, and the last request did not fail to connect since. */
  up = false;
  /** Polls in a row that failed. */
  pollFailures = 0;
  /** Requests from this process running there. */
  inFlight = 0;
  /** The same, per canonical model name. */
  readonly running = new Map<string, number>();
  /** When each running request started, per model (ms; at most `parallel` each): how soon a slot frees. */
  readonly starts = new Map<string, number[]>();
  /** Last request start per model (ms): which loaded model Ollama would evict first (least recently used). */
  readonly lastUsed = new Map<string, number>();
  readonly #loadMs = new Map<string, number>();
  readonly #serviceMs = new Map<string, number>();
  lastError: { at: number; message: string } | null = null;
  /**
   * A waiting request needs a model loaded here and every model loaded here is busy: the node takes
   * no new request for anything else until that load has happened (it drains), so the waiting
   * request is not starved by a stream of requests for the models it would replace. null = none.
   */
  reservedFor: string | null = null;
  readonly stats: NodeStats = { requests: 0, coldLoads: 0, coldLoadSeconds: 0, retries: 0, failures: 0 };

  constructor(target: UpstreamTarget, parallel: number, maxLoaded: number, breaker: Breaker) {
    this.target = target;
    this.name = target.name;
    this.parallel = parallel;
    this.maxLoaded = maxLoaded;
    this.breaker = breaker;
  }

  runningOf(model: string): number {
    return this.running.get(model) ?? 0;
  }

  /** What loading `model` here is expected to cost (ms): learned from observed load_duration. */
  loadCost(model: string): number {
    return this.#loadMs.get(model) ?? this.#anyLoadMs() ?? DEFAULT_LOAD_MS;
  }

  /** How long one request for `model` here takes (ms), learned from requests that ended. */
  serviceTime(model: string): number {
    return this.#serviceMs.get(model) ?? DEFAULT_SERVICE_MS;
  }

  learnLoad(model: string, ms: number): void {
    const old = this.#loadMs.get(model);
    this.#loadMs.set(model, old === undefined ? ms : old + EWMA * (ms - old));
  }

  learnService(model: string, ms: number): void {
    const old = this.#serviceMs.get(model);
    this.#serviceMs.set(model, old === undefined ? ms : old + EWMA * (ms - old));
  }

  /** A model never loaded here: what other models cost here is a better guess than the default. */
  #anyLoadMs(): number | undefined {
    let sum = 0;
    for (const v of this.#loadMs.values()) sum += v;
    return this.#loadMs.size ? sum / this.#loadMs.size : undefined;
  }

  /** How long until every request running here is expected to be done (ms): the latest-started one's remaining time. */
  drainTime(now: number): number {
    let worst = 0;
    for (const [model, list] of this.starts) {
      const newest = Math.max(...list);
      worst = Math.max(worst, this.serviceTime(model) - (now - newest));
    }
    return worst;
  }

  /** How long until the first of `model`'s running requests here is expected to end (ms): the earliest-started one's remaining time. */
  nextFree(model: string, now: number): number {
    const list = this.starts.get(model);
    if (!list || list.length === 0) return 0;
    return Math.max(0, this.serviceTime(model) - (now - Math.min(...list)));
  }

  started(model: string, at: number): void {
    const list = this.starts.get(model);
    if (list) list.push(at);
    else this.starts.set(model, [at]);
  }

  ended(model: string, at: number): void {
    const list = this.starts.get(model);
    if (!list) return;
    const i = list.indexOf(at);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.starts.delete(model);
  }

  /**
   * The resident model Ollama would unload to make room: the least recently used one with nothing
   * running (Ollama waits for a busy one rather than unload it). null when every one is busy.
   */
  evictionVictim(): string | null {
    let victim: string | null = null;
    let oldest = Infinity;
    for (const [model, r] of this.resident) {
      if (r.loading || this.runningOf(model) > 0) continue;
      const used = this.lastUsed.get(model) ?? 0;
      if (used < oldest) {
        oldest = used;
        victim = model;
      }
    }
    return victim;
  }
}
