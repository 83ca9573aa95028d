// Property-based checks of the fleet's invariants (fleet/fleet.ts over fleet/router.ts): a Fleet
// over an UpstreamSet with fake dispatchers is driven through random sequences of what happens to
// it (polls of /api/tags and /api/ps, nodes going up and down, requests acquiring, ending with
// every kind of result, retrying elsewhere, clients leaving the queue, time passing), and after
// every step:
//   - a slot granted in that step is on a node that is up, has the model installed, and whose
//     breaker is not open (before openUntil); a half-open node gets at most one;
//   - per node and model, the running count equals the outstanding slots and is ≤ parallel;
//     inFlight equals the outstanding slots on the node;
//   - a model installed nowhere is 'missing' when every node's tags are known (unavailable otherwise);
//   - the queue's size and per-model waiting counts match the waiters not yet settled;
// and at the end, once everything running has been given back, the queue drains to 0.
// Deterministic: seeded, fake clock, no network, no timers run (the test only awaits microtasks).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Dispatcher } from 'undici';
import type { UpstreamAddress } from '../config/resolved.js';
import { GatewayError } from '../core/errors.js';
import { UpstreamSet, type UpstreamSpec } from '../proxy/upstream-set.js';
import { Fleet, type Slot, type SlotResult, type Waiting } from './fleet.js';
import type { FleetNode } from './node.js';
import { readPs, readTags } from './poller.js';

const T0 = 1_700_000_000_000;
const SHORT = ['ma', 'mb', 'mc'];
const MODELS = SHORT.map((s) => `registry.ollama.ai/library/${s}:latest`);
const GHOST = 'registry.ollama.ai/library/ghost:latest';
const PIDS = ['p0', 'p1', 'p2'];
const BREAKER_MS = 1000;
const timeouts = { connectMs: 1000, headersMs: 1000, bodyMs: 1000 };
const fakeDispatcher = (): Dispatcher => ({ close: async () => {} }) as unknown as Dispatcher;

interface NodeCfg {
  parallel: number;
  maxLoaded: number;
  up: boolean;
  /** null: /api/tags not read yet. */
  tags: number[] | null;
  ps: number[];
}

function buildFleet(cfgs: readonly NodeCfg[], now: () => number, queueMax = 1000): Fleet {
  const specs: UpstreamSpec[] = cfgs.map((_, i) => ({ name: `n${i}`, url: `http://n${i}:11434`, origin: `http://n${i}:11434`, host: `n${i}:11434` }));
  const set = new UpstreamSet(specs, { timeouts, dispatcher: fakeDispatcher });
  const addresses: UpstreamAddress[] = specs.map((s, i) => ({ ...s, hostname: `n${i}`, port: 11434, tls: false, parallel: cfgs[i]!.parallel, maxLoaded: cfgs[i]!.maxLoaded }));
  // queueWaitMs is far beyond any test: expiry uses performance.now(), which the test does not control.
  return new Fleet(set, addresses, { queueMax, queueWaitMs: 3_600_000, breakerFailures: 2, breakerOpenMs: BREAKER_MS, now });
}

/** A /api/tags or /api/ps body naming these models (both spellings Ollama uses). */
const body = (idx: readonly number[]) => ({ models: idx.map((i, k) => (k % 2 ? { name: SHORT[i]! } : { model: `${SHORT[i]}:latest`, name: `${SHORT[i]}:latest` })) });

// ---- results a node can give a request ----

