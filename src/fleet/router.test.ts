// The router's decision (fleet/router.ts `place`) on hand-built node states: resident before cold,
// waiting versus loading elsewhere, eviction rules, and the refusals (missing, unavailable).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Dispatcher } from 'undici';
import type { UpstreamTarget } from '../proxy/upstream-set.js';
import { Breaker } from './breaker.js';
import { DEFAULT_LOAD_MS, DEFAULT_SERVICE_MS, FleetNode } from './node.js';
import { place, type Demand, type Placement, type PlacementQuestion } from './router.js';

const NOW = 1_700_000_000_000;
const M = 'registry.ollama.ai/library/m:latest';
const V = 'registry.ollama.ai/library/victim:latest';
const X = 'registry.ollama.ai/library/x:latest';
const GHOST = 'registry.ollama.ai/library/ghost:latest';

function target(name: string): UpstreamTarget {
  return {
    name, url: `http://${name}:11434`, origin: `http://${name}:11434`, host: `${name}:11434`,
    dispatcher: {} as unknown as Dispatcher, health: { up: true, checkedAt: 0 },
  };
}

interface NodeInit {
  parallel?: number;
  maxLoaded?: number;
  installed?: string[];
  resident?: string[];
  loading?: string[];
  running?: Record<string, number>;
  /** How long ago the running requests started (ms; default 0: just now). */
  startedAgo?: number;
  up?: boolean;
  tagsAt?: number;
}

function node(name: string, o: NodeInit = {}): FleetNode {
  const n = new FleetNode(target(name), o.parallel ?? 1, o.maxLoaded ?? 1, new Breaker(3, 1000));
  for (const m of o.installed ?? [M]) n.installed.set(m, { name: m });
  n.tagsAt = o.tagsAt ?? NOW - 1000;
  for (const m of o.resident ?? []) n.resident.set(m, { expiresAt: Infinity, loading: false, entry: null });
  for (const m of o.loading ?? []) n.resident.set(m, { expiresAt: Infinity, loading: true, entry: null });
  for (const [m, k] of Object.entries(o.running ?? {})) {
    n.inFlight += k;
    for (let i = 0; i < k; i++) n.model(m).starts.push(NOW - (o.startedAgo ?? 0));
  }
  n.up = o.up ?? true;
  return n;
}

function demand(waiting: Record<string, number> = {}, recent: string[] = []): Demand {
  return { waiting: (m) => waiting[m] ?? 0, recentlyUsed: (m) => recent.includes(m) };
}

const q = (model = M, occupies = true, exclude: FleetNode | null = null): PlacementQuestion => ({ model, occupies, exclude });

function onNode(p: Placement): Extract<Placement, { kind: 'node' }> {
  assert.equal(p.kind, 'node', `expected a node, got ${JSON.stringify(p.kind)}`);
  return p as Extract<Placement, { kind: 'node' }>;
}

describe('place: resident before cold', () => {
  it('a node where the model is resident with a free slot wins over a cold node listed first', () => {
    const cold = node('cold', { maxLoaded: 2 });
    const warm = node('warm', { resident: [M] });
    cold.learnLoad(M, 1); // even a very cheap load is not free
    const p = onNode(place([cold, warm], q(), demand(), NOW));
    assert.equal(p.node, warm);
    assert.equal(p.cold, false);
    assert.equal(p.evicts, null);
  });

  it('with no resident node, the cold node is chosen and marked cold', () => {
    const a = node('a', { maxLoaded: 2, resident: [X] });
    const p = onNode(place([a], q(), demand(), NOW));
    assert.equal(p.node, a);
    assert.equal(p.cold, true);
    assert.equal(p.evicts, null, 'room left (1 of 2 loaded): nothing evicted');
  });

  it('among resident nodes with free slots, the one with fewer running for the model', () => {
    const busy = node('busy', { parallel: 4, resident: [M], running: { [M]: 2 } });
    const idle = node('idle', { parallel: 4, resident: [M], running: { [M]: 1 } });
    assert.equal(onNode(place([busy, idle], q(), demand(), NOW)).node, idle);
  });

  it('a model still loading (sent by Gatehouse) costs half its load: preferred to a full cold load elsewhere', () => {
    const loading = node('loading', { parallel: 2, loading: [M], running: { [M]: 1 } });
    const cold = node('cold', { maxLoaded: 2 });
    loading.learnLoad(M, 4000);
    cold.learnLoad(M, 3000);
    const p = onNode(place([cold, loading], q(), demand(), NOW));
    assert.equal(p.node, loading, '4000 / 2 + 1 < 3000');
    assert.equal(p.cold, false);
  });

  it('requests that do not occupy a slot go to the least busy node that has the model, resident or not', () => {
    const a = node('a', { resident: [M], running: { [M]: 1 } }); // full for inference
    const b = node('b', { resident: [X], running: { [X]: 1 } });
    b.inFlight = 0; // b: model not resident, nothing in flight
    a.inFlight = 3;
    const p = onNode(place([a, b], q(M, false), demand(), NOW));
    assert.equal(p.node, b);
    assert.equal(p.cold, false);
    assert.equal(p.evicts, null);
    // and a full node is fine for them (no slot taken)
    assert.equal(onNode(place([a], q(M, false), demand(), NOW)).node, a);
  });
});

