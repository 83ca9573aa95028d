// The fleet (fleet/fleet.ts) on fixed scenarios: how much traffic a node answering instant 503s
// still gets (issue #20: at most 5% of what it would otherwise get), the gateway-owned queue
// (refusals, shutdown, leaving, draining), and what a request's end teaches the node state.
// Fake clock, fake dispatchers, no network, no timers (only microtasks are awaited).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Dispatcher } from 'undici';
import type { UpstreamAddress } from '../config/resolved.js';
import { GatewayError } from '../core/errors.js';
import { UpstreamSet, type UpstreamSpec } from '../proxy/upstream-set.js';
import { Fleet, type Slot, type SlotResult, type Waiting } from './fleet.js';
import { readPs, readTags } from './poller.js';

const T0 = 1_700_000_000_000;
const M = 'registry.ollama.ai/library/m:latest';
const timeouts = { connectMs: 1000, headersMs: 1000, bodyMs: 1000 };
const fakeDispatcher = (): Dispatcher => ({ close: async () => {} }) as unknown as Dispatcher;

interface Cfg {
  name: string;
  parallel: number;
  maxLoaded: number;
  /** short model names installed; resident ones too when `resident` */
  installed?: string[];
  resident?: string[];
  up?: boolean;
}

class Clock {
  t = T0;
  readonly now = (): number => this.t;
}

function fleetOf(cfgs: Cfg[], clock: Clock, o: { breakerOpenMs?: number; queueMax?: number; breakerFailures?: number } = {}): Fleet {
  const specs: UpstreamSpec[] = cfgs.map((c) => ({ name: c.name, url: `http://${c.name}:11434`, origin: `http://${c.name}:11434`, host: `${c.name}:11434` }));
  const set = new UpstreamSet(specs, { timeouts, dispatcher: fakeDispatcher });
  const addresses: UpstreamAddress[] = specs.map((s, i) => ({ ...s, hostname: s.name, port: 11434, tls: false, parallel: cfgs[i]!.parallel, maxLoaded: cfgs[i]!.maxLoaded }));
  const f = new Fleet(set, addresses, {
    queueMax: o.queueMax ?? 100, queueWaitMs: 3_600_000,
    breakerFailures: o.breakerFailures ?? 3, breakerOpenMs: o.breakerOpenMs ?? 2000, now: clock.now,
  });
  cfgs.forEach((c, i) => {
    const n = f.nodes[i]!;
    n.up = c.up ?? true;
    readTags(n, { models: (c.installed ?? ['m']).map((name) => ({ name })) }, clock.t);
    readPs(n, { models: (c.resident ?? []).map((name) => ({ name })) }, clock.t);
  });
  return f;
}

const result = (o: Partial<SlotResult> = {}): SlotResult => ({ status: 200, failed: false, abandoned: false, retryAfterMs: null, loadNs: null, ttfbMs: 5, unload: false, message: null, ...o });
const q = (model = M) => ({ model, occupies: true, exclude: null });

function slotOf(r: ReturnType<Fleet['acquire']>): Slot {
  assert.ok(typeof r === 'object' && !(r instanceof GatewayError) && !('slot' in r), `expected a slot at once, got ${r instanceof GatewayError ? r.code : JSON.stringify(r)}`);
  return r as Slot;
}
function waitingOf(r: ReturnType<Fleet['acquire']>): Waiting {
  assert.ok(typeof r === 'object' && 'slot' in r, 'expected to wait');
  return r as Waiting;
}
async function flush(): Promise<void> {
  for (let i = 0; i < 4; i++) await Promise.resolve();
}

// ---- shedding a node that answers every request with an instant 503 ----

interface ShedRun {
  /** Requests each node was sent (first attempts and retries). */
  sent: Record<string, number>;
  /** Where each request finally got its answer. */
  answeredBy: Record<string, number>;
  retries: number;
  failedRequests: number;
  /** When A was sent a request (ms since the start). */
  trialsAt: number[];
}

/**
 * `requests` requests spaced `gapMs` apart, each answered at once; `bad` answers 503 to every one,
 * and a request that got a 503 is retried once elsewhere as fleet/placed.ts does (retry placed while
 * the failed slot is held, then the failed slot given back).
 */
