import { refuse, type GatewayError } from '../core/errors.js';
import type { UpstreamAddress } from '../config/resolved.js';
import { FairQueue, type QueueEntry } from '../limits/fair-queue.js';
import type { UpstreamSet } from '../proxy/upstream-set.js';
import { Breaker } from './breaker.js';
import { DEFAULT_KEEP_ALIVE_MS, FleetNode, type NodeModel } from './node.js';
import { place, type Demand, type PlacementQuestion } from './router.js';

/**
 * The fleet: every node's state (fleet/node.ts), the router's decisions applied to it, and the
 * gateway-owned queue where a request waits when every node that could serve its model is full.
 * A request takes a Slot (acquire), and gives it back with what the node did (release): that is
 * how in-flight counts, residency, learned load and service times, breakers and the queue stay
 * true from traffic between polls (fleet/poller.ts).
 */

export interface FleetOptions {
  queueMax: number;
  queueWaitMs: number;
  breakerFailures: number;
  breakerOpenMs: number;
  /** ms since the epoch (breakers, residency expiry). */
  now?: () => number;
}

/** One request's place on a node. */
export interface Slot {
  readonly node: FleetNode;
  /** Canonical model name; null for requests that name none. */
  readonly model: string | null;
  readonly occupies: boolean;
  /** The model's record on the node, for a request that occupies a slot (null otherwise): what release updates. */
  readonly on: NodeModel | null;
  /** The model was not loaded there: this request makes the node load it. */
  readonly cold: boolean;
  /** Sent while the node's breaker was half-open: the one trial request. */
  readonly trial: boolean;
  readonly startedAt: number;
  released: boolean;
}

/** How a request on a node ended, as far as the node's state is concerned. */
export interface SlotResult {
  /** The node's status; 0 when nothing came back. */
  status: number;
  /** Nothing or a broken answer came back: connect error, reset, timeout. */
  failed: boolean;
  /** The client left before the node could say anything: tells nothing about the node. */
  abandoned: boolean;
  /** The node's Retry-After on a 503, in ms. */
  retryAfterMs: number | null;
  /** The final chunk's load_duration (ns), when the answer carried one. */
  loadNs: number | null;
  /** Time to the first response byte (ms), when there was one. */
  ttfbMs: number | null;
  /** The request asked Ollama to unload the model when done (keep_alive: 0). */
  unload: boolean;
  message: string | null;
}

/** A request waiting in the fleet's queue: `slot` settles when a node takes it, or with a refusal. */
export interface Waiting {
  readonly slot: Promise<Slot | GatewayError>;
  /** The client left: leave the queue (a slot already granted is the caller's to release). */
  abandon(): void;
}

interface Waiter extends QueueEntry {
  readonly q: PlacementQuestion;
  readonly since: number;
  /** The node kept for this request's load (router 'reserve'), if any. */
  reserved: FleetNode | null;
  resolve(r: Slot | GatewayError): void;
}

/** How many of one key's waiting requests a drain round looks at. */
const SCAN = 64;
/** A request for a model that started this long ago still counts as demand for it. */
const RECENT_MS = 10_000;
/** Below this, a load_duration is a model that was already loaded (Ollama reports a few ms). */
const COLD_LOAD_NS = 50_000_000;

export class Fleet implements Demand {
  readonly nodes: readonly FleetNode[];
  readonly #byName: ReadonlyMap<string, FleetNode>;
  readonly #queue = new FairQueue<Waiter>();
  readonly #waiting = new Map<string, number>();
  /** Per model, when a request for it last arrived (a record updated in place: no new map entry per request). */
  readonly #recent = new Map<string, { at: number }>();
  readonly #o: FleetOptions;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;

  constructor(set: UpstreamSet, addresses: readonly UpstreamAddress[], o: FleetOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.nodes = set.targets.map((t, i) => new FleetNode(t, addresses[i]!.parallel, addresses[i]!.maxLoaded, new Breaker(o.breakerFailures, o.breakerOpenMs)));
    this.#byName = new Map(this.nodes.map((n) => [n.name, n]));
  }

  node(name: string): FleetNode | undefined {
    return this.#byName.get(name);
  }

  get queued(): number {
    return this.#queue.size;
  }

  waiting(model: string): number {
    return this.#waiting.get(model) ?? 0;
  }

  recentlyUsed(model: string, now: number): boolean {
    const r = this.#recent.get(model);
    return r !== undefined && now - r.at < RECENT_MS;
  }

  /**
   * A slot for a request: at once when a node can take it, a promise when it must wait in the
   * queue, or a refusal. `model` null: any healthy node (the least busy).
   */
  acquire(q: PlacementQuestion, pid: string): Slot | GatewayError | 'missing' | Waiting {
    const now = this.#now();
    const recent = this.#recent.get(q.model);
    if (recent) recent.at = now;
    else this.#recent.set(q.model, { at: now });
    const p = place(this.nodes, q, this, now);
    switch (p.kind) {
      case 'node':
        return this.#take(p.node, q, p.cold, p.evicts, now);
      case 'missing':
        return 'missing';
      case 'unavailable':
        return unavailable(q.model, p.retryAt - now);
      case 'wait':
        return this.#enqueue(q, pid, now, null);
      case 'reserve':
        // Only a request with nothing of its key's queued ahead of it may hold a node for itself:
        // otherwise the node would drain and then idle until this request's turn came.
        return this.#enqueue(q, pid, now, this.#queue.countFor(pid) === 0 && !this.#reservedFor(q.model) ? p.node : null);
    }
  }

