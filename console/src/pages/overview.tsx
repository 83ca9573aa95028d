import { useMemo, useState } from 'preact/hooks';
import { ApiError, get } from '../api.js';
import { Chart, type ChartSeries } from '../components/chart.js';
import { LoadState, Notice } from '../components/notice.js';
import { PeriodPicker, periodOf, type Period, type Preset } from '../components/period.js';
import { num } from '../format.js';
import type { Grain, SeriesBy, SeriesPoint, UsageSeries } from '../types.js';
import { useLoad } from '../use-load.js';

/**
 * Overview: requests, tokens, refusals and time to first token (p50/p95) over time, one line per
 * key or identity, model or node (or all together), from /admin/v1/usage/series.
 */

const GRAIN: Record<Exclude<Preset, 'custom'>, Grain> = { '1h': 'minute', '24h': 'hour', '7d': 'hour', '30d': 'day' };
const grainOf = (preset: Preset, p: Period): Grain =>
  preset !== 'custom' ? GRAIN[preset] : p.until - p.since <= 6 * 3_600_000 ? 'minute' : p.until - p.since <= 14 * 86_400_000 ? 'hour' : 'day';

type Metric = (p: SeriesPoint) => number | null;
const METRICS: { title: string; unit?: string; value: Metric }[] = [
  { title: 'Requests', value: (p) => p.requests },
  { title: 'Tokens (prompt + completion)', value: (p) => p.promptTokens + p.completionTokens },
  { title: 'Refusals', value: (p) => p.refused },
  { title: 'Time to first token, p50', unit: 'ms', value: (p) => p.ttftP50Ms },
  { title: 'Time to first token, p95', unit: 'ms', value: (p) => p.ttftP95Ms },
];

/** Aligns every series on one sorted time axis. */
function align(s: UsageSeries, metric: Metric): { xs: number[]; series: ChartSeries[] } {
  const xs = [...new Set(s.series.flatMap((x) => x.points.map((p) => p.t)))].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const series = s.series.map((x) => {
    const values: (number | null)[] = xs.map(() => null);
    for (const p of x.points) values[index.get(p.t)!] = metric(p);
    return { label: x.label ?? (x.group === null ? 'all' : String(x.group)), values };
  });
  return { xs, series };
}

export function OverviewPage() {
  const [preset, setPreset] = useState<Preset>('24h');
  const [custom, setCustom] = useState<Period>(() => periodOf('24h', { since: 0, until: 0 }));
  const [by, setBy] = useState<SeriesBy>('none');
  const [stamp, setStamp] = useState(0);
  const load = useLoad(async () => {
    const p = periodOf(preset, custom);
    try {
      return await get<UsageSeries>('/admin/v1/usage/series', { since: Math.floor(p.since), until: Math.ceil(p.until), grain: grainOf(preset, p), by });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }
  }, [preset, custom, by, stamp]);
  const data = load.data;
  const points = data ? data.series.reduce((n, s) => n + s.points.length, 0) : 0;
  const charts = useMemo(() => (data ? METRICS.map((m) => ({ ...m, ...align(data, m.value) })) : []), [data]);
  const totals = useMemo(() => {
    const t = { requests: 0, refused: 0, tokens: 0 };
    for (const s of data?.series ?? []) for (const p of s.points) {
      t.requests += p.requests;
      t.refused += p.refused;
      t.tokens += p.promptTokens + p.completionTokens;
    }
    return t;
  }, [data]);

  return (
    <section aria-labelledby="overview-title">
      <div class="page-head">
        <h1 id="overview-title">Overview</h1>
        <button type="button" class="secondary" onClick={() => setStamp(Date.now())}>Refresh</button>
      </div>
      <div class="filters">
        <PeriodPicker id="overview-period" preset={preset} custom={custom} onChange={(p, c) => { setPreset(p); setCustom(c); }} />
        <div class="field">
          <label for="overview-by">Split by</label>
          <select id="overview-by" value={by} onChange={(e) => setBy(e.currentTarget.value as SeriesBy)}>
            <option value="none">Nothing (all together)</option>
            <option value="key">Key or identity</option>
            <option value="model">Model</option>
            <option value="node">Node</option>
          </select>
        </div>
      </div>
      <LoadState loading={load.loading && !data} error={load.error} />
      {!load.loading && !load.error && data === null && (
        <Notice kind="info">No data: this gateway does not offer usage over time (/admin/v1/usage/series).</Notice>
      )}
      {data && points === 0 && <p class="empty">No data: no requests in this period.</p>}
      {data && points > 0 && (
        <>
          <dl class="totals">
            <div><dt>Requests</dt><dd>{num(totals.requests)}</dd></div>
            <div><dt>Tokens</dt><dd>{num(totals.tokens)}</dd></div>
            <div><dt>Refusals</dt><dd>{num(totals.refused)}</dd></div>
          </dl>
          <div class="charts">
            {charts.map((c) => (
              <Chart key={c.title} title={c.title} unit={c.unit} xs={c.xs} series={c.series}
                summary={`${c.series.length} series over ${c.xs.length} points`} />
            ))}
          </div>
        </>
      )}
    </section>
  );
}