function shed(order: string[], bad: string, breakerOpenMs: number, requests = 600, gapMs = 10): ShedRun {
  const clock = new Clock();
  const f = fleetOf(order.map((name) => ({ name, parallel: 8, maxLoaded: 2, resident: ['m'] })), clock, { breakerOpenMs });
  const run: ShedRun = { sent: Object.fromEntries(order.map((n) => [n, 0])), answeredBy: Object.fromEntries(order.map((n) => [n, 0])), retries: 0, failedRequests: 0, trialsAt: [] };
  try {
    for (let i = 0; i < requests; i++) {
      clock.t = T0 + i * gapMs;
      let s = slotOf(f.acquire(q(), `p${i % 3}`));
      run.sent[s.node.name]!++;
      if (s.node.name === bad) {
        run.trialsAt.push(clock.t - T0);
        const r = f.retry(s, `p${i % 3}`);
        const next = r && !('slot' in r) ? r : null;
        if (r && 'slot' in r) r.abandon();
        f.release(s, result({ status: 503, ttfbMs: 1 }));
        if (!next) {
          run.failedRequests++;
          continue;
        }
        run.retries++;
        run.sent[next.node.name]!++;
        assert.notEqual(next.node.name, bad);
        s = next;
      }
      f.release(s, result());
      run.answeredBy[s.node.name]!++;
    }
  } finally {
    f.close();
  }
  return run;
}

describe('Fleet: a node answering instant 503s is shed', () => {
  const limitFor = (requests: number) => 0.05 * (requests / 3);

  for (const [label, order] of [['listed first (it wins every tie)', ['A', 'B', 'C']], ['listed last', ['B', 'C', 'A']]] as const) {
    it(`600 requests 10 ms apart, default breaker_open (2 s), A ${label}: A gets ≤ 5% of a third, every request ends on a 200 node`, () => {
      const r = shed([...order], 'A', 2000, 600, 10);
      assert.ok(r.sent.A! <= limitFor(600), `A was sent ${r.sent.A} requests (limit ${limitFor(600)})`);
      assert.equal(r.failedRequests, 0, 'every 503 was retried on a healthy node');
      assert.equal(r.answeredBy.A, 0);
      assert.equal(r.answeredBy.B! + r.answeredBy.C!, 600);
      assert.equal(r.retries, r.sent.A, 'each request A got was retried once');
    });
  }

  it('60 s of fake time (6000 requests 10 ms apart, or 600 requests 100 ms apart), default 2 s: A gets the trials at 0, 2, 6, 14, 30 s only', () => {
    for (const [requests, gap] of [[6000, 10], [600, 100]] as const) {
      const r = shed(['A', 'B', 'C'], 'A', 2000, requests, gap);
      assert.deepEqual(r.trialsAt, [0, 2000, 6000, 14_000, 30_000], `${requests} × ${gap} ms`);
      assert.ok(r.sent.A! <= limitFor(requests));
      assert.equal(r.failedRequests, 0);
      assert.equal(r.answeredBy.A, 0);
    }
  });

  it('breaker_open 1 s, 600 requests over 60 s: still within 5% (7 requests)', () => {
    const r = shed(['A', 'B', 'C'], 'A', 1000, 600, 100);
    assert.equal(r.sent.A, 7);
    assert.ok(r.sent.A! <= limitFor(600));
  });

  // breaker_open may not be configured below 1 s (config/schema.ts): once the open time reaches its
  // cap (16 × breaker_open) the node gets one trial per cap whatever the request rate, and below
  // 1 s that let more than 5% through (500 ms: 11 of 600, 5.5%; 100 ms: 41, 20.5%).
  it('breaker_open below 1 s is refused by the configuration', async () => {
    const { ConfigSchema } = await import('../config/schema.js');
    assert.equal(ConfigSchema.safeParse({ fleet: { breaker_open: '500ms' } }).success, false);
    assert.equal(ConfigSchema.safeParse({ fleet: { breaker_open: '1s' } }).success, true);
  });
});

// ---- the queue ----

