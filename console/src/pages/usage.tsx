import { useState } from 'preact/hooks';
import { get } from '../api.js';
import { TableWrap } from '../components/table-wrap.js';
import { LoadState } from '../components/notice.js';
import { PeriodPicker, periodOf, type Period, type Preset } from '../components/period.js';
import { download, toCsv } from '../csv.js';
import { ms, num } from '../format.js';
import type { UsageBy, UsageReport, UsageRow } from '../types.js';
import { useLoad } from '../use-load.js';

/** Usage: requests, refusals, tokens and latency grouped by key/identity, model, node, day or hour, over any period; CSV export. */

const BY: { value: UsageBy; label: string }[] = [
  { value: 'key', label: 'Key or identity' },
  { value: 'model', label: 'Model' },
  { value: 'node', label: 'Node' },
  { value: 'day', label: 'Day' },
  { value: 'hour', label: 'Hour' },
];

const groupText = (r: UsageRow, by: string): string => {
  if ((by === 'day' || by === 'hour') && typeof r.group === 'number') return new Date(r.group).toLocaleString();
  return r.label ?? (r.group === null ? '(none)' : String(r.group));
};

export function UsagePage(props: { params: URLSearchParams }) {
  const initial = BY.find((b) => b.value === props.params.get('by'))?.value ?? 'key';
  const [by, setBy] = useState<UsageBy>(initial);
  const [preset, setPreset] = useState<Preset>('24h');
  const [custom, setCustom] = useState<Period>(() => periodOf('24h', { since: 0, until: 0 }));
  const report = useLoad(() => {
    const p = periodOf(preset, custom);
    return get<UsageReport>('/admin/v1/usage', { since: Math.floor(p.since), until: Math.ceil(p.until), by });
  }, [by, preset, custom]);
  const r = report.data;

  const exportCsv = () => {
    if (!r) return;
    const rows = [...r.rows, { ...r.total, group: 'total', label: 'total' }];
    const text = toCsv(
      [by, 'id', 'requests', 'refused', 'prompt_tokens', 'completion_tokens', 'p50_ms', 'p95_ms'],
      rows.map((x) => [groupText(x, by), x.group === null ? '' : String(x.group), x.requests, x.refused, x.promptTokens, x.completionTokens, x.p50Ms, x.p95Ms]),
    );
    const day = (t: number) => new Date(t).toISOString().slice(0, 10);
    download(`gatehouse-usage-by-${by}-${day(r.since)}-${day(r.until)}.csv`, text);
  };

  return (
    <section aria-labelledby="usage-title">
      <div class="page-head">
        <h1 id="usage-title">Usage</h1>
        <button type="button" onClick={exportCsv} disabled={!r}>Export CSV</button>
      </div>
      <div class="filters">
        <div class="field">
          <label for="usage-by">Group by</label>
          <select id="usage-by" value={by} onChange={(e) => setBy(e.currentTarget.value as UsageBy)}>
            {BY.map((b) => <option key={b.value} value={b.value}>{b.label}</option>)}
          </select>
        </div>
        <PeriodPicker id="usage-period" preset={preset} custom={custom} onChange={(p, c) => { setPreset(p); setCustom(c); }} />
      </div>
      <LoadState loading={report.loading && !r} error={report.error} empty={!!r && r.rows.length === 0} emptyText="No requests in this period." />
      {r && r.rows.length > 0 && (
        <TableWrap label="Usage report">
          <table class="usage numeric">
            <thead>
              <tr><th scope="col">{BY.find((b) => b.value === by)?.label}</th><th scope="col">Requests</th><th scope="col">Refused</th><th scope="col">Prompt tokens</th><th scope="col">Completion tokens</th><th scope="col">p50</th><th scope="col">p95</th></tr>
            </thead>
            <tbody>
              {r.rows.map((x, i) => (
                <tr key={`${String(x.group)}-${i}`}>
                  <th scope="row">{groupText(x, by)}</th>
                  <td>{num(x.requests)}</td><td>{num(x.refused)}</td><td>{num(x.promptTokens)}</td><td>{num(x.completionTokens)}</td><td>{ms(x.p50Ms)}</td><td>{ms(x.p95Ms)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row">Total</th>
                <td>{num(r.total.requests)}</td><td>{num(r.total.refused)}</td><td>{num(r.total.promptTokens)}</td><td>{num(r.total.completionTokens)}</td><td>{ms(r.total.p50Ms)}</td><td>{ms(r.total.p95Ms)}</td>
              </tr>
            </tfoot>
          </table>
        </TableWrap>
      )}
    </section>
  );
}