describe('place: waiting for a resident node versus loading elsewhere', () => {
  it('waits when the learned load elsewhere costs more than the expected drain', () => {
    const full = node('full', { resident: [M], running: { [M]: 1 } });
    const cold = node('cold', { maxLoaded: 2 });
    full.learnService(M, 1000);
    cold.learnLoad(M, 8000);
    assert.equal(place([full, cold], q(), demand(), NOW).kind, 'wait');
  });

  it('loads elsewhere when the load is cheap', () => {
    // wait: the running request ends in 1000 ms; load: 300 × 2 (a load must save twice its cost) = 600
    const full = node('full', { resident: [M], running: { [M]: 1 } });
    const cold = node('cold', { maxLoaded: 2 });
    full.learnService(M, 1000);
    cold.learnLoad(M, 300);
    const p = onNode(place([full, cold], q(), demand(), NOW));
    assert.equal(p.node, cold);
    assert.equal(p.cold, true);
  });

  it('defaults: a slow load (5 s) against a 2 s request: wait', () => {
    assert.ok(DEFAULT_LOAD_MS > DEFAULT_SERVICE_MS);
    const full = node('full', { resident: [M], running: { [M]: 1 } });
    const cold = node('cold', { maxLoaded: 2 });
    assert.equal(place([full, cold], q(), demand(), NOW).kind, 'wait');
  });

  it('the drain grows with the requests already waiting: with enough of them, loading elsewhere wins', () => {
    const full = node('full', { resident: [M], running: { [M]: 1 } });
    const cold = node('cold', { maxLoaded: 2 });
    // wait = 2000 (the running one ends) + 2000 × waiting / 1 slot; load = 5000 × 2
    assert.equal(place([full, cold], q(), demand({ [M]: 3 }), NOW).kind, 'wait', '8000 < 10000');
    const p = onNode(place([full, cold], q(), demand({ [M]: 5 }), NOW));
    assert.equal(p.node, cold, '12000 > 10000');
  });

  it('the wait counts from the running requests\' starts, and the queue ahead divides by the slots', () => {
    // Started 3000 ms ago with a 4000 ms service: the first slot frees in 1000 ms.
    const full = node('full', { parallel: 4, resident: [M], running: { [M]: 4 }, startedAgo: 3000 });
    const cold = node('cold', { maxLoaded: 2 });
    full.learnService(M, 4000);
    cold.learnLoad(M, 1500);
    assert.equal(place([full, cold], q(), demand(), NOW).kind, 'wait', '1000 < 3000');
    assert.equal(place([full, cold], q(), demand({ [M]: 1 }), NOW).kind, 'wait', '1000 + 4000 × 1 / 4 = 2000 < 3000');
    assert.equal(onNode(place([full, cold], q(), demand({ [M]: 2 }), NOW)).node, cold, 'a tie (3000): serving now wins');
    assert.equal(onNode(place([full, cold], q(), demand({ [M]: 3 }), NOW)).node, cold, '1000 + 4000 × 3 / 4 = 4000 > 3000');
    const fresh = node('fresh', { parallel: 4, resident: [M], running: { [M]: 4 } });
    fresh.learnService(M, 4000);
    assert.equal(onNode(place([fresh, cold], q(), demand(), NOW)).node, cold, 'just started: 4000 > 3000');
  });

  it('only a full resident node and nothing else: wait', () => {
    const full = node('full', { resident: [M], running: { [M]: 1 } });
    assert.equal(place([full], q(), demand(), NOW).kind, 'wait');
  });
});