describe('Fleet queue', () => {
  it('a full fleet queues; a release grants the head; the waiter gets the slot on the node that freed', async () => {
    const clock = new Clock();
    const f = fleetOf([{ name: 'a', parallel: 1, maxLoaded: 1, resident: ['m'] }], clock);
    const held = slotOf(f.acquire(q(), 'p0'));
    const w = waitingOf(f.acquire(q(), 'p1'));
    assert.equal(f.queued, 1);
    assert.equal(f.waiting(M), 1);
    let got = null as Slot | GatewayError | null;
    void w.slot.then((s) => (got = s));
    clock.t += 500;
    f.release(held, result());
    await flush();
    assert.ok(got !== null && !(got instanceof GatewayError));
    assert.equal((got as Slot).node, f.nodes[0]);
    assert.equal(f.queued, 0);
    assert.equal(f.waiting(M), 0);
    assert.equal(f.nodes[0]!.runningOf(M), 1);
    f.close();
  });

  it('refuses with GW_ERR_QUEUE_FULL when the queue holds queueMax waiters', () => {
    const clock = new Clock();
    const f = fleetOf([{ name: 'a', parallel: 1, maxLoaded: 1, resident: ['m'] }], clock, { queueMax: 2 });
    slotOf(f.acquire(q(), 'p'));
    waitingOf(f.acquire(q(), 'p'));
    waitingOf(f.acquire(q(), 'p'));
    const r = f.acquire(q(), 'p');
    assert.ok(r instanceof GatewayError);
    assert.equal(r.code, 'GW_ERR_QUEUE_FULL');
    assert.equal(f.queued, 2);
    f.close();
  });

  it('a waiter that leaves is out of the queue and out of the demand count; close() refuses the rest', async () => {
    const clock = new Clock();
    const f = fleetOf([{ name: 'a', parallel: 1, maxLoaded: 1, resident: ['m'] }], clock);
    slotOf(f.acquire(q(), 'p'));
    const w1 = waitingOf(f.acquire(q(), 'p'));
    const w2 = waitingOf(f.acquire(q(), 'p'));
    w1.abandon();
    assert.equal(f.queued, 1);
    assert.equal(f.waiting(M), 1);
    f.close();
    const r = await w2.slot;
    assert.ok(r instanceof GatewayError);
    assert.equal(r.code, 'GW_ERR_SHUTTING_DOWN');
    assert.equal(f.queued, 0);
  });

  it('a waiter whose only node goes down (connection refused) is refused, not left waiting', async () => {
    const clock = new Clock();
    const f = fleetOf([{ name: 'a', parallel: 1, maxLoaded: 1, resident: ['m'] }], clock);
    const held = slotOf(f.acquire(q(), 'p'));
    const w = waitingOf(f.acquire(q(), 'p'));
    f.release(held, result({ status: 0, failed: true, ttfbMs: null, message: 'ECONNREFUSED' }));
    assert.equal(f.nodes[0]!.up, false, 'a failed connection marks the node down at once');
    const r = await w.slot;
    assert.ok(r instanceof GatewayError);
    assert.equal(r.code, 'GW_ERR_NODE_UNAVAILABLE');
    f.close();
  });

  // When capacity for several appears at once (a node comes up, a poll shows a model loaded, a
  // breaker half-opens), one drain() serves all it can, in rounds of one grant per key, and a new
  // request that arrives after finds nobody to pass.
  it('when a node with room comes up, one drain() serves every waiter it can take', async () => {
    const clock = new Clock();
    const f = fleetOf([
      { name: 'a', parallel: 1, maxLoaded: 1, resident: ['m'] },
      { name: 'b', parallel: 4, maxLoaded: 1, resident: ['m'], up: false },
    ], clock);
    slotOf(f.acquire(q(), 'p0'));
    const ws = [waitingOf(f.acquire(q(), 'p1')), waitingOf(f.acquire(q(), 'p1')), waitingOf(f.acquire(q(), 'p1'))];
    let granted = 0;
    for (const w of ws) void w.slot.then((s) => { if (!(s instanceof GatewayError)) granted++; });
    f.nodes[1]!.up = true; // the poller reached b, with m loaded
    f.drain(); // as the poller does after each poll
    await flush();
    const late = f.acquire(q(), 'p2');
    try {
      assert.equal(f.queued, 0, `still queued: ${f.queued}`);
      assert.equal(granted, 3);
      assert.equal(slotOf(late).node, f.nodes[1], 'a later request passes nobody: it takes b\'s fourth slot');
    } finally {
      f.close();
    }
  });
});

// ---- the half-open trial ----

describe('Fleet: one trial while a breaker is half-open', () => {
  it('a second request waits for the trial to end', () => {
    const clock = new Clock();
    const f = fleetOf([{ name: 'a', parallel: 4, maxLoaded: 1, resident: ['m'] }], clock, { breakerFailures: 1, breakerOpenMs: 1000 });
    const s1 = slotOf(f.acquire(q(), 'p'));
    f.release(s1, result({ status: 503 }));
    clock.t += 1000;
    slotOf(f.acquire(q(), 'p')); // the trial
    const r = f.acquire(q(), 'p');
    assert.ok(r instanceof GatewayError, 'no second request while the trial is out');
    f.close();
  });

  // A request sent before the breaker opened is abandoned by its client while the trial is out:
  // release() calls breaker.abandoned(), which clears the trial flag, so a second trial goes.
  it('a request from before the breaker opened, abandoned during the trial, does not let a second trial go', () => {
    const clock = new Clock();
    const f = fleetOf([{ name: 'a', parallel: 4, maxLoaded: 1, resident: ['m'] }], clock, { breakerFailures: 1, breakerOpenMs: 1000 });
    const old = slotOf(f.acquire(q(), 'p'));
    const s1 = slotOf(f.acquire(q(), 'p'));
    f.release(s1, result({ status: 503 })); // opens until T0 + 1000
    clock.t += 1000;
    const trial = slotOf(f.acquire(q(), 'p'));
    assert.equal(f.nodes[0]!.breaker.state, 'half-open');
    f.release(old, result({ status: 0, abandoned: true, ttfbMs: null }));
    const r = f.acquire(q(), 'p');
    try {
      assert.ok(r instanceof GatewayError, `a second request went to the half-open node while the trial (${trial.node.name}) is out`);
    } finally {
      f.close();
    }
  });
});

