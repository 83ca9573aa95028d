/**
 * A fleet run's rows (one per router), the table, and the targets of issue #20: against the
 * better of the two baselines, Gatehouse needs at most half the cold loads, at most 0.7× the
 * TTFT p99, and sends no request to a node without the model.
 */
import { summary } from '../lib/stats.js';
import type { Outcome } from './client.js';
import type { NodeStats } from './nodes.js';

export interface Row {
  router: string;
  /** set when the router could not be measured (then every number is null) */
  failed?: string;
  notes?: string[];
  requests: number;
  ok: number;
  coldLoads: number | null;
  evictions: number | null;
  loadMsTotal: number | null;
  ttftP50: number | null;
  ttftP99: number | null;
  totalP50: number | null;
  totalP99: number | null;
  wallS: number | null;
  /** requests that reached a node without the model (404 there) */
  notFound: number | null;
  node503: number | null;
  client503: number | null;
  clientErrors: number | null;
  /** the most requests running at once on any one node */
  maxRunningPerNode: number | null;
  /** the first few client errors, for the log */
  errorSamples?: string[];
}

const r1 = (x: number | undefined): number | null => (x === undefined ? null : Math.round(x * 10) / 10);

export function measuredRow(router: string, notes: string[], outcomes: readonly Outcome[], wallMs: number, nodes: readonly NodeStats[]): Row {
  const sum = (f: (s: NodeStats) => number): number => nodes.reduce((a, s) => a + f(s), 0);
  const good = outcomes.filter((o) => o.ok);
  const ttft = summary(good.map((o) => o.ttftMs ?? o.totalMs));
  const total = summary(good.map((o) => o.totalMs));
  const errors = outcomes.filter((o) => !o.ok);
  return {
    router,
    notes,
    requests: outcomes.length,
    ok: good.length,
    coldLoads: sum((s) => s.coldLoads),
    evictions: sum((s) => s.evictions),
    loadMsTotal: Math.round(sum((s) => s.loadMsTotal)),
    ttftP50: r1(ttft?.p50),
    ttftP99: r1(ttft?.p99),
    totalP50: r1(total?.p50),
    totalP99: r1(total?.p99),
    wallS: Math.round(wallMs / 100) / 10,
    notFound: sum((s) => s.notFound),
    node503: sum((s) => s.busy503),
    client503: outcomes.filter((o) => o.status === 503).length,
    clientErrors: errors.length,
    maxRunningPerNode: Math.max(...nodes.map((s) => s.maxRunning)),
    errorSamples: [...new Set(errors.map((o) => o.error ?? `status ${o.status}`))].slice(0, 3),
  };
}

export function failedRow(router: string, message: string, requests: number): Row {
  return {
    router, failed: message, requests, ok: 0,
    coldLoads: null, evictions: null, loadMsTotal: null, ttftP50: null, ttftP99: null, totalP50: null, totalP99: null, wallS: null,
    notFound: null, node503: null, client503: null, clientErrors: null, maxRunningPerNode: null,
  };
}

const COLUMNS: Array<[string, (r: Row) => string]> = [
  ['router', (r) => r.router],
  ['ok', (r) => (r.failed ? '–' : `${r.ok}/${r.requests}`)],
  ['cold loads', (r) => show(r.coldLoads)],
  ['evictions', (r) => show(r.evictions)],
  ['TTFT p50 ms', (r) => show(r.ttftP50)],
  ['TTFT p99 ms', (r) => show(r.ttftP99)],
  ['total p50 ms', (r) => show(r.totalP50)],
  ['total p99 ms', (r) => show(r.totalP99)],
  ['wall s', (r) => show(r.wallS)],
  ['to node without model', (r) => show(r.notFound)],
  ['503 nodes / clients', (r) => (r.failed ? '–' : `${r.node503} / ${r.client503}`)],
  ['client errors', (r) => show(r.clientErrors)],
  ['max running per node', (r) => show(r.maxRunningPerNode)],
];

const show = (x: number | null): string => (x === null ? '–' : String(x));

export function table(rows: readonly Row[]): string {
  const lines = [`| ${COLUMNS.map(([h]) => h).join(' | ')} |`, `|${COLUMNS.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${COLUMNS.map(([, f]) => f(r)).join(' | ')} |`);
  return lines.join('\n');
}

export interface Target {
  router: string;
  target: string;
  verdict: 'PASS' | 'FAIL' | 'n/a';
  detail: string;
}

/** The three targets for each Gatehouse row, against the better baseline measured in this run. */
export function targets(rows: readonly Row[]): Target[] {
  const baselines = rows.filter((r) => !r.router.startsWith('gatehouse') && !r.failed);
  const best = (f: (r: Row) => number | null): number | null => {
    const v = baselines.map(f).filter((x): x is number => x !== null);
    return v.length ? Math.min(...v) : null;
  };
  const bestLoads = best((r) => r.coldLoads);
  const bestP99 = best((r) => r.ttftP99);
  const out: Target[] = [];
  for (const g of rows.filter((r) => r.router.startsWith('gatehouse'))) {
    const fail = (target: string): Target => ({ router: g.router, target, verdict: 'FAIL', detail: 'did not run (its error is printed above)' });
    const vs = (target: string, mine: number | null, ref: number | null, factor: number): Target => {
      if (g.failed) return fail(target);
      if (ref === null || mine === null) return { router: g.router, target, verdict: 'n/a', detail: 'no baseline measured (ROUTERS)' };
      const limit = Math.round(ref * factor * 10) / 10;
      return { router: g.router, target, verdict: mine <= limit ? 'PASS' : 'FAIL', detail: `${mine} vs ≤ ${limit} (${factor} × ${ref})` };
    };
    out.push(vs('cold loads ≤ 0.5 × better baseline', g.coldLoads, bestLoads, 0.5));
    out.push(vs('TTFT p99 ≤ 0.7 × better baseline', g.ttftP99, bestP99, 0.7));
    out.push(g.failed ? fail('0 requests to a node without the model') : { router: g.router, target: '0 requests to a node without the model', verdict: g.notFound === 0 ? 'PASS' : 'FAIL', detail: `${g.notFound}` });
  }
  return out;
}
