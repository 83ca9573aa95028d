import { request } from 'undici';
import { derived, type UpstreamAddress } from '../../config/resolved.js';
import { readSnapshots, type FleetSnapshot, type NodeView } from '../../fleet/snapshot.js';
import { adminClientFrom, REMOTE_HELP, REMOTE_OPTIONS } from '../admin-client.js';
import { COMMON_HELP, configFrom, parse } from '../args.js';
import { table } from '../output.js';

export const NODES_HELP = `gatehouse nodes: the Ollama nodes behind this gateway, as the running gateway sees them

Usage:
  gatehouse nodes [--config FILE] [--json]

For each node in upstreams (or the one upstream): health, circuit breaker, requests in flight
against its parallel slots, requests waiting in the gateway's queue, the models loaded there
with when they expire, how many are installed, and the last error. The running gateway writes
its view to <data_dir>/nodes/ every second (every --workers process its own; in-flight and
queue are summed); when no gateway has written one in the last 5 s, each node is asked directly
(/api/ps, /api/tags) and in-flight and queue are shown as "-".
With --url (or GATEHOUSE_URL), the gateway's admin API answers with its live view instead.
Options:
  --json             print the same as JSON
${COMMON_HELP}
${REMOTE_HELP}`;

const FRESH_MS = 5000;

interface Row extends Omit<NodeView, 'inFlight'> {
  inFlight: number | null;
}

export async function nodesCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { json: { type: 'boolean' }, ...REMOTE_OPTIONS }, 0, 'gatehouse nodes');
  if (values.help) {
    console.log(NODES_HELP);
    return 0;
  }
  const { config } = configFrom(values);
  const client = adminClientFrom(values);
  let live: boolean;
  let rows: Row[];
  let queued: number | null;
  let processes: number;
  if (client) {
    // The gateway answering --url: its own live view (one process of it, with --workers).
    const view = await client.get<{ processes: number; queued: number; nodes: Row[] }>('/nodes');
    ({ processes, queued, nodes: rows } = view);
    live = true;
  } else {
    const targets = derived(config).upstreams;
    const snaps = readSnapshots(config.data_dir, FRESH_MS);
    live = snaps.length > 0;
    rows = live ? merge(targets, snaps) : await Promise.all(targets.map(direct));
    queued = live ? snaps.reduce((s, x) => s + x.queued, 0) : null;
    processes = snaps.length;
  }
  if (values.json) {
    console.log(JSON.stringify({ source: live ? 'gateway' : 'nodes', processes, queued, nodes: rows }, null, 2));
    return 0;
  }
  if (!live) console.log(`No running gateway has written its view to ${config.data_dir}/nodes in the last 5 s (is \`gatehouse serve\` running with this data_dir and upstreams?); asking each node directly.\n`);
  const head = ['NODE', 'HEALTH', 'BREAKER', 'IN-FLIGHT', 'RESIDENT (EXPIRES)', 'INSTALLED', 'LAST ERROR'];
  console.log(table([head, ...rows.map((r) => [
    r.name,
    r.health,
    r.breaker,
    `${r.inFlight ?? '-'}/${r.parallel}`,
    r.resident.length ? r.resident.map((m) => `${short(m.model)}${m.loading ? ' (loading)' : m.expiresAt ? ` (${until(m.expiresAt)})` : ' (forever)'}`).join(', ') : '-',
    String(r.installed),
    r.lastError ? `${r.lastError.message} (${r.lastError.at})` : '-',
  ])]));
  if (queued !== null) console.log(`\nwaiting in the gateway's queue: ${queued}${processes > 1 ? ` (${processes} processes)` : ''}`);
  return 0;
}

/** Several processes' views of the same nodes: in-flight summed, the rest from the freshest. */
function merge(targets: readonly UpstreamAddress[], snaps: FleetSnapshot[]): Row[] {
  snaps.sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
  return targets.map((t) => {
    const views = snaps.map((s) => s.nodes.find((n) => n.name === t.name)).filter((v): v is NodeView => !!v);
    const first = views[0];
    if (!first) return unknownRow(t);
    return { ...first, inFlight: views.reduce((s, v) => s + v.inFlight, 0) };
  });
}

function unknownRow(t: UpstreamAddress): Row {
  return { name: t.name, url: t.url, health: 'unknown', breaker: 'closed', inFlight: null, parallel: t.parallel, maxLoaded: t.maxLoaded, resident: [], installed: 0, lastError: null, coldLoads: 0, coldLoadSeconds: 0, retries: 0, requests: 0 };
}

/** No gateway view: what the node itself says. */
async function direct(t: UpstreamAddress): Promise<Row> {
  const row = unknownRow(t);
  try {
    const ps = (await getJson(t, '/api/ps')) as { models?: Record<string, unknown>[] };
    const tags = (await getJson(t, '/api/tags')) as { models?: unknown[] };
    row.health = 'up';
    row.installed = Array.isArray(tags.models) ? tags.models.length : 0;
    row.resident = (Array.isArray(ps.models) ? ps.models : []).map((m) => ({
      model: String(m.model ?? m.name ?? '?'),
      expiresAt: typeof m.expires_at === 'string' ? m.expires_at : null,
      loading: false,
      sizeVram: typeof m.size_vram === 'number' ? m.size_vram : null,
    }));
  } catch (err) {
    row.health = 'down';
    row.lastError = { at: new Date().toISOString(), message: (err as Error).message };
  }
  return row;
}

async function getJson(t: UpstreamAddress, path: string): Promise<unknown> {
  const r = await request(`${t.origin}${path}`, { headers: { host: t.host }, headersTimeout: 3000, bodyTimeout: 3000 });
  if (r.statusCode !== 200) {
    await r.body.dump();
    throw new Error(`${path} answered ${r.statusCode}`);
  }
  return r.body.json();
}

function short(model: string): string {
  return model.replace(/^registry\.ollama\.ai\/library\//, '').replace(/:latest$/, '');
}

function until(iso: string): string {
  const s = Math.round((Date.parse(iso) - Date.now()) / 1000);
  if (!Number.isFinite(s)) return iso;
  if (s > 86400 * 365) return 'forever';
  return s <= 0 ? 'expiring' : s < 120 ? `in ${s}s` : `in ${Math.round(s / 60)}m`;
}
