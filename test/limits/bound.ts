/**
 * The token bound of docs/limits.md ("What a key can use"), as a checker over a recorded run.
 *
 * A run is a list of requests of one key, each with the time it was admitted, what it reserved,
 * what it really used, and the order of its admission and its settlement among all events (clock
 * times can be equal under a manual clock; the order cannot). For every window of length W that
 * starts at an admission, the tokens of the requests admitted in it must be at most
 *
 *   L + L·(a* − x)/T + Σ overshoot of the window's requests still running at its last admission a*
 *                    + Σ unused reservation given back before a* by requests running at its start
 *
 * (windows starting anywhere else hold no more requests than the one starting at their first
 * admission, and their bound is no smaller).
 */

export interface Run {
  /** Clock time of the admission (ms). */
  at: number;
  /** Order of the admission and of the settlement among all admissions and settlements. */
  admitSeq: number;
  settleSeq: number;
  reserved: number;
  used: number;
}

export interface WindowReport {
  /** Admission time the window starts at. */
  start: number;
  usage: number;
  bound: number;
  requests: number;
}

/** Every window of length `windowMs` starting at an admission, with its usage and its bound. */
export function windows(runs: readonly Run[], limit: number, periodMs: number, windowMs: number): WindowReport[] {
  const byAdmission = [...runs].sort((a, b) => a.admitSeq - b.admitSeq);
  const out: WindowReport[] = [];
  for (const first of byAdmission) {
    const x = first.at;
    const inside = byAdmission.filter((r) => r.admitSeq >= first.admitSeq && r.at <= x + windowMs);
    const last = inside[inside.length - 1]!;
    let usage = 0;
    let overshoot = 0;
    for (const r of inside) {
      usage += r.used;
      if (r.settleSeq > last.admitSeq) overshoot += Math.max(0, r.used - r.reserved);
    }
    let refunds = 0;
    for (const r of byAdmission) {
      if (r.admitSeq < first.admitSeq && r.settleSeq > first.admitSeq && r.settleSeq < last.admitSeq) refunds += Math.max(0, r.reserved - r.used);
    }
    const bound = limit + (limit * (last.at - x)) / periodMs + overshoot + refunds;
    out.push({ start: x, usage, bound, requests: inside.length });
  }
  return out;
}

/** Tokens of the requests admitted in [x, x + windowMs] for every admission time x: the largest. */
export function worstWindow(runs: readonly Run[], windowMs: number): { start: number; usage: number; requests: number } {
  let worst = { start: 0, usage: 0, requests: 0 };
  for (const first of runs) {
    const inside = runs.filter((r) => r.at >= first.at && r.at <= first.at + windowMs);
    const usage = inside.reduce((s, r) => s + r.used, 0);
    if (usage > worst.usage) worst = { start: first.at, usage, requests: inside.length };
  }
  return worst;
}

/** A small deterministic PRNG (tests must replay exactly). */
export function prng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}