// ---- what a request's end teaches ----

describe('Fleet release: node state from traffic', () => {
  it('a cold request that answers makes the model resident and teaches the load time', () => {
    const clock = new Clock();
    const f = fleetOf([{ name: 'a', parallel: 2, maxLoaded: 2 }], clock);
    const n = f.nodes[0]!;
    const s = slotOf(f.acquire(q(), 'p'));
    assert.equal(s.cold, true);
    assert.equal(n.resident.get(M)?.loading, true);
    clock.t += 4000;
    f.release(s, result({ loadNs: 3_000_000_000, ttfbMs: 3100 }));
    const r = n.resident.get(M);
    assert.ok(r && !r.loading);
    assert.equal(r.expiresAt, clock.t + 5 * 60_000);
    assert.equal(n.loadCost(M), 3000);
    assert.equal(n.serviceTime(M), 4000);
    assert.equal(n.stats.coldLoads, 1);
    assert.equal(n.inFlight, 0);
    assert.equal(n.runningOf(M), 0);
  });

  it('a cold request that fails leaves the model not resident (the load did not happen)', () => {
    const clock = new Clock();
    const f = fleetOf([{ name: 'a', parallel: 2, maxLoaded: 2 }], clock);
    const s = slotOf(f.acquire(q(), 'p'));
    f.release(s, result({ status: 500 }));
    assert.equal(f.nodes[0]!.resident.has(M), false);
    assert.equal(f.nodes[0]!.stats.failures, 1);
  });

  it('a cold request on a full node evicts the least recently used idle model from the picture', () => {
    const clock = new Clock();
    const f = fleetOf([{ name: 'a', parallel: 2, maxLoaded: 1, installed: ['m', 'x'], resident: ['x'] }], clock);
    const s = slotOf(f.acquire(q(), 'p'));
    assert.equal(s.cold, true);
    assert.deepEqual([...f.nodes[0]!.resident.keys()], [M]);
  });

  it('releasing twice counts once', () => {
    const clock = new Clock();
    const f = fleetOf([{ name: 'a', parallel: 2, maxLoaded: 1, resident: ['m'] }], clock);
    const s = slotOf(f.acquire(q(), 'p'));
    f.release(s, result());
    f.release(s, result({ status: 503 }));
    assert.equal(f.nodes[0]!.inFlight, 0);
    assert.equal(f.nodes[0]!.breaker.state, 'closed');
  });

  it("a 503 opens the node's breaker at once and the next request goes elsewhere", () => {
    const clock = new Clock();
    const f = fleetOf([{ name: 'a', parallel: 2, maxLoaded: 1, resident: ['m'] }, { name: 'b', parallel: 2, maxLoaded: 1, resident: ['m'] }], clock);
    const s = slotOf(f.acquire(q(), 'p'));
    assert.equal(s.node.name, 'a');
    f.release(s, result({ status: 503, retryAfterMs: 10_000 }));
    assert.equal(f.nodes[0]!.breaker.state, 'open');
    assert.equal(f.nodes[0]!.breaker.openUntil, clock.t + 10_000);
    for (let i = 0; i < 5; i++) {
      clock.t += 1000;
      const t = slotOf(f.acquire(q(), 'p'));
      assert.equal(t.node.name, 'b');
      f.release(t, result());
    }
  });

  it('a model installed nowhere is missing; with an unread node it is unavailable', () => {
    const clock = new Clock();
    const f = fleetOf([{ name: 'a', parallel: 1, maxLoaded: 1, resident: ['m'] }], clock);
    assert.equal(f.acquire(q('registry.ollama.ai/library/ghost:latest'), 'p'), 'missing');
    f.nodes[0]!.tagsAt = 0;
    const r = f.acquire(q('registry.ollama.ai/library/ghost:latest'), 'p');
    assert.ok(r instanceof GatewayError && r.code === 'GW_ERR_NODE_UNAVAILABLE');
    f.close();
  });
});
