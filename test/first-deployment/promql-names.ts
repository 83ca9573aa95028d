/**
 * The metric names a PromQL expression reads, found by removing everything that is not one:
 * strings, label matchers, range selectors, `by (...)`-style label lists, Grafana variables,
 * function names (a word before "("), keywords, and the unit letters of durations and numbers.
 * Not a PromQL parser; enough for the expressions in deploy/, and tested on harder ones.
 */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless', 'inf', 'nan']);

export function metricNames(expr: string): Set<string> {
  const e = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ')
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*(:[A-Za-z]+)?\}?/g, ' ');
  const names = new Set<string>();
  for (const m of e.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = m[0];
    const before = e[m.index - 1];
    if (before !== undefined && /[0-9.]/.test(before)) continue; // 5m, 1e3
    if (/^\s*\(/.test(e.slice(m.index + word.length))) continue; // a function
    if (KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return names;
}

/** Grafana's `label_values(metric_or_selector, label)` template query → its PromQL part. */
export function templateQueryExpr(q: string): string {
  const m = /^\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$/.exec(q);
  if (m) return m[1]!;
  const values = /^\s*label_values\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$/.exec(q);
  if (values) return ''; // label_values(label): no metric
  return q.replace(/^\s*query_result\((.*)\)\s*$/, '$1');
}

/** Every PromQL expression in a Grafana dashboard: panel targets (rows included) and template queries. */
export function dashboardExprs(dash: unknown): string[] {
  const out: string[] = [];
  const d = dash as { panels?: unknown[]; templating?: { list?: { type?: string; query?: unknown }[] } };
  const walk = (panels: unknown[] | undefined) => {
    for (const p of panels ?? []) {
      const panel = p as { panels?: unknown[]; targets?: { expr?: string }[] };
      for (const t of panel.targets ?? []) if (typeof t.expr === 'string') out.push(t.expr);
      walk(panel.panels);
    }
  };
  walk(d.panels);
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
    if (q) out.push(templateQueryExpr(q));
  }
  return out;
}