const base: SlotResult = { status: 200, failed: false, abandoned: false, retryAfterMs: null, loadNs: null, ttfbMs: 5, unload: false, message: null };
type ResultKind = 'ok' | 'ok-cold' | 'ok-unload' | '503' | '503-ra' | '500' | '404' | 'connect' | 'reset' | 'abandoned';
const resultOf = (k: ResultKind): SlotResult => {
  switch (k) {
    case 'ok': return { ...base };
    case 'ok-cold': return { ...base, loadNs: 3_000_000_000, ttfbMs: 3000 };
    case 'ok-unload': return { ...base, unload: true };
    case '503': return { ...base, status: 503, ttfbMs: 1 };
    case '503-ra': return { ...base, status: 503, retryAfterMs: 4000, ttfbMs: 1 };
    case '500': return { ...base, status: 500 };
    case '404': return { ...base, status: 404 };
    case 'connect': return { ...base, status: 0, failed: true, ttfbMs: null, message: 'ECONNREFUSED' };
    case 'reset': return { ...base, status: 0, failed: true, ttfbMs: null, message: 'ECONNRESET' };
    case 'abandoned': return { ...base, status: 0, abandoned: true, ttfbMs: null };
  }
};
/** Every result but a request the client abandoned: see the todo property below. */
const RESULTS: ResultKind[] = ['ok', 'ok', 'ok', 'ok-cold', 'ok-unload', '503', '503-ra', '500', '404', 'connect', 'reset'];
const RESULTS_WITH_ABANDONED: ResultKind[] = [...RESULTS, 'abandoned'];
const FAILURES: ResultKind[] = ['503', '503-ra', 'connect', 'reset'];

// ---- operations ----

type Op =
  | { k: 'tags'; node: number; models: number[] }
  | { k: 'ps'; node: number; models: number[] }
  | { k: 'up'; node: number; up: boolean }
  | { k: 'probe'; node: number }
  | { k: 'acquire'; model: number; pid: number; occupies: boolean }
  | { k: 'any' }
  | { k: 'release'; i: number; r: ResultKind }
  | { k: 'retry'; i: number; r: ResultKind }
  | { k: 'abandon'; i: number }
  | { k: 'tick'; ms: number };

const NODES = 3;
const nodeIx = fc.nat(NODES - 1);
const modelSet = fc.subarray([0, 1, 2]);

function opArb(results: ResultKind[]): fc.Arbitrary<Op> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.record({ k: fc.constant('tags' as const), node: nodeIx, models: modelSet }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('ps' as const), node: nodeIx, models: modelSet }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('up' as const), node: nodeIx, up: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('probe' as const), node: nodeIx }) },
    // index 3 is the ghost: installed nowhere
    { weight: 12, arbitrary: fc.record({ k: fc.constant('acquire' as const), model: fc.nat(3), pid: fc.nat(PIDS.length - 1), occupies: fc.constantFrom(true, true, true, false) }) },
    { weight: 1, arbitrary: fc.constant({ k: 'any' as const }) },
    { weight: 6, arbitrary: fc.record({ k: fc.constant('release' as const), i: fc.nat(), r: fc.constantFrom(...results) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('retry' as const), i: fc.nat(), r: fc.constantFrom(...FAILURES) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('abandon' as const), i: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('tick' as const), ms: fc.oneof(fc.integer({ min: 0, max: 1500 }), fc.integer({ min: 0, max: 1500 }), fc.integer({ min: 0, max: 40_000 })) }) },
  );
}

const nodeCfg: fc.Arbitrary<NodeCfg> = fc.record({
  parallel: fc.integer({ min: 1, max: 3 }),
  maxLoaded: fc.integer({ min: 1, max: 3 }),
  up: fc.constantFrom(true, true, true, false),
  tags: fc.option(modelSet, { freq: 6 }),
  ps: modelSet,
});

// ---- the simulation ----

interface Queued {
  w: Waiting;
  model: string;
  pid: string;
  occupies: boolean;
  settled: 'slot' | 'refused' | 'abandoned' | null;
}

class Sim {
  now = T0;
  readonly fleet: Fleet;
  outstanding: Slot[] = [];
  readonly queued: Queued[] = [];
  /** Slots granted during the current step. */
  fresh: Slot[] = [];
  readonly log: string[] = [];
  grants = 0;
  refusals = 0;
  maxRunning = 0;
  openBefore: (number | null)[] = [];
  /** Slots granted while their node was half-open (trials), with the breaker's open count then. */
  readonly trials = new WeakMap<Slot, number>();
  op: Op | null = null;
  /** Failures seen in promise callbacks, reported by check(). */
  readonly errors: string[] = [];

  constructor(readonly cfgs: readonly NodeCfg[]) {
    this.fleet = buildFleet(cfgs, () => this.now);
    cfgs.forEach((c, i) => {
      const n = this.fleet.nodes[i]!;
      n.up = c.up;
      if (c.tags) readTags(n, body(c.tags), this.now);
      readPs(n, body(c.ps), this.now);
    });
  }

