/** Percentile summaries and medians for the benchmark (no dependencies). */

export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

const round = (x: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** Nearest-rank percentile of an ascending array (q in 0..100). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = Math.min(n - 1, Math.max(0, Math.ceil((q / 100) * n) - 1));
  return sorted[rank] as number;
}

export function summary(values: readonly number[] | Float64Array, digits = 3): Summary | null {
  if (values.length === 0) return null;
  const s = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s[i] as number;
  return {
    n: s.length,
    mean: round(sum / s.length, digits),
    p50: round(percentile(s, 50), digits),
    p90: round(percentile(s, 90), digits),
    p99: round(percentile(s, 99), digits),
    p999: round(percentile(s, 99.9), digits),
    max: round(s[s.length - 1] as number, digits),
  };
}

/** Median of the finite numbers in xs (NaN if none). */
export function median(xs: readonly (number | null | undefined)[]): number {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? (v[m] as number) : ((v[m - 1] as number) + (v[m] as number)) / 2;
}

export function minMax(xs: readonly (number | null | undefined)[]): [number, number] {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (v.length === 0) return [NaN, NaN];
  return [Math.min(...v), Math.max(...v)];
}

/**
 * A latency recorder for load generators: values in ms, kept in a growable Float64Array so that
 * hundreds of thousands of samples cost little and no GC churn.
 */
export class Samples {
  #buf = new Float64Array(1 << 14);
  #n = 0;

  push(v: number): void {
    if (this.#n === this.#buf.length) {
      const next = new Float64Array(this.#buf.length * 2);
      next.set(this.#buf);
      this.#buf = next;
    }
    this.#buf[this.#n++] = v;
  }

  get length(): number {
    return this.#n;
  }

  summary(digits = 3): Summary | null {
    return summary(this.#buf.subarray(0, this.#n), digits);
  }
}
