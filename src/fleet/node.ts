import type { UpstreamTarget } from '../proxy/upstream-set.js';
import { Breaker } from './breaker.js';

/**
 * What Gatehouse knows about one Ollama node: the models installed there (its /api/tags), the models
 * loaded in memory (its /api/ps, corrected at once from traffic), the requests this process has in
 * flight there per model, what loading each model has cost there, its health and breaker. Written
 * by the poller (fleet/poller.ts) and by the fleet when requests start and end; read by the router.
 *
 * What traffic teaches about one model on the node is one record (NodeModel), found with one lookup
 * and held by the request's slot until it ends: a request costs one map lookup for its bookkeeping,
 * not one per fact (running, start times, last use, service time each in a map of their own).
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

/** One model on one node, as traffic has shown it. Kept once created (a model installed there). */
export class NodeModel {
  /** When each request running there for it started (ms; at most `parallel`), in no order: how soon a slot frees. */
  readonly starts: number[] = [];
  /** Last request start (ms; 0 = never): which loaded model Ollama would evict first (least recently used). */
  lastUsed = 0;
  // NaN, not null, for "not learned yet": a field that only ever holds numbers is updated in place,
  // where one that also holds null gets a new heap number (and a write barrier) per request.
  /** Learned load time (ms); NaN until a load has been seen. */
  loadMs = NaN;
  /** Learned time of one request (ms); NaN until one has ended. */
  serviceMs = NaN;

  /** Requests from this process running there for it. */
  get running(): number {
    return this.starts.length;
  }

  started(at: number): void {
    this.starts.push(at);
    this.lastUsed = at;
  }

  ended(at: number): void {
    const list = this.starts;
    const i = list.indexOf(at);
    if (i < 0) return;
    // Order does not matter (the router takes the min and max): the last one fills the gap.
    const last = list.pop()!;
    if (i < list.length) list[i] = last;
  }

  learnLoad(ms: number): void {
    this.loadMs = Number.isNaN(this.loadMs) ? ms : this.loadMs + EWMA * (ms - this.loadMs);
  }

  learnService(ms: number): void {
    this.serviceMs = Number.isNaN(this.serviceMs) ? ms : this.serviceMs + EWMA * (ms - this.serviceMs);
  }

  /** The learned service time, or the default before any request has ended. */
  get service(): number {
    return Number.isNaN(this.serviceMs) ? DEFAULT_SERVICE_MS : this.serviceMs;
  }
}

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
  /** canonical model name → what traffic has shown of it here. */
  readonly models = new Map<string, NodeModel>();
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

  /** The model's record here, made on first use. */
  model(name: string): NodeModel {
    let m = this.models.get(name);
    if (m === undefined) {
      m = new NodeModel();
      this.models.set(name, m);
    }
    return m;
  }

  runningOf(model: string): number {
    return this.models.get(model)?.running ?? 0;
  }

  lastUsedOf(model: string): number {
    return this.models.get(model)?.lastUsed ?? 0;
  }

  /** What loading `model` here is expected to cost (ms): learned from observed load_duration. */
  loadCost(model: string): number {
    const ms = this.models.get(model)?.loadMs;
    return ms !== undefined && !Number.isNaN(ms) ? ms : this.#anyLoadMs() ?? DEFAULT_LOAD_MS;
  }

  /** How long one request for `model` here takes (ms), learned from requests that ended. */
  serviceTime(model: string): number {
    return this.models.get(model)?.service ?? DEFAULT_SERVICE_MS;
  }

  learnLoad(model: string, ms: number): void {
    this.model(model).learnLoad(ms);
  }

  learnService(model: string, ms: number): void {
    this.model(model).learnService(ms);
  }

  /** A model never loaded here: what other models cost here is a better guess than the default. */
  #anyLoadMs(): number | null {
    let sum = 0;
    let count = 0;
    for (const m of this.models.values()) {
      if (Number.isNaN(m.loadMs)) continue;
      sum += m.loadMs;
      count++;
    }
    return count ? sum / count : null;
  }

  /** How long until every request running here is expected to be done (ms): the latest-started one's remaining time. */
  drainTime(now: number): number {
    let worst = 0;
    for (const m of this.models.values()) {
      if (m.starts.length === 0) continue;
      const newest = Math.max(...m.starts);
      worst = Math.max(worst, m.service - (now - newest));
    }
    return worst;
  }

  /** How long until the first of `model`'s running requests here is expected to end (ms): the earliest-started one's remaining time. */
  nextFree(model: string, now: number): number {
    const m = this.models.get(model);
    if (!m || m.starts.length === 0) return 0;
    return Math.max(0, m.service - (now - Math.min(...m.starts)));
  }

  /**
   * The resident model Ollama would unload to make room: the least recently used one with nothing
   * running (Ollama waits for a busy one rather than unload it). null when every one is busy.
   */
  evictionVictim(): string | null {
    let victim: string | null = null;
    let oldest = Infinity;
    for (const [model, r] of this.resident) {
      if (r.loading) continue;
      const m = this.models.get(model);
      if (m && m.running > 0) continue;
      const used = m?.lastUsed ?? 0;
      if (used < oldest) {
        oldest = used;
        victim = model;
      }
    }
    return victim;
  }
}