describe('place: a request that has waited long', () => {
  it('takes a load at its plain cost, and may evict a model in demand, once it has waited twice a load', () => {
    const full = node('full', { resident: [M], running: { [M]: 1 } });
    const cold = node('cold', { maxLoaded: 1, resident: [V], installed: [M, V] });
    full.learnService(M, 1500);
    cold.learnLoad(M, 1000);
    cold.learnLoad(V, 1000);
    // new: wait 1500 < load 1000 × 2 + V's reload 1000 (V was used recently)
    assert.equal(place([full, cold], q(), demand({}, [V]), NOW).kind, 'wait');
    assert.equal(place([full, cold], { ...q(), waitedMs: 1500 }, demand({}, [V]), NOW).kind, 'wait', 'not yet twice a load');
    // waited 2500 > 2 × 1000: load 1000, no penalty for V: 1000 < 1500
    const p = onNode(place([full, cold], { ...q(), waitedMs: 2500 }, demand({}, [V]), NOW));
    assert.equal(p.node, cold);
    assert.equal(p.evicts, V);
  });
});

describe('place: eviction', () => {
  it('a node whose only loaded model is busy is no candidate (Ollama would queue the load)', () => {
    const busy = node('busy', { maxLoaded: 1, resident: [X], running: { [X]: 1 } });
    const far = node('far', { maxLoaded: 1 });
    busy.learnLoad(M, 5000);
    far.learnLoad(M, 3000);
    const p = onNode(place([busy, far], q(), demand(), NOW));
    assert.equal(p.node, far);
    assert.equal(p.evicts, null);
    assert.equal(busy.resident.has(X), true);
    // alone, it gets no request now (the request waits in Gatehouse's queue)
    const alone = place([busy], q(), demand(), NOW);
    assert.notEqual(alone.kind, 'node');
    assert.ok(alone.kind !== 'missing' && alone.kind !== 'unavailable', alone.kind);
  });

  it('a model still loading is no victim either', () => {
    const n = node('n', { maxLoaded: 1, loading: [X] });
    const p = place([n], q(), demand(), NOW);
    assert.notEqual(p.kind, 'node');
    assert.ok(p.kind !== 'missing' && p.kind !== 'unavailable', p.kind);
  });

  it('a full node evicts its least recently used idle model', () => {
    const n = node('n', { maxLoaded: 2, resident: [V, X] });
    n.model(V).lastUsed = NOW - 5000;
    n.model(X).lastUsed = NOW - 1000;
    const p = onNode(place([n], q(), demand(), NOW));
    assert.equal(p.cold, true);
    assert.equal(p.evicts, V);
  });

  it("adds the victim's reload cost when the victim is in demand and loaded nowhere else", () => {
    // A load counts twice (LOAD_BIAS). full: load M 1000 → 2000, evicts V (load 1000 there): 3000 if V
    // is in demand. roomy: load M 1400 → 2800, nothing evicted.
    const mk = (): [FleetNode, FleetNode] => {
      const full = node('full', { maxLoaded: 1, resident: [V], installed: [M, V] });
      full.learnLoad(M, 1000);
      full.learnLoad(V, 1000);
      const roomy = node('roomy', { maxLoaded: 2, installed: [M, V] });
      roomy.learnLoad(M, 1400);
      return [full, roomy];
    };
    {
      const [full, roomy] = mk();
      const p = onNode(place([full, roomy], q(), demand(), NOW));
      assert.equal(p.node, full, 'victim not in demand: 2000 < 2800');
      assert.equal(p.evicts, V);
    }
    {
      const [full, roomy] = mk();
      assert.equal(onNode(place([full, roomy], q(), demand({ [V]: 1 }), NOW)).node, roomy, 'victim waited for: 3000 > 2800');
    }
    {
      const [full, roomy] = mk();
      assert.equal(onNode(place([full, roomy], q(), demand({}, [V]), NOW)).node, roomy, 'victim used recently: 3000 > 2800');
    }
    {
      const [full, roomy] = mk();
      roomy.resident.set(V, { expiresAt: Infinity, loading: false, entry: null });
      const p = onNode(place([full, roomy], q(), demand({ [V]: 1 }), NOW));
      assert.equal(p.node, full, 'victim also loaded on another node that is up: no reload cost');
    }
    {
      const [full, roomy] = mk();
      const third = node('third', { installed: [V], resident: [V], up: false });
      const p = onNode(place([full, roomy, third], q(), demand({ [V]: 1 }), NOW));
      assert.equal(p.node, roomy, 'the other copy is on a node that is down: it does not count');
    }
  });
});

