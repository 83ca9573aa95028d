/**
 * What one routing decision costs in CPU: Fleet.acquire (the router's `place` over every node, and
 * the bookkeeping of the slot it grants) plus Fleet.release, timed one by one in this process on a
 * fleet state like a busy one: NODES nodes with `parallel` slots, MODELS models installed on
 * overlapping subsets, one loaded per node, requests held so that slots are mostly taken. The
 * function is synchronous and does no I/O, so its wall time is its CPU time; the p99 over many
 * decisions is what the issue bounds (≤ 0.2 ms).
 */
import type { Dispatcher } from 'undici';
import type { UpstreamAddress } from '../../src/config/resolved.js';
import { Fleet, type Slot } from '../../src/fleet/fleet.js';
import { readPs, readTags } from '../../src/fleet/poller.js';
import { UpstreamSet } from '../../src/proxy/upstream-set.js';

export interface DecisionCost {
  nodes: number;
  decisions: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

export function decisionCost(nodeCount: number, models: number, decisions: number): DecisionCost {
  const specs = Array.from({ length: nodeCount }, (_, i) => ({ name: `n${i}`, url: `http://10.0.0.${i + 1}:11434`, origin: `http://10.0.0.${i + 1}:11434`, host: `10.0.0.${i + 1}:11434` }));
  const set = new UpstreamSet(specs, { timeouts: { connectMs: 1000, headersMs: 1000, bodyMs: 1000 }, dispatcher: () => ({}) as Dispatcher });
  const addresses: UpstreamAddress[] = specs.map((s, i) => ({ ...s, hostname: `10.0.0.${i + 1}`, port: 11434, tls: false, parallel: 4, maxLoaded: 1 }));
  const fleet = new Fleet(set, addresses, { queueMax: 1_000_000, queueWaitMs: 3_600_000, breakerFailures: 3, breakerOpenMs: 2000 });
  const names = Array.from({ length: models }, (_, m) => `registry.ollama.ai/library/m${m}:latest`);
  fleet.nodes.forEach((n, i) => {
    n.up = true;
    // Each node has three of the models (overlapping), and one of them loaded.
    const mine = [names[i % models]!, names[(i + 1) % models]!, names[(i + 2) % models]!];
    readTags(n, { models: mine.map((model) => ({ model })) }, Date.now());
    readPs(n, { models: [{ model: mine[0] }] }, Date.now());
    n.learnLoad(mine[0]!, 500);
  });
  const held: Slot[] = [];
  const times = new Float64Array(decisions);
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  let n = 0;
  for (let i = 0; i < decisions; i++) {
    const model = names[Math.floor(rnd() * rnd() * models)]!; // skewed popularity
    const t0 = performance.now();
    const r = fleet.acquire({ model, occupies: true, exclude: null }, `key${i % 8}`);
    let slot: Slot | null = null;
    if (typeof r === 'object' && !(r instanceof Error) && !('slot' in r)) slot = r;
    else if (typeof r === 'object' && 'slot' in r) r.abandon();
    // Keep the fleet busy: release the oldest once about three quarters of the slots are held.
    if (slot) held.push(slot);
    if (held.length > nodeCount * 3) fleet.release(held.shift()!, { status: 200, failed: false, abandoned: false, retryAfterMs: null, loadNs: 1_000_000, ttfbMs: 5, unload: false, message: null });
    times[n++] = (performance.now() - t0) * 1000;
  }
  for (const s of held) fleet.release(s, { status: 200, failed: false, abandoned: false, retryAfterMs: null, loadNs: null, ttfbMs: 5, unload: false, message: null });
  fleet.close();
  const sorted = Array.from(times.subarray(0, n)).sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { nodes: nodeCount, decisions: n, p50Us: at(0.5), p99Us: at(0.99), maxUs: sorted[sorted.length - 1]! };
}
