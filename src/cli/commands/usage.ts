import { parseDuration } from '../../config/units.js';
import { usageCsv } from '../../store/usage-csv.js';
import { usageReport } from '../../store/usage-report.js';
import type { Stores } from '../../store/index.js';
import type { UsageGroupBy, UsageRow } from '../../store/types.js';
import { COMMON_HELP, configFrom, parse, UsageError } from '../args.js';
import { REMOTE_HELP, REMOTE_OPTIONS } from '../admin-client.js';
import { openCommandStores } from '../store.js';

export const USAGE_HELP = `gatehouse usage: requests, refusals, tokens and latency per key, model, day or hour

Usage:
  gatehouse usage [--since 24h|7d|DATE] [--until WHEN] [--by key|model|node|day|hour] [--key ID] [--json|--csv]

Computed from the audit records (kept for audit.retention, default 90 days), so it covers every
replica sharing the store. REQUESTS counts everything, REFUSED the part Gatehouse refused; tokens
are what Ollama reported (estimated when a stream was cut short). P50/P95 are nearest-rank
percentiles of allowed requests, arrival to the end of the response (whole streams), read from
the roll-ups' histograms: within 5% of the exact value. Counts are exact for any period.

Options:
  --since WHEN     start: a duration back from now (30m, 24h, 7d) or a UTC date/time
                   (2025-01-31, 2025-01-31T12:00); default 24h
  --until WHEN     end (exclusive), same forms; default now
  --by GROUP       key (default), model, node (with upstreams), day or hour (UTC)
  --key ID         only this key (key id or unique name)
  --json           {"since","until","by","rows":[…],"total":{…}}
  --csv            CSV with a header row
${COMMON_HELP}
${REMOTE_HELP}`;

export async function usageCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    since: { type: 'string' }, until: { type: 'string' }, by: { type: 'string' }, key: { type: 'string' }, json: { type: 'boolean' }, csv: { type: 'boolean' }, ...REMOTE_OPTIONS,
  }, 0, 'gatehouse usage');
  if (values.help) {
    console.log(USAGE_HELP);
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}" (see gatehouse usage --help)`);
  if (values.json && values.csv) throw new UsageError('choose one of --json and --csv');
  const by = (values.by ?? 'key') as UsageGroupBy;
  if (!['key', 'model', 'node', 'day', 'hour'].includes(by)) throw new UsageError(`--by: "${values.by}" is not one of key, model, node, day, hour`);
  const now = Date.now();
  const since = parseWhen(values.since ?? '24h', now, '--since');
  const until = values.until !== undefined ? parseWhen(values.until, now, '--until') : now;
  if (since >= until) throw new UsageError('--since must be before --until');

  const stores = await openCommandStores(values, configFrom(values), 'usage');
  try {
    const principalId = values.key !== undefined ? await resolveKeyId(stores, values.key) : undefined;
    const { rows, total } = await usageReport(stores.audit, { since, until, by, ...(principalId ? { principalId } : {}) });
    if (values.json) {
      console.log(JSON.stringify({ since: iso(since), until: iso(until), by, ...(principalId ? { key: principalId } : {}), rows: rows.map((r) => jsonRow(by, r)), total: jsonRow(by, total) }));
    } else if (values.csv) {
      console.log(usageCsv(by, rows));
    } else {
      console.log(`Usage by ${by}, ${shortTime(since)} → ${shortTime(until)} UTC${principalId ? `, key ${principalId}` : ''}\n`);
      if (rows.length === 0) console.log('no requests in this period');
      else console.log(usageTable(by, rows, total));
    }
    return 0;
  } finally {
    await stores.close();
  }
}

/** `24h`, `7d` (back from now), `now`, or a date / date-time (UTC unless it names a zone). */
export function parseWhen(text: string, now: number, flag: string): number {
  const t = text.trim();
  if (t === 'now') return now;
  const ms = parseDuration(t);
  if (ms !== null) return now - ms;
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(t)) {
    const hasZone = /(Z|[+-]\d{2}:?\d{2})$/.test(t) && t.length > 10;
    const normal = t.length === 10 ? `${t}T00:00:00Z` : `${t.replace(' ', 'T')}${hasZone ? '' : 'Z'}`;
    const v = Date.parse(normal);
    if (!Number.isNaN(v)) return v;
  }
  throw new UsageError(`${flag}: "${text}" is neither a duration (30m, 24h, 7d) nor a date (2025-01-31, 2025-01-31T12:00)`);
}

/** A key id or a unique key name → the key id (ids of deleted keys are taken as they are). */
export async function resolveKeyId(stores: Stores, idOrName: string): Promise<string> {
  const rec = await stores.keys.find(idOrName);
  if (rec) return rec.id;
  if (/^key_[0-9A-Za-z]+$/.test(idOrName)) return idOrName;
  throw new UsageError(`no key "${idOrName}" (see gatehouse keys list)`);
}


function groupText(by: UsageGroupBy, g: UsageRow['group']): string {
  if (g === null) return by === 'key' ? '(no key)' : by === 'model' ? '(no model)' : by === 'node' ? '(no node)' : '-';
  if (by === 'day') return new Date(g as number).toISOString().slice(0, 10);
  if (by === 'hour') return new Date(g as number).toISOString().slice(0, 13) + ':00Z';
  return by === 'model' ? shortModel(String(g)) : String(g);
}

function jsonRow(by: UsageGroupBy, r: UsageRow): Record<string, unknown> {
  const group = r.group === null ? null : by === 'day' || by === 'hour' ? iso(r.group as number) : r.group;
  return {
    [by]: group, ...(by === 'key' ? { name: r.label } : {}), requests: r.requests, refused: r.refused,
    prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, p50_ms: r.p50Ms, p95_ms: r.p95Ms,
  };
}

function usageTable(by: UsageGroupBy, rows: UsageRow[], total: UsageRow): string {
  const head = by === 'key' ? ['KEY', 'NAME'] : [by.toUpperCase()];
  const body = rows.map((r) => [...(by === 'key' ? [groupText(by, r.group), r.label ?? '-'] : [groupText(by, r.group)]), ...numbers(r)]);
  const foot = [...(by === 'key' ? ['TOTAL', ''] : ['TOTAL']), ...numbers(total)];
  return alignTable([[...head, 'REQUESTS', 'REFUSED', 'PROMPT TOK', 'COMPL TOK', 'P50 MS', 'P95 MS'], ...body, foot], head.length);
}

function numbers(r: UsageRow): string[] {
  const ms = (v: number | null) => (v === null ? '-' : v < 10 ? v.toFixed(2) : v < 1000 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US'));
  const int = (v: number) => v.toLocaleString('en-US');
  return [int(r.requests), int(r.refused), int(r.promptTokens), int(r.completionTokens), ms(r.p50Ms), ms(r.p95Ms)];
}

/** Left-aligned text columns, right-aligned number columns. */
function alignTable(rows: string[][], textColumns: number): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i < textColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export { toCsv } from '../../store/usage-csv.js';

export function shortModel(m: string): string {
  return m.replace(/^registry\.ollama\.ai\/library\//, '').replace(/:latest$/, '');
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function shortTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}