describe('place: refusals', () => {
  it('missing: no node has the model, and every node is known', () => {
    const a = node('a', { installed: [X] });
    const b = node('b', { installed: [] });
    assert.equal(place([a, b], q(GHOST), demand(), NOW).kind, 'missing');
    assert.equal(place([a, b], q(GHOST, false), demand(), NOW).kind, 'missing');
  });

  it('unavailable, not missing, while some node has not been read yet (tagsAt 0)', () => {
    const a = node('a', { installed: [X] });
    const unread = node('unread', { installed: [], tagsAt: 0, up: false });
    const p = place([a, unread], q(GHOST), demand(), NOW);
    assert.deepEqual(p, { kind: 'unavailable', retryAt: NOW + 1000 });
  });

  it('an unread node does not stop a node that has the model from serving it', () => {
    const a = node('a', { resident: [M] });
    const unread = node('unread', { installed: [], tagsAt: 0 });
    assert.equal(onNode(place([unread, a], q(), demand(), NOW)).node, a);
  });

  it('unavailable when every holder is down or breaker-open, retryAt the earliest openUntil', () => {
    const down = node('down', { resident: [M], up: false });
    const open5 = node('open5', { resident: [M] });
    const open3 = node('open3', { resident: [M] });
    open5.breaker.failure(NOW - 100, true, 5000);
    open3.breaker.failure(NOW - 100, true, 3000);
    const other = node('other', { installed: [X], resident: [X] }); // up, free, but no M
    const p = place([down, open5, open3, other], q(), demand(), NOW);
    assert.deepEqual(p, { kind: 'unavailable', retryAt: NOW - 100 + 3000 });
    assert.deepEqual(place([down, open5, open3, other], q(M, false), demand(), NOW), p, 'also for requests that take no slot');
  });

  it('unavailable with retryAt one second on when the holders are down with no open breaker', () => {
    const a = node('a', { resident: [M], up: false });
    const b = node('b', { up: false });
    assert.deepEqual(place([a, b], q(), demand(), NOW), { kind: 'unavailable', retryAt: NOW + 1000 });
  });

  it('a half-open node whose trial is out is skipped too', () => {
    const a = node('a', { resident: [M] });
    a.breaker.failure(NOW - 2000, true, null); // open until NOW - 1000
    assert.equal(a.breaker.allows(NOW), true);
    a.breaker.dispatched();
    const p = place([a], q(), demand(), NOW);
    assert.equal(p.kind, 'unavailable');
  });

  it('a breaker past its open time lets the node be chosen (the trial)', () => {
    const a = node('a', { resident: [M] });
    const b = node('b', { resident: [M], running: { [M]: 1 } });
    a.breaker.failure(NOW - 5000, true, null);
    assert.equal(onNode(place([a, b], q(), demand(), NOW)).node, a);
  });

  it('the excluded node (a retry) is never chosen; when it is the only holder the answer is not a node', () => {
    const a = node('a', { resident: [M] });
    const b = node('b', { resident: [M], parallel: 4, running: { [M]: 3 } });
    assert.equal(onNode(place([a, b], q(M, true, a), demand(), NOW)).node, b);
    assert.notEqual(place([a], q(M, true, a), demand(), NOW).kind, 'node');
  });
});

describe('place: never a node without the model, never a full slot (exhaustive over small states)', () => {
  it('holds for every combination of residency, running, up and breaker on two nodes', () => {
    let cases = 0;
    const states: NodeInit[] = [
      { installed: [] as string[] },
      { installed: [M] },
      { installed: [M], resident: [M] },
      { installed: [M], resident: [M], running: { [M]: 1 } },
      { installed: [M], resident: [M], running: { [M]: 2 } },
      { installed: [M, X], resident: [X] },
      { installed: [M, X], resident: [X], running: { [X]: 1 } },
      { installed: [M], loading: [M], running: { [M]: 1 } },
    ];
    for (const sa of states) for (const sb of states) for (const upA of [true, false]) for (const openB of [true, false]) for (const occupies of [true, false]) {
      const a = node('a', { ...sa, parallel: 2, maxLoaded: 1, up: upA });
      const b = node('b', { ...sb, parallel: 2, maxLoaded: 1 });
      if (openB) b.breaker.failure(NOW, true, null);
      const p = place([a, b], q(M, occupies), demand(), NOW);
      cases++;
      if (p.kind === 'node') {
        assert.ok(p.node.installed.has(M));
        assert.ok(p.node.up);
        assert.notEqual(p.node, openB ? b : null, 'never a node whose breaker is open');
        if (occupies) assert.ok(p.node.runningOf(M) < p.node.parallel);
      }
      if (p.kind === 'missing') assert.ok(!a.installed.has(M) && !b.installed.has(M));
    }
    assert.equal(cases, 8 * 8 * 2 * 2 * 2);
  });
});
