import type { Registry } from 'prom-client';

/**
 * Counters and histograms for the per-request metrics, registered on a prom-client Registry (which
 * formats and escapes them at scrape time) but updated without prom-client's per-call work: its
 * labelled children re-hash and re-validate the label values on every `inc()`/`observe()`, which
 * measured at ~7% of the request path's allocations. Here a caller asks once for the series of a
 * label combination and keeps it; updating it is a number addition.
 */

type Labels = Record<string, string>;

export interface CounterSeries {
  value: number;
}

export interface HistogramSeries {
  observe(v: number): void;
}

interface MetricValue {
  labels: Labels;
  value: number;
  metricName?: string;
}

abstract class FastMetric<S> {
  readonly name: string;
  readonly help: string;
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum';
  readonly #labelNames: readonly string[];
  protected readonly all = new Map<string, { labels: Labels; s: S }>();

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.#labelNames = labelNames;
    // prom-client calls get() at scrape time; the structural type is all it needs.
    registry.registerMetric(this as never);
  }

  /** The series for these label values (in labelNames order): look it up once, keep it. */
  series(...values: string[]): S {
    const key = values.join('\u0000');
    let e = this.all.get(key);
    if (!e) {
      const labels: Labels = {};
      this.#labelNames.forEach((n, i) => (labels[n] = values[i] ?? ''));
      e = { labels, s: this.create() };
      this.all.set(key, e);
    }
    return e.s;
  }

  protected abstract create(): S;
  abstract get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] };
}

export class FastCounter extends FastMetric<CounterSeries> {
  readonly type = 'counter' as const;
  protected create(): CounterSeries {
    return { value: 0 };
  }
  get() {
    const values: MetricValue[] = [];
    for (const { labels, s } of this.all.values()) values.push({ labels, value: s.value });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

class Buckets implements HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  readonly #bounds: readonly number[];
  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    const b = this.#bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

export class FastHistogram extends FastMetric<Buckets> {
  readonly type = 'histogram' as const;
  readonly #bounds: readonly number[];
  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[], bounds: readonly number[]) {
    super(registry, name, help, labelNames);
    this.#bounds = [...bounds].sort((a, b) => a - b);
  }
  protected create(): Buckets {
    return new Buckets(this.#bounds);
  }
  get() {
    const values: MetricValue[] = [];
    for (const { labels, s } of this.all.values()) {
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({ labels: { le: String(le), ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