  #granted(s: Slot): void {
    this.outstanding.push(s);
    this.fresh.push(s);
    this.grants++;
  }

  async step(op: Op): Promise<void> {
    this.fresh = [];
    // which breakers were open (before their openUntil) when the step began
    this.openBefore = this.fleet.nodes.map((n) => (n.breaker.state === 'open' && this.now < n.breaker.openUntil ? n.breaker.openUntil : null));
    this.op = op;
    this.log.push(JSON.stringify(op));
    const f = this.fleet;
    switch (op.k) {
      case 'tags':
        readTags(f.nodes[op.node]!, body(op.models), this.now);
        f.drain(); // the poller drains after each poll
        break;
      case 'ps':
        readPs(f.nodes[op.node]!, body(op.models), this.now);
        f.drain();
        break;
      case 'up':
        f.nodes[op.node]!.up = op.up;
        f.drain();
        break;
      case 'probe': {
        const n = f.nodes[op.node]!;
        n.up = true;
        n.breaker.probeSucceeded(this.now);
        f.drain();
        break;
      }
      case 'acquire': {
        const model = op.model < MODELS.length ? MODELS[op.model]! : GHOST;
        const installedAnywhere = f.nodes.some((n) => n.installed.has(model));
        const allKnown = f.nodes.every((n) => n.tagsAt !== 0);
        const r = f.acquire({ model, occupies: op.occupies, exclude: null }, PIDS[op.pid]!);
        if (!installedAnywhere) {
          if (allKnown) assert.equal(r, 'missing', 'installed nowhere, every node known: missing');
          else assert.ok(r instanceof GatewayError && r.code === 'GW_ERR_NODE_UNAVAILABLE', 'installed nowhere known, a node unread: unavailable');
        }
        if (r === 'missing') assert.ok(!installedAnywhere, 'missing only when no node has the model');
        else if (r instanceof GatewayError) this.refusals++;
        else if ('slot' in r) {
          const q: Queued = { w: r, model, pid: PIDS[op.pid]!, occupies: op.occupies, settled: null };
          this.queued.push(q);
          void r.slot.then((s) => {
            if (s instanceof GatewayError) {
              q.settled = 'refused';
              this.refusals++;
            } else {
              if (s.model !== q.model || s.occupies !== q.occupies) this.errors.push(`a waiter for ${q.model} got a slot for ${s.model}`);
              q.settled = 'slot';
              this.#granted(s);
            }
          });
        } else {
          assert.equal(r.model, model);
          this.#granted(r);
        }
        break;
      }
      case 'any': {
        const r = f.any();
        if (!(r instanceof GatewayError)) {
          assert.equal(r.model, null);
          this.#granted(r);
        } else assert.ok(f.nodes.every((n) => !n.up || (n.breaker.state !== 'closed' && !n.breaker.allows(this.now))));
        break;
      }
      case 'release': {
        if (this.outstanding.length === 0) break;
        const [s] = this.outstanding.splice(op.i % this.outstanding.length, 1);
        f.release(s!, resultOf(op.r));
        break;
      }
      case 'retry': {
        if (this.outstanding.length === 0) break;
        const [s] = this.outstanding.splice(op.i % this.outstanding.length, 1);
        // as fleet/placed.ts does it: the retry is placed while the failed slot is still held, then it is given back
        const r = f.retry(s!, 'p-retry');
        // A retry that has to wait is a queued request like any other (abandoned here: the client left).
        if (r && 'slot' in r) r.abandon();
        const next = r && !('slot' in r) ? r : null;
        if (next) {
          assert.notEqual(next.node, s!.node, 'a retry goes to another node');
          assert.equal(next.model, s!.model);
          this.#granted(next);
        }
        f.release(s!, resultOf(op.r));
        break;
      }
      case 'abandon': {
        const open = this.queued.filter((q) => q.settled === null);
        if (open.length === 0) break;
        const q = open[op.i % open.length]!;
        q.w.abandon();
        q.settled = 'abandoned';
        break;
      }
      case 'tick':
        this.now += op.ms;
        f.drain(); // what the fleet's own timer does while anyone waits
        break;
    }
    await flush();
    this.check();
  }

  check(): void {
    const f = this.fleet;
    assert.deepEqual(this.errors, []);
    for (const s of this.fresh) {
      const n = s.node;
      assert.ok(n.up, `granted on ${n.name}, which is down`);
      if (s.model !== null) assert.ok(n.installed.has(s.model), `granted ${s.model} on ${n.name}, which does not have it`);
      assert.ok(!(n.breaker.state === 'open' && this.now < n.breaker.openUntil), `granted on ${n.name}, whose breaker is open`);
      const i = f.nodes.indexOf(n);
      const until = this.openBefore[i];
      if (until != null && this.now < until) {
        // open when the step began: only a success of a request already there (closing it), or the
        // probe reaching a node whose breaker opened on connect failures, may let a request through
        const probed = this.op?.k === 'probe' && this.op.node === i && n.breaker.openUntil <= this.now;
        assert.ok(n.breaker.state === 'closed' || probed, `granted on ${n.name}, whose breaker was open until ${until - T0} (now ${this.now - T0})`);
      }
    }
    for (const n of f.nodes) {
      const mine = this.outstanding.filter((s) => s.node === n);
      assert.equal(n.inFlight, mine.length, `${n.name}: inFlight = outstanding slots`);
      if (n.breaker.state === 'half-open') {
        for (const s of this.fresh) if (s.node === n) this.trials.set(s, n.breaker.opens);
        const out = mine.filter((s) => this.trials.get(s) === n.breaker.opens).length;
        assert.ok(out <= 1, `${n.name}: half-open with ${out} trials out`);
      }
      const counted = new Map<string, number>();
      for (const s of mine) if (s.occupies && s.model !== null) counted.set(s.model, (counted.get(s.model) ?? 0) + 1);
      const running = new Map([...n.models].filter(([, r]) => r.running > 0).map(([m, r]) => [m, r.running]));
      assert.deepEqual(running, counted, `${n.name}: running per model = outstanding slots`);
      for (const [m, k] of running) {
        assert.ok(k <= n.parallel, `${n.name}: ${k} running for ${m}, parallel ${n.parallel}`);
        if (k > this.maxRunning) this.maxRunning = k;
      }
    }
    const open = this.queued.filter((q) => q.settled === null);
    assert.equal(f.queued, open.length, 'queue size = unsettled waiters');
    for (const m of [...MODELS, GHOST]) assert.equal(f.waiting(m), open.filter((q) => q.model === m).length, `waiting(${m})`);
  }

  /** Gives back everything running, as the fleet's timer would drain meanwhile, until nothing waits. */
  async settleAll(): Promise<void> {
    const f = this.fleet;
    for (let round = 0; round < 50 && (f.queued > 0 || this.outstanding.length > 0); round++) {
      this.fresh = [];
      for (const s of this.outstanding.splice(0)) f.release(s, resultOf('ok'));
      f.drain();
      await flush();
      this.check();
    }
    assert.equal(f.queued, 0, 'the queue drained once capacity freed');
    assert.equal(this.outstanding.length, 0);
    assert.ok(this.queued.every((q) => q.settled !== null), 'every waiter was granted, refused or left');
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 4; i++) await Promise.resolve();
}

