/**
 * The fixed log-scale histogram the roll-ups keep of time to first byte and of duration (ms), so
 * that percentiles over any set of roll-up rows come from adding their histograms.
 *
 * Bin 0 holds [0, 0.1 ms); bin i ≥ 1 holds [0.1·1.1^(i-1), 0.1·1.1^i); the last bin holds
 * everything from 0.1·1.1^(BINS-2) ≈ 3.7 h up. A percentile is read as the geometric middle of
 * the bin its nearest-rank sample falls in, so it is within √1.1 − 1 ≈ 4.9% of the exact
 * nearest-rank value (within 0.05 ms below 0.1 ms; the last, open bin reports its lower bound).
 *
 * Stored sparse, as pairs [bin, count, bin, count, …] (SQLite: JSON text; PostgreSQL: int[]):
 * most roll-up rows hold a few requests, so a few pairs.
 */

export const HIST_BASE_MS = 0.1;
export const HIST_RATIO = 1.1;
/** Bins 0 … BINS-1. */
export const HIST_BINS = 196;
/** Worst relative error of a percentile read from a histogram (bins 1 … BINS-2). */
export const HIST_MAX_ERROR = Math.sqrt(HIST_RATIO) - 1;

/** Lower bounds of bins 1 … BINS-1: bin(v) = how many of these are ≤ v (PostgreSQL: width_bucket). */
export const HIST_BOUNDS: readonly number[] = Object.freeze(Array.from({ length: HIST_BINS - 1 }, (_, i) => HIST_BASE_MS * HIST_RATIO ** i));

/** The bin of a value in ms (negative and NaN count as 0). Binary search: exact at the bounds. */
export function binOf(v: number): number {
  let lo = 0;
  let hi = HIST_BOUNDS.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (HIST_BOUNDS[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What a percentile falling in bin i is reported as. */
export function binValue(i: number): number {
  if (i === 0) return HIST_BASE_MS / 2;
  if (i >= HIST_BINS - 1) return HIST_BOUNDS[HIST_BINS - 2]!;
  return Math.round(Math.sqrt(HIST_BOUNDS[i - 1]! * HIST_BOUNDS[i]!) * 1000) / 1000;
}

/** Dense counts (index = bin), what reports add pairs into. */
export type Hist = Float64Array;

export const newHist = (): Hist => new Float64Array(HIST_BINS);

/** Adds stored pairs into a dense histogram. */
export function addPairs(h: Hist, pairs: readonly number[]): void {
  for (let i = 0; i + 1 < pairs.length; i += 2) h[pairs[i]!]! += pairs[i + 1]!;
}

/** A sparse map bin → count as pairs, bins ascending. */
export function toPairs(m: ReadonlyMap<number, number>): number[] {
  const out: number[] = [];
  for (const b of [...m.keys()].sort((x, y) => x - y)) out.push(b, m.get(b)!);
  return out;
}

/**
 * Two stored pair lists added (SQLite's gh_hist_add on upserts, on every batch: kept to one linear
 * pass). Both are stored bins ascending; were one not, a bin could appear twice, which readers
 * (addPairs) still add up correctly.
 */
export function mergePairs(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i]! === b[j]!) (out.push(a[i]!, a[i + 1]! + b[j + 1]!), (i += 2), (j += 2));
    else if (a[i]! < b[j]!) (out.push(a[i]!, a[i + 1]!), (i += 2));
    else (out.push(b[j]!, b[j + 1]!), (j += 2));
  }
  for (; i < a.length; i += 2) out.push(a[i]!, a[i + 1]!);
  for (; j < b.length; j += 2) out.push(b[j]!, b[j + 1]!);
  return out;
}

/** Nearest-rank percentile p (0–100) of a histogram: the bin of the ceil(p·n/100)-th value; null when empty. */
export function percentile(h: Hist, p: number): number | null {
  let n = 0;
  for (let i = 0; i < h.length; i++) n += h[i]!;
  if (n === 0) return null;
  const rank = Math.max(1, Math.ceil((p * n) / 100 - 1e-9));
  let seen = 0;
  for (let i = 0; i < h.length; i++) {
    seen += h[i]!;
    if (seen >= rank) return binValue(i);
  }
  return binValue(h.length - 1);
}
