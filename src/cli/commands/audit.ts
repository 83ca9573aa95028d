import type { Stores } from '../../store/index.js';
import type { AdminEvent, AuditRecord } from '../../store/types.js';
import { COMMON_HELP, configFrom, parse, UsageError } from '../args.js';
import { REMOTE_HELP, REMOTE_OPTIONS } from '../admin-client.js';
import { openCommandStores } from '../store.js';
import { iso, parseWhen, resolveKeyId, shortModel } from './usage.js';

export const AUDIT_HELP = `gatehouse audit: read and tail the audit log

Usage:
  gatehouse audit [--since WHEN] [--until WHEN] [--key ID] [--denied] [--limit N] [--follow] [--json]
  gatehouse audit --admin [--since WHEN] [--key ID] [--limit N] [--follow] [--json]

One record per request, allowed or refused: time, request id, key (name and id, never the key
itself), client address, method, route, model, status, decision and reason, tokens, time to first
byte, duration, bytes, client aborts and the upstream node. --admin shows the admin trail
instead: key changes by the CLI and configuration changes noticed at server start (who, what, when).

Without --since, the last --limit records are shown (oldest first).

Options:
  --since WHEN     a duration back from now (30m, 24h, 7d) or a UTC date/time (2025-01-31T12:00)
  --until WHEN     end (exclusive), same forms
  --key ID         only this key (key id or unique name)
  --denied         only refused requests
  --limit N        at most N records (default 50 without --since, 1000 with it)
  --follow, -f     keep printing new records as they are written (Ctrl-C to stop)
  --json           one JSON object per line
${COMMON_HELP}
${REMOTE_HELP}`;

/** How long an unseen lower id may still appear (replicas commit batches out of id order). */
const FOLLOW_SLACK_MS = 5000;
const FOLLOW_POLL_MS = 500;

export async function auditCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    since: { type: 'string' }, until: { type: 'string' }, key: { type: 'string' }, denied: { type: 'boolean' }, limit: { type: 'string' },
    follow: { type: 'boolean', short: 'f' }, json: { type: 'boolean' }, admin: { type: 'boolean' }, ...REMOTE_OPTIONS,
  }, 0, 'gatehouse audit');
  if (values.help) {
    console.log(AUDIT_HELP);
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}" (see gatehouse audit --help)`);
  if (values.follow && values.until !== undefined) throw new UsageError('--follow and --until do not go together');
  if (values.admin && values.denied) throw new UsageError('--denied applies to request records, not to --admin');
  if (values.limit !== undefined && !/^[1-9]\d{0,6}$/.test(values.limit)) throw new UsageError(`--limit: expected a positive whole number, got "${values.limit}"`);
  const now = Date.now();
  const since = values.since !== undefined ? parseWhen(values.since, now, '--since') : undefined;
  const until = values.until !== undefined ? parseWhen(values.until, now, '--until') : undefined;
  const limit = values.limit !== undefined ? Number(values.limit) : since !== undefined ? 1000 : 50;
  const json = !!values.json;

  const stores = await openCommandStores(values, configFrom(values), 'audit');
  let following = false;
  try {
    const keyId = values.key !== undefined ? await resolveKeyId(stores, values.key) : undefined;
    const source: Source = values.admin ? adminSource(stores, keyId) : requestSource(stores, keyId, !!values.denied);
    // Newest `limit` when no start is given, else the first `limit` from the start; printed oldest first.
    const first = since === undefined ? (await source.read({ until, limit, order: 'desc' })).reverse() : await source.read({ since, until, limit, order: 'asc' });
    if (!json) console.log(source.header);
    for (const r of first) console.log(json ? source.json(r) : source.line(r));
    if (!json && first.length === 0 && !values.follow) console.log('(no records)');
    if (!values.follow) return 0;
    following = true;
    await follow(source, first.length ? first[first.length - 1]!.id : await source.lastId(), json);
    return 0;
  } finally {
    if (!following) await stores.close();
  }
}

interface Item {
  id: number;
}

interface Source {
  header: string;
  read(q: { since?: number; until?: number; afterId?: number; limit: number; order: 'asc' | 'desc' }): Promise<Item[]>;
  lastId(): Promise<number>;
  line(r: Item): string;
  json(r: Item): string;
}

/** Polls for records past the last id printed, tolerating ids that commit out of order. */
async function follow(source: Source, startId: number, json: boolean): Promise<never> {
  let floor = startId;
  const seen = new Map<number, number>();
  for (;;) {
    await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
    let rows: Item[];
    try {
      rows = await source.read({ afterId: floor, limit: 5000, order: 'asc' });
    } catch (err) {
      console.error(`gatehouse audit: ${(err as Error).message}; retrying`);
      continue;
    }
    const now = Date.now();
    for (const r of rows) {
      if (seen.has(r.id)) continue;
      seen.set(r.id, now);
      console.log(json ? source.json(r) : source.line(r));
    }
    // Ids seen long enough ago that nothing below them can still be in flight become the floor.
    for (const [id, at] of seen) {
      if (now - at >= FOLLOW_SLACK_MS && id > floor) floor = id;
    }
    for (const id of seen.keys()) if (id <= floor) seen.delete(id);
  }
}