async function run(cfgs: NodeCfg[], ops: Op[]): Promise<Sim> {
  const sim = new Sim(cfgs);
  try {
    sim.check();
    for (const op of ops) await sim.step(op);
    await sim.settleAll();
    return sim;
  } finally {
    sim.fleet.close();
  }
}

describe('Fleet (properties)', () => {
  it('never a node without the model, never more than parallel, no slot through an open breaker, the queue drains', async () => {
    let grants = 0;
    let queuedTotal = 0;
    let maxRunning = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(nodeCfg, { minLength: NODES, maxLength: NODES }), fc.array(opArb(RESULTS), { minLength: 10, maxLength: 120, size: 'max' }), async (cfgs, ops) => {
        const sim = await run(cfgs, ops);
        grants += sim.grants;
        queuedTotal += sim.queued.length;
        maxRunning = Math.max(maxRunning, sim.maxRunning);
      }),
      { numRuns: 400, seed: 0x6a7e },
    );
    // the runs exercised what they claim to: slots were granted and requests did wait
    assert.ok(grants > 2000, `grants: ${grants}`);
    assert.ok(queuedTotal > 200, `queued: ${queuedTotal}`);
    assert.ok(maxRunning >= 3, `some node ran 3 requests for one model at once: ${maxRunning}`);
    if (process.env.FLEET_STATS) console.log({ grants, queuedTotal, maxRunning });
  });

  it('the same, with requests that the client abandoned among the results', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(nodeCfg, { minLength: NODES, maxLength: NODES }), fc.array(opArb(RESULTS_WITH_ABANDONED), { minLength: 10, maxLength: 120, size: 'max' }), async (cfgs, ops) => {
        await run(cfgs, ops);
      }),
      { numRuns: 400, seed: 0x6a7e },
    );
  });
});