  /** A slot on the least busy node that is up (requests that name no model: /api/version). */
  any(exclude: FleetNode | null = null): Slot | GatewayError {
    const now = this.#now();
    let best: FleetNode | null = null;
    for (const n of this.nodes) {
      if (n === exclude || !n.up || !n.breaker.allows(now)) continue;
      if (!best || n.inFlight < best.inFlight) best = n;
    }
    if (!best) return refuse('GW_ERR_NODE_UNAVAILABLE', 'no Ollama node is answering; try again shortly', { headers: { 'retry-after': '1' } });
    return this.#take(best, { model: '', occupies: false, exclude: null }, false, null, now);
  }

  /**
   * A slot on another node for a request whose node failed before answering: at once, or after a
   * wait in the queue like any request (the client has seen nothing yet); null when no other node
   * has the model or can be used.
   */
  retry(slot: Slot, pid: string): Slot | Waiting | null {
    slot.node.stats.retries++;
    if (slot.model === null) {
      const s = this.any(slot.node);
      return s instanceof Error ? null : s;
    }
    const r = this.acquire({ model: slot.model, occupies: slot.occupies, exclude: slot.node }, pid);
    return r === 'missing' || r instanceof Error ? null : r;
  }

  #take(n: FleetNode, q: PlacementQuestion, cold: boolean, evicts: string | null, now: number): Slot {
    n.inFlight++;
    n.stats.requests++;
    const trial = n.breaker.dispatched();
    const model = q.model === '' ? null : q.model;
    if (model !== null && n.reservedFor === model) n.reservedFor = null; // the load the node was kept for
    let on: NodeModel | null = null;
    if (model !== null && q.occupies) {
      on = n.model(model);
      on.started(now);
      if (cold) {
        // Ollama unloads the victim to make room: the router must not count on it any more.
        if (evicts !== null) n.resident.delete(evicts);
        n.resident.set(model, { expiresAt: Infinity, loading: true, entry: null });
      }
    }
    return { node: n, model, occupies: q.occupies, on, cold, trial, startedAt: now, released: false };
  }

  release(slot: Slot, r: SlotResult): void {
    if (slot.released) return;
    slot.released = true;
    const n = slot.node;
    const now = this.#now();
    n.inFlight--;
    const on = slot.on;
    on?.ended(slot.startedAt);
    if (r.abandoned) {
      if (slot.trial) n.breaker.trialAbandoned();
    }
    else if (r.failed || r.status >= 500) {
      n.stats.failures++;
      n.lastError = { at: now, message: r.message ?? (r.status ? `answered ${r.status}` : 'failed') };
      n.breaker.failure(now, r.status === 503, r.retryAfterMs);
      // A connection that could not be made says the node is down now, not at the next poll.
      if (r.failed && r.status === 0 && r.ttfbMs === null) n.up = false;
    } else n.breaker.success();

    const model = slot.model;
    if (on !== null && model !== null) {
      const resident = n.resident.get(model);
      if (r.status === 200) {
        // An answer means the model is loaded there now (whatever /api/ps said last).
        if (r.unload) n.resident.delete(model);
        else if (resident) {
          resident.expiresAt = now + DEFAULT_KEEP_ALIVE_MS;
          resident.loading = false;
        } else n.resident.set(model, { expiresAt: now + DEFAULT_KEEP_ALIVE_MS, loading: false, entry: null });
        const loadMs = r.loadNs !== null ? r.loadNs / 1e6 : slot.cold ? r.ttfbMs : null;
        if (loadMs !== null && (slot.cold || (r.loadNs ?? 0) >= COLD_LOAD_NS)) {
          on.learnLoad(loadMs);
          n.stats.coldLoads++;
          n.stats.coldLoadSeconds += loadMs / 1000;
        }
        on.learnService(now - slot.startedAt);
      } else if (resident?.loading && on.running === 0) {
        n.resident.delete(model); // the load it was sent for did not happen
      }
    }
    this.drain();
  }

  #enqueue(q: PlacementQuestion, pid: string, now: number, reserve: FleetNode | null): Waiting | GatewayError {
    const o = this.#o;
    if (o.queueMax === 0 || this.#queue.size >= o.queueMax) {
      return refuse('GW_ERR_QUEUE_FULL', `every node that has model ${display(q.model)} is busy and the fleet's wait queue is full; try again in a few seconds`, { headers: { 'retry-after': '2' } });
    }
    let w!: Waiter;
    const slot = new Promise<Slot | GatewayError>((resolve) => {
      w = { pid, deadline: performance.now() + o.queueWaitMs, done: false, q, since: now, reserved: null, resolve };
    });
    if (reserve) this.#reserve(w, reserve);
    this.#queue.push(w);
    this.#waiting.set(q.model, this.waiting(q.model) + 1);
    this.#arm();
    return { slot, abandon: () => this.#abandon(w) };
  }

  /**
   * Serves waiting requests while nodes can take them: in rounds, one grant per key per round, keys
   * in round-robin order (the fair queue's). Within a key, the oldest request that can be placed
   * goes first: a request whose model has a free slot does not wait behind one whose model needs a
   * node to drain (only the first SCAN of a key's requests are looked at per round).
   */
  drain(): void {
    if (this.#queue.size === 0) return;
    const now = this.#now();
    // Reservations are decided again from the queue as it is now (oldest request first): one kept
    // for a request that has since been served elsewhere, or whose model has meanwhile become
    // loaded with room, is given up rather than drained for.
    for (const n of this.nodes) n.reservedFor = null;
    for (const pid of this.#queue.principals()) for (const w of this.#queue.entriesOf(pid)) w.reserved = null;
    let granted = true;
    while (granted && this.#queue.size > 0) {
      granted = false;
      // Per model, how many of the requests looked at so far this round wait for it (ahead of the next).
      const ahead = new Map<string, number>();
      for (const pid of this.#queue.principals()) {
        const list = this.#queue.entriesOf(pid);
        for (let i = 0; i < list.length && i < SCAN; i++) {
          const w = list[i]!;
          const before = ahead.get(w.q.model) ?? 0;
          ahead.set(w.q.model, before + 1);
          const p = place(this.nodes, { model: w.q.model, occupies: w.q.occupies, exclude: w.q.exclude, ahead: before, waitedMs: now - w.since }, this, now);
          // A later request for a model that must wait is still asked: with more requests ahead of
          // it, loading the model on another node may have become the better choice.
          if (p.kind === 'wait' || p.kind === 'reserve') {
            if (p.kind === 'reserve' && !w.reserved && !this.#reservedFor(w.q.model)) this.#reserve(w, p.node);
            continue;
          }
          this.#queue.take(w);
          this.#settle(w, p.kind === 'node' ? this.#take(p.node, w.q, p.cold, p.evicts, now) : p.kind === 'missing' ? refuse('GW_ERR_NODE_UNAVAILABLE', `model ${display(w.q.model)} is no longer installed on any node`) : unavailable(w.q.model, p.retryAt - now));
          granted = true;
          break;
        }
      }
    }
  }

  #reservedFor(model: string): boolean {
    for (const n of this.nodes) if (n.reservedFor === model) return true;
    return false;
  }

  /** Removes a waiter whose client went away. */
  #abandon(w: Waiter): void {
    if (w.done) return;
    this.#queue.remove(w);
    this.#settle(w, null);
  }

  #reserve(w: Waiter, n: FleetNode): void {
    n.reservedFor = w.q.model;
    w.reserved = n;
  }

  #settle(w: Waiter, r: Slot | GatewayError | null): void {
    w.done = true;
    // Served (the load it kept a node for happened, there or elsewhere), refused or gone: the node is free again.
    if (w.reserved && w.reserved.reservedFor === w.q.model) w.reserved.reservedFor = null;
    w.reserved = null;
    const left = this.waiting(w.q.model) - 1;
    if (left > 0) this.#waiting.set(w.q.model, left);
    else this.#waiting.delete(w.q.model);
    if (r) w.resolve(r);
  }

  /** While anyone waits: expire waits past their deadline, and retry placement (breakers half-open, loads finish). */
  #arm(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      const expired = this.#queue.takeExpired(performance.now());
      const now = this.#now();
      for (const w of expired) this.#settle(w, refuse('GW_ERR_QUEUE_FULL', `every node that has model ${display(w.q.model)} stayed busy for ${((now - w.since) / 1000).toFixed(1)} s; try again later`, { headers: { 'retry-after': '5' } }));
      this.drain();
      if (this.#queue.size === 0 && this.#timer) {
        clearInterval(this.#timer);
        this.#timer = null;
      }
    }, 100);
    this.#timer.unref();
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    for (const w of this.#queue.drain()) this.#settle(w, refuse('GW_ERR_SHUTTING_DOWN', 'Gatehouse is shutting down; retry on another instance'));
  }
}

function unavailable(model: string, retryInMs: number): GatewayError {
  const s = Math.max(1, Math.ceil(retryInMs / 1000));
  return refuse('GW_ERR_NODE_UNAVAILABLE', `no node that has model ${display(model)} is answering right now; try again in ${s} s`, { headers: { 'retry-after': String(s) } });
}

/** How Ollama shows a name: without the default registry and namespace, and without :latest. */
export function display(canonical: string): string {
  return canonical.replace(/^registry\.ollama\.ai\/library\//, '').replace(/:latest$/, '');
}
