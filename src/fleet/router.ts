import type { FleetNode } from './node.js';

/**
 * Where a request for a model goes, decided from what the fleet knows (fleet/node.ts). Pure: it
 * reads node state and changes nothing (fleet/fleet.ts applies the choice). The rules, in order
 * (docs/fleet.md "Routing"):
 *
 * 1. Only nodes that have the model installed; none → `missing` (the route's not-found answer; no
 *    node is asked), unless a node whose models are not known yet might have it → `unavailable`.
 * 2. Only nodes that are up with a breaker that lets a request through; none → `unavailable`.
 * 3. Among them, each way of serving the request now costs an expected time to first token:
 *    resident with a free slot → 0 (plus a little per request running there, to spread load);
 *    still loading (Gatehouse sent the load) with a free slot → what is left of the load;
 *    not resident, and the node has room (fewer than `max_loaded`) → the load cost learned there,
 *    counted twice (LOAD_BIAS);
 *    not resident, node full → the load cost plus, if the model it would evict is in demand (waited
 *    for, or used recently, and loaded nowhere else), that model's load cost again: evicting it
 *    means someone else pays a load soon. A node whose loaded models are all busy cannot take a load
 *    now (Ollama would queue it); it can be reserved for the model instead: it takes nothing new
 *    until it has drained, then loads it (cost: the load plus the expected drain). A node reserved
 *    for another model is no candidate for anything else.
 *    A request that has already waited more than twice the load time is urgent: its load counts
 *    once and the evicted model's demand is not added (measured with bench:fleet: without this,
 *    one run in three had a request wait four request times; with it, none in eight runs).
 * 4. Waiting for a slot where the model is resident but every slot is taken costs the expected
 *    wait: until the first of those requests ends (its start + the service time learned there),
 *    plus a service time × the requests for it queued ahead / all those slots.
 * 5. The cheapest way wins; if waiting is cheaper than every way of serving now (or there is none),
 *    the answer is `wait`: the request waits in Gatehouse's queue (fleet/fleet.ts), never in Ollama's.
 *
 * Requests that do not occupy a slot (`/api/show`) go to any node that has the model, least busy first.
 */

export type Placement =
  | { readonly kind: 'node'; readonly node: FleetNode; readonly cold: boolean; readonly evicts: string | null }
  | { readonly kind: 'wait' }
  /** Wait, and keep `node` for this model: it takes nothing new until its loaded models are idle and the load can happen. */
  | { readonly kind: 'reserve'; readonly node: FleetNode }
  | { readonly kind: 'missing' }
  | { readonly kind: 'unavailable'; readonly retryAt: number };

export interface PlacementQuestion {
  /** Canonical model name. */
  readonly model: string;
  /** The request runs the model (inference, embeddings) and so takes one of a node's `parallel` slots. */
  readonly occupies: boolean;
  /** A node already tried for this request (a retry goes elsewhere). */
  readonly exclude: FleetNode | null;
  /** Requests for the same model queued ahead of this one (0 for a new request with nothing queued for its model). */
  readonly ahead?: number;
  /** How long this request has already waited in the queue (ms; 0 for a new one). */
  readonly waitedMs?: number;
}

export interface Demand {
  /** Requests waiting in Gatehouse's queue for this model. */
  waiting(model: string): number;
  /** A request for this model started within the last few seconds. */
  recentlyUsed(model: string, now: number): boolean;
}

/** Spreads requests among nodes that are otherwise equal: fewer running there is better. */
const PER_RUNNING_MS = 1;
/**
 * A load is chosen only when it is expected to save at least twice what it costs: it also takes the
 * GPU from whatever runs there and evicts a model someone may want next. Measured with
 * bench:fleet: cold loads 45-47 at 1×, 35-38 at 2×, with the same TTFT p99 (docs/fleet.md).
 */
const LOAD_BIAS = 2;
const MISSING: Placement = Object.freeze({ kind: 'missing' });
const WAIT: Placement = Object.freeze({ kind: 'wait' });