describe('Fleet queue fairness (properties)', () => {
  it('a principal with one waiter is served after at most one grant to each other waiting principal', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }), // parallel
        fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 3 }), // how many each heavy principal queues
        fc.nat(), // where among the heavy waiters the single one joins
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }), // which running slot ends next
        async (parallel, heavies, joinAt, order) => {
          let now = T0;
          const f = buildFleet([{ parallel, maxLoaded: 1, up: true, tags: [0], ps: [0] }], () => now);
          const n = f.nodes[0]!;
          n.up = true;
          readTags(n, body([0]), now);
          readPs(n, body([0]), now);
          try {
            const q = { model: MODELS[0]!, occupies: true, exclude: null };
            let running: Slot[] = [];
            for (let i = 0; i < parallel; i++) {
              const s = f.acquire(q, 'holder');
              assert.ok(!(s instanceof GatewayError) && s !== 'missing' && !('slot' in s));
              running.push(s);
            }
            const grants: string[] = [];
            const track = (pid: string) => {
              const r = f.acquire(q, pid);
              assert.ok(typeof r === 'object' && 'slot' in r, 'full: waits');
              void r.slot.then((s) => {
                if (s instanceof GatewayError) grants.push(`refused:${pid}`);
                else {
                  grants.push(pid);
                  running.push(s);
                }
              });
            };
            // heavy principals queue round-robin-interleaved; the single one joins at joinAt
            const total = heavies.reduce((a, b) => a + b, 0);
            const at = joinAt % (total + 1);
            let queuedSoFar = 0;
            const left = heavies.slice();
            let single = false;
            while (left.some((k) => k > 0) || !single) {
              if (!single && queuedSoFar === at) {
                track('single');
                single = true;
                continue;
              }
              for (let h = 0; h < left.length; h++) {
                if (left[h]! > 0) {
                  track(`heavy${h}`);
                  left[h]!--;
                  queuedSoFar++;
                  if (!single && queuedSoFar === at) break;
                }
              }
            }
            assert.equal(f.queued, total + 1);
            const heaviesWaitingWhenSingleJoined = new Set<string>();
            // recompute: which heavy principals had waiters queued when the single one joined
            {
              let c = 0;
              const l = heavies.slice();
              outer: while (c < at) {
                for (let h = 0; h < l.length; h++) {
                  if (l[h]! > 0) {
                    heaviesWaitingWhenSingleJoined.add(`heavy${h}`);
                    l[h]!--;
                    c++;
                    if (c === at) break outer;
                  }
                }
              }
            }
            // capacity frees one slot at a time
            for (let i = 0; f.queued > 0; i++) {
              assert.ok(i < 10_000);
              const k = order[i % order.length]! % running.length;
              const [s] = running.splice(k, 1);
              now += 10;
              f.release(s!, resultOf('ok'));
              await flush();
            }
            const before = grants.slice(0, grants.indexOf('single'));
            for (const h of new Set(before)) {
              assert.ok(heaviesWaitingWhenSingleJoined.has(h) || before.filter((x) => x === h).length === 0, `${h} was not waiting yet`);
              assert.ok(before.filter((x) => x === h).length <= 1, `${h} got ${before.filter((x) => x === h).length} grants before the single waiter: ${grants.join(',')}`);
            }
            assert.equal(grants.length, total + 1, 'every waiter granted');
            running = [];
          } finally {
            f.close();
          }
        },
      ),
      { numRuns: 300, seed: 0xfa1e },
    );
  });
});