function requestSource(stores: Stores, principalId: string | undefined, deniedOnly: boolean): Source {
  return {
    header: row(['TIME', 'REQUEST', 'KEY', 'CLIENT', 'METHOD', 'ROUTE', 'MODEL', 'STATUS', 'DECISION', 'TOKENS P/C', 'TTFB MS', 'MS', 'DETAIL']),
    read: (q) => stores.audit.query({ ...q, principalId, deniedOnly }),
    lastId: async () => (await stores.audit.query({ principalId, deniedOnly, limit: 1, order: 'desc' }))[0]?.id ?? 0,
    line: (i) => {
      const r = i as AuditRecord;
      const detail = [r.reason, r.clientAborted ? 'client aborted' : null, r.tokensEstimated ? 'tokens estimated' : null, r.node ? `node ${r.node}` : null, r.upstreamError ? `upstream: ${r.upstreamError}` : null, r.path ? `path ${r.path}` : null]
        .filter(Boolean)
        .join('; ');
      return row([
        iso(r.at), r.requestId, r.principalName ?? '-', r.clientIp, r.method, r.route ?? '-', r.model ? shortModel(r.model) : '-', String(r.status), r.decision,
        r.promptTokens === null && r.completionTokens === null ? '-' : `${r.promptTokens ?? 0}/${r.completionTokens ?? 0}`,
        r.ttfbMs === null ? '-' : r.ttfbMs.toFixed(1), r.durationMs.toFixed(1), detail,
      ]);
    },
    json: (i) => {
      const r = i as AuditRecord;
      return JSON.stringify({
        id: r.id, time: iso(r.at), request_id: r.requestId, principal_id: r.principalId, principal_name: r.principalName, client_ip: r.clientIp,
        method: r.method, route: r.route, path: r.path, scope: r.scope, model: r.model, models: r.models, decision: r.decision, reason: r.reason,
        status: r.status, prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, tokens_estimated: r.tokensEstimated,
        ttfb_ms: r.ttfbMs, duration_ms: r.durationMs, bytes_in: r.bytesIn, bytes_out: r.bytesOut, client_aborted: r.clientAborted,
        stream: r.stream, upstream: r.upstream, upstream_error: r.upstreamError, node: r.node,
      });
    },
  };
}

function adminSource(stores: Stores, keyId: string | undefined): Source {
  return {
    header: row(['TIME', 'ACTOR', 'ACTION', 'KEY', 'DETAIL'], ADMIN_WIDTHS),
    read: (q) => stores.audit.adminEvents({ ...q, keyId }),
    lastId: async () => (await stores.audit.adminEvents({ keyId, limit: 1, order: 'desc' }))[0]?.id ?? 0,
    line: (i) => {
      const e = i as AdminEvent;
      return row([iso(e.at), e.actor, e.action, e.keyId ?? '-', describeAdmin(e)], ADMIN_WIDTHS);
    },
    json: (i) => {
      const e = i as AdminEvent;
      return JSON.stringify({ id: e.id, time: iso(e.at), actor: e.actor, action: e.action, key_id: e.keyId, detail: e.detail });
    },
  };
}

function describeAdmin(e: AdminEvent): string {
  const d = e.detail;
  if (e.action === 'config.change' && d.changes && typeof d.changes === 'object') {
    return Object.entries(d.changes as Record<string, { from: unknown; to: unknown }>).map(([k, v]) => `${k}: ${JSON.stringify(v.from)} → ${JSON.stringify(v.to)}`).join('; ');
  }
  if (e.action === 'config.initial') return 'configuration first recorded';
  if (e.action === 'key.update') return Object.entries(d as Record<string, { from: unknown; to: unknown }>).map(([k, v]) => `${k}: ${JSON.stringify(v?.from)} → ${JSON.stringify(v?.to)}`).join('; ');
  if (e.action === 'policy.update') {
    const { policy, name, ...changes } = d as Record<string, { from: unknown; to: unknown }>;
    return `policy ${String(name)} (${String(policy)}): ${Object.entries(changes).map(([k, v]) => `${k}: ${JSON.stringify(v?.from)} → ${JSON.stringify(v?.to)}`).join('; ')}`;
  }
  return JSON.stringify(d);
}

const REQUEST_WIDTHS = [24, 18, 14, 15, 6, 18, 16, 6, 8, 11, 8, 9];
const ADMIN_WIDTHS = [24, 28, 14, 16];

/** Fixed-width columns (so --follow lines up without knowing what comes); the last column is free. */
function row(cells: string[], widths: number[] = REQUEST_WIDTHS): string {
  return cells
    .map((c, i) => {
      const w = widths[i];
      if (w === undefined) return c;
      const v = c.length > w ? `${c.slice(0, w - 1)}…` : c;
      return v.padEnd(w);
    })
    .join(' ')
    .trimEnd();
}