export function place(nodes: readonly FleetNode[], q: PlacementQuestion, demand: Demand, now: number): Placement {
  const model = q.model;
  let installed = false;
  let unknown = false;
  let usable = false;
  let retryAt = Infinity;
  let best: FleetNode | null = null;
  let bestCost = Infinity;
  let bestCold = false;
  let bestEvicts: string | null = null;
  let fullSlots = 0;
  let fullService = 0;
  let soonest = Infinity;
  let reserve: FleetNode | null = null;
  let reserveCost = Infinity;

  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    if (n === q.exclude) continue;
    if (!n.installed.has(model)) {
      if (n.tagsAt === 0) unknown = true;
      continue;
    }
    installed = true;
    if (!n.up || !n.breaker.allows(now)) {
      if (n.breaker.state === 'open' && n.breaker.openUntil < retryAt) retryAt = n.breaker.openUntil;
      continue;
    }
    usable = true;
    if (n.reservedFor !== null && n.reservedFor !== model) continue; // draining for another model's load: wait
    if (!q.occupies) {
      const cost = n.inFlight * PER_RUNNING_MS;
      if (cost < bestCost) [best, bestCost, bestCold, bestEvicts] = [n, cost, false, null];
      continue;
    }
    const r = n.resident.get(model);
    if (r) {
      const running = n.runningOf(model);
      if (running < n.parallel) {
        const cost = (r.loading ? n.loadCost(model) / 2 : 0) + running * PER_RUNNING_MS;
        if (cost < bestCost) [best, bestCost, bestCold, bestEvicts] = [n, cost, false, null];
      } else {
        fullSlots += n.parallel;
        fullService = Math.max(fullService, n.serviceTime(model));
        soonest = Math.min(soonest, n.nextFree(model, now));
      }
      continue;
    }
    let evicts: string | null = null;
    // A request that has already waited more than twice a load takes one at its plain cost, and may
    // evict a model in demand: its time to first token is what the tail is made of.
    const urgent = (q.waitedMs ?? 0) > 2 * n.loadCost(model);
    let cost = n.loadCost(model) * (urgent ? 1 : LOAD_BIAS);
    if (n.resident.size >= n.maxLoaded) {
      evicts = n.evictionVictim();
      if (evicts === null) {
        // Every loaded model is busy (Ollama would make the load wait): a candidate to reserve.
        const drained = cost + n.drainTime(now);
        if (n.reservedFor === null && drained < reserveCost) [reserve, reserveCost] = [n, drained];
        continue;
      }
      if (!urgent && inDemand(evicts, nodes, n, demand, now)) cost += n.loadCost(evicts);
    }
    cost += n.inFlight * PER_RUNNING_MS;
    if (cost < bestCost) [best, bestCost, bestCold, bestEvicts] = [n, cost, true, evicts];
  }

  const waitCost = fullSlots > 0 ? soonest + (fullService * (q.ahead ?? demand.waiting(model))) / fullSlots : Infinity;
  // The cheapest way; on a tie, serving now beats waiting, and waiting for a slot beats draining a node.
  if (best && bestCost <= waitCost && bestCost <= reserveCost) return { kind: 'node', node: best, cold: bestCold, evicts: bestEvicts };
  if (waitCost < Infinity && waitCost <= reserveCost) return WAIT;
  if (reserve) return { kind: 'reserve', node: reserve };
  if (!installed) return unknown ? { kind: 'unavailable', retryAt: now + 1000 } : MISSING;
  if (!usable) return { kind: 'unavailable', retryAt: retryAt === Infinity ? now + 1000 : retryAt };
  return WAIT; // installed on usable nodes, all busy with other models: a slot frees when one ends
}

/** Evicting `model` from `from` would cost someone a load soon: it is wanted, and loaded nowhere else. */
function inDemand(model: string, nodes: readonly FleetNode[], from: FleetNode, demand: Demand, now: number): boolean {
  if (demand.waiting(model) === 0 && !demand.recentlyUsed(model, now)) return false;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    if (n !== from && n.up && n.resident.has(model)) return false;
  }
  return true;
}
