/**
 * The fleet scenario of issue #20, and its knobs (read once, from the environment). Three nodes
 * that each hold one model at a time with two slots, four models of uneven popularity installed
 * on overlapping subsets (every model on at least two nodes), and one seeded request sequence that
 * every router gets unchanged.
 */

export interface NodeSpec {
  /** also the upstream name in the gateway's config */
  name: string;
  models: string[];
}

/** Popularity, about 40/30/20/10 %. */
export const MODELS: ReadonlyArray<{ name: string; weight: number }> = [
  { name: 'm1:7b', weight: 0.4 },
  { name: 'm2:7b', weight: 0.3 },
  { name: 'm3:7b', weight: 0.2 },
  { name: 'm4:7b', weight: 0.1 },
];

/** m1 on all three nodes, m2, m3 and m4 on two each. */
export const NODES: readonly NodeSpec[] = [
  { name: 'gpu-a', models: ['m1:7b', 'm2:7b', 'm3:7b'] },
  { name: 'gpu-b', models: ['m1:7b', 'm2:7b', 'm4:7b'] },
  { name: 'gpu-c', models: ['m1:7b', 'm3:7b', 'm4:7b'] },
];

function knob(name: string, def: number, min = 1): number {
  const raw = process.env[name];
  const v = raw === undefined || raw === '' ? def : Number(raw);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}, got ${raw}`);
  return v;
}

export interface Knobs {
  seed: number;
  requests: number;
  clients: number;
  tokens: number;
  tokenMs: number;
  loadMs: number;
  parallel: number;
  maxLoaded: number;
  reqTimeoutMs: number;
  runTimeoutS: number;
}

export function readKnobs(): Knobs {
  return {
    seed: knob('SEED', 20, 0),
    requests: knob('REQUESTS', 160),
    clients: knob('CLIENTS', 8),
    tokens: knob('TOKENS', 20),
    tokenMs: knob('TOKEN_MS', 25, 0),
    loadMs: knob('LOAD_MS', 500, 0),
    parallel: knob('PARALLEL', 2),
    maxLoaded: knob('MAX_LOADED', 1),
    reqTimeoutMs: knob('REQ_TIMEOUT_MS', 60_000),
    runTimeoutS: knob('RUN_TIMEOUT_S', 900),
  };
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The models of the `n` requests, drawn by popularity from SEED. */
export function requestSequence(seed: number, n: number): string[] {
  const rnd = prng(seed);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let x = rnd();
    let pick = MODELS[MODELS.length - 1]!.name;
    for (const m of MODELS) {
      if (x < m.weight) {
        pick = m.name;
        break;
      }
      x -= m.weight;
    }
    out.push(pick);
  }
  return out;
}
