/**
 * Tables from the benchmark's raw records (results.jsonl + meta.json in one output folder).
 * Used by run.ts at the end of a run; also on its own, to redo the tables of earlier runs:
 *   node dist/bench/report.js bench/out/<timestamp> [more folders: their runs are pooled]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, minMax, type Summary } from './lib/stats.js';

export type Scenario = 's1' | 's2' | 's3' | 's3o' | 's4' | 's5';

export interface Rec {
  kind: 'measure';
  run: number;
  scenario: Scenario;
  target: string;
  position: number;
  wall_s: number;
  /** normalised load result */
  rate: number;
  units: number;
  ok: number;
  non2xx: number;
  errors: number;
  latency_ms: Summary | null;
  ttfb_ms?: Summary | null;
  stream_ms?: Summary | null;
  streams?: number;
  complete?: number;
  opened?: number | null;
  header_ms: Summary | null;
  client_cpu_pct: number | null;
  proxy: { cpu_pct: number; cpu_us_per_unit: number; peak_rss_mib: number; rss_start_mib?: number } | null;
  upstream_cpu_pct: number;
  host: { busy_pct: number; irq_pct?: number; steal_pct: number; foreign_pct: number };
  raw: Record<string, unknown>;
}

export interface Meta {
  started: string;
  finished?: string;
  machine: Record<string, string | number>;
  git: { commit: string; dirty_files: number } | null;
  knobs: Record<string, string | number>;
  targets: { name: string; auth: string; notes: string[] }[];
  generator: { s1s2: string; streams: string };
  runs: number;
}

const TITLES: Record<Scenario, (k: Record<string, string | number>) => string> = {
  s1: (k) => `S1: GET /api/tags (~1 KB), closed loop, ${k.CONNS} connections, ${k.DUR} s × ${k.RUNS}`,
  s2: (k) => `S2: POST /api/chat non-streaming (~130 B in, ~580 B out), closed loop, ${k.CONNS} connections, ${k.DUR} s × ${k.RUNS}`,
  s3: (k) => `S3: POST /api/generate NDJSON stream, ${k.FAST_CHUNKS} chunks as fast as possible, ${k.STREAMS} concurrent streams, closed loop, ${k.DUR} s × ${k.RUNS}`,
  s3o: (k) => `S3o: POST /v1/chat/completions SSE stream, ${k.FAST_CHUNKS} chunks, ${k.STREAMS} concurrent streams, closed loop, ${k.DUR} s × ${k.RUNS}`,
  s4: (k) => `S4: ${k.SLOW_STREAMS} concurrent slow streams, ${k.SLOW_CHUNKS} chunks × ${k.SLOW_DELAY_MS} ms, opened over ${k.SLOW_RAMP} s, × ${k.S4_RUNS}`,
  s5: (k) => `S5: POST /api/chat at a fixed ${k.RATE} req/s, open loop, ${k.WARM} s warm-up + ${k.RATE_DUR} s × ${k.RUNS}`,
};

const label = (sc: Scenario) => (sc === 's3o' ? 'S3o' : sc.toUpperCase());

const NOTES: Partial<Record<Scenario, string>> = {
  s1: 'Latencies are wrk\'s (closed loop: a stalled connection sends nothing, so they understate queueing).',
  s5: 'Latency is measured from each request\'s scheduled send time, so queueing counts. "Client send lag" is how late the\n' +
    'client\'s own scheduler was at worst: when it is tens of ms, the host (not the proxy) delayed the client and the tails are noise.',
  s3: 'The Node stream client is the bottleneck here (about one core), so chunks/s ratios are compressed and can exceed 1: a proxy\n' +
    'that merges small upstream chunks into fewer reads makes the client cheaper. Compare proxy CPU µs/chunk instead.',
  s3o: 'Same caveat as S3. Gatehouse injects `stream_options.include_usage` and strips the usage chunk it added.',
  s4: 'A stream is complete if it ended within twice its natural length. KiB/stream = (peak RSS − RSS at the start) / streams.',
};

export function fmt(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a >= 100_000) return `${Math.round(x / 1000)}k`;
  if (a >= 10_000) return `${(x / 1000).toFixed(1)}k`;
  if (a >= 100) return String(Math.round(x));
  if (a >= 10) return x.toFixed(Math.min(digits, 1));
  return x.toFixed(digits);
}

const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
const head = (cols: string[]) => [row(cols), row(cols.map(() => '---'))];

function pick(recs: Rec[], sc: Scenario, target: string): Rec[] {
  return recs.filter((r) => r.scenario === sc && r.target === target);
}

/** Median over runs of target/ref (or target − ref) within the same run round; ref is direct unless given. */
function paired(recs: Rec[], sc: Scenario, target: string, f: (r: Rec) => number | undefined, op: 'ratio' | 'diff', ref = 'direct'): number {
  const out: number[] = [];
  for (const r of pick(recs, sc, target)) {
    const d = recs.find((x) => x.scenario === sc && x.target === ref && x.run === r.run);
    const a = f(r);
    const b = d ? f(d) : undefined;
    if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) continue;
    out.push(op === 'ratio' ? a / b : a - b);
  }
  return median(out);
}

const med = (rs: Rec[], f: (r: Rec) => number | null | undefined) => median(rs.map(f));
const sum = (rs: Rec[], f: (r: Rec) => number | null | undefined) => rs.reduce((a, r) => a + (f(r) ?? 0), 0);

function rateCell(rs: Rec[]): string {
  const [lo, hi] = minMax(rs.map((r) => r.rate));
  return rs.length > 1 ? `${fmt(med(rs, (r) => r.rate))} (${fmt(lo)}–${fmt(hi)})` : fmt(med(rs, (r) => r.rate));
}

function proxyCells(rs: Rec[], perUnit: string): string[] {
  if (!rs.some((r) => r.proxy)) return ['–', '–', '–'];
  const digits = perUnit === 'chunk' ? 2 : 0;
  return [fmt(med(rs, (r) => r.proxy?.cpu_pct), 0), fmt(med(rs, (r) => r.proxy?.cpu_us_per_unit), digits), fmt(Math.max(...rs.map((r) => r.proxy?.peak_rss_mib ?? 0)), 0)];
}

function httpTable(recs: Rec[], sc: 's1' | 's2', targets: string[]): string[] {
  const lines = head(['target', 'req/s median (min–max)', 'x direct', 'p50 ms', 'p99 ms', 'proxy CPU %', 'proxy CPU µs/req', 'peak RSS MiB', 'non-2xx / errors']);
  for (const t of targets) {
    const rs = pick(recs, sc, t);
    if (!rs.length) continue;
    lines.push(row([
      t, rateCell(rs), t === 'direct' ? '1' : fmt(paired(recs, sc, t, (r) => r.rate, 'ratio')),
      fmt(med(rs, (r) => r.latency_ms?.p50)), fmt(med(rs, (r) => r.latency_ms?.p99)),
      ...proxyCells(rs, 'req'), `${sum(rs, (r) => r.non2xx)} / ${sum(rs, (r) => r.errors)}`,
    ]));
  }
  return lines;
}

function streamTable(recs: Rec[], sc: 's3' | 's3o', targets: string[]): string[] {
  const lines = head(['target', 'chunks/s median (min–max)', 'x direct', 'streams/s', 'TTFB p50 ms', 'TTFB p99 ms', 'stream p50 ms', 'complete/streams', 'proxy CPU %', 'proxy CPU µs/chunk', 'upstream CPU %', 'peak RSS MiB']);
  for (const t of targets) {
    const rs = pick(recs, sc, t);
    if (!rs.length) continue;
    const [pc, pu, rss] = proxyCells(rs, 'chunk');
    lines.push(row([
      t, rateCell(rs), t === 'direct' ? '1' : fmt(paired(recs, sc, t, (r) => r.rate, 'ratio')),
      fmt(med(rs, (r) => r.streams! / r.wall_s), 0), fmt(med(rs, (r) => r.ttfb_ms?.p50)), fmt(med(rs, (r) => r.ttfb_ms?.p99)),
      fmt(med(rs, (r) => r.stream_ms?.p50), 0), `${sum(rs, (r) => r.complete)}/${sum(rs, (r) => r.streams)}`,
      pc!, pu!, fmt(med(rs, (r) => r.upstream_cpu_pct), 0), rss!,
    ]));
  }
  return lines;
}

function slowTable(recs: Rec[], targets: string[]): string[] {
  const lines = head(['target', 'complete/opened', 'errors', 'TTFB p50 ms', 'TTFB p99 ms', 'stream p50 s', 'stream max s', 'proxy CPU %', 'upstream CPU %', 'peak RSS MiB', 'KiB/stream (peak − start)']);
  for (const t of targets) {
    const rs = pick(recs, 's4', t);
    if (!rs.length) continue;
    const opened = sum(rs, (r) => r.opened ?? 0);
    const rssMiB = Math.max(...rs.map((r) => r.proxy?.peak_rss_mib ?? NaN));
    // memory per open stream: growth of the tree's RSS over the run (peak − RSS at the start), per stream
    const perStream = med(rs, (r) => (r.proxy && r.opened ? ((r.proxy.peak_rss_mib - (r.proxy.rss_start_mib ?? 0)) * 1024) / r.opened : NaN));
    lines.push(row([
      t, `${sum(rs, (r) => r.complete)}/${opened}`, `${sum(rs, (r) => r.errors)}`,
      fmt(med(rs, (r) => r.ttfb_ms?.p50)), fmt(med(rs, (r) => r.ttfb_ms?.p99)),
      fmt(med(rs, (r) => (r.stream_ms ? r.stream_ms.p50 / 1000 : NaN))), fmt(med(rs, (r) => (r.stream_ms ? r.stream_ms.max / 1000 : NaN))),
      rs.some((r) => r.proxy) ? fmt(med(rs, (r) => r.proxy?.cpu_pct), 0) : '–', fmt(med(rs, (r) => r.upstream_cpu_pct), 0),
      rs.some((r) => r.proxy) ? fmt(rssMiB, 0) : '–',
      rs.some((r) => r.proxy) ? fmt(perStream, 0) : '–',
    ]));
  }
  return lines;
}

function openLoopTable(recs: Rec[], targets: string[]): string[] {
  const lines = head(['target', 'ok/sent', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'p50 − direct ms', 'p99 − direct ms', 'proxy CPU %', 'proxy CPU µs/req', 'peak RSS MiB', 'client CPU %', 'client send lag max ms']);
  for (const t of targets) {
    const rs = pick(recs, 's5', t);
    if (!rs.length) continue;
    const isDirect = t === 'direct';
    lines.push(row([
      t, `${sum(rs, (r) => r.ok)}/${sum(rs, (r) => r.units + r.errors)}`,
      fmt(med(rs, (r) => r.latency_ms?.p50)), fmt(med(rs, (r) => r.latency_ms?.p90)), fmt(med(rs, (r) => r.latency_ms?.p99)), fmt(med(rs, (r) => r.latency_ms?.max)),
      isDirect ? '–' : fmt(paired(recs, 's5', t, (r) => r.latency_ms?.p50, 'diff')), isDirect ? '–' : fmt(paired(recs, 's5', t, (r) => r.latency_ms?.p99, 'diff')),
      ...proxyCells(rs, 'req'), fmt(med(rs, (r) => r.client_cpu_pct), 0),
      // how late the client's own scheduler sent a request: a busy host delays the client itself
      fmt(med(rs, (r) => r.raw.max_send_lag_ms as number | undefined)),
    ]));
  }
  return lines;
}

function overheadTable(recs: Rec[]): string[] {
  const lines = head(['scenario', 'responses with the header', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms']);
  for (const sc of ['s2', 's5', 's3', 's3o', 's4'] as Scenario[]) {
    const rs = pick(recs, sc, 'gatehouse').filter((r) => r.header_ms);
    if (!rs.length) continue;
    lines.push(row([
      label(sc), `${sum(rs, (r) => r.header_ms!.n)}/${sum(rs, (r) => (sc === 's3' || sc === 's3o' || sc === 's4' ? r.streams ?? 0 : r.units))}`,
      fmt(med(rs, (r) => r.header_ms!.p50), 3), fmt(med(rs, (r) => r.header_ms!.p90), 3), fmt(med(rs, (r) => r.header_ms!.p99), 3),
      fmt(med(rs, (r) => r.header_ms!.p999), 3), fmt(Math.max(...rs.map((r) => r.header_ms!.max)), 3),
    ]));
  }
  return lines.length > 2 ? lines : [];
}

/** One line per scenario: Gatehouse against direct and against the other proxies, paired within rounds. */
function summaryTable(recs: Rec[], targets: string[]): string[] {
  const gh = 'gatehouse';
  const others = targets.filter((t) => t !== gh && t !== 'direct' && recs.some((r) => r.target === t));
  const lines = head(['scenario', 'Gatehouse x direct', 'added latency vs direct, p50 / p99 ms (streams: TTFB)', 'Gatehouse proxy CPU', ...others.map((o) => `CPU x ${o}`)]);
  const cpu = (r: Rec) => r.proxy?.cpu_us_per_unit;
  for (const sc of ['s1', 's2', 's5', 's3', 's3o', 's4'] as Scenario[]) {
    if (!pick(recs, sc, gh).length) continue;
    const stream = sc === 's3' || sc === 's3o' || sc === 's4';
    const lat = (f: (r: Rec) => number | undefined) => paired(recs, sc, gh, f, 'diff');
    const p50 = stream ? lat((r) => r.ttfb_ms?.p50) : lat((r) => r.latency_ms?.p50);
    const p99 = stream ? lat((r) => r.ttfb_ms?.p99) : lat((r) => r.latency_ms?.p99);
    lines.push(row([
      label(sc),
      sc === 's5' || sc === 's4' ? '–' : fmt(paired(recs, sc, gh, (r) => r.rate, 'ratio')),
      `${fmt(p50)} / ${fmt(p99)}`,
      `${fmt(med(pick(recs, sc, gh), cpu), stream ? 2 : 0)} µs/${stream ? 'chunk' : 'req'}`,
      ...others.map((o) => fmt(paired(recs, sc, gh, cpu, 'ratio', o))),
    ]));
  }
  return lines.length > 2 ? lines : [];
}

/**
 * Issue #4's measure: what limits cost. `gatehouse` has rpm + tpm + concurrency on its key (memory
 * backend), `gatehouse-redis` the same on Redis, `gatehouse-auth` a key with no limits.
 */
function limitsTable(recs: Rec[]): string[] {
  const base = 'gatehouse-auth';
  const lines = head(['scenario', 'auth only, req/s', 'memory limits x auth only', 'redis limits x auth only', 'CPU µs/req: auth / memory / redis']);
  const cpu = (r: Rec) => r.proxy?.cpu_us_per_unit;
  for (const sc of ['s1', 's2'] as Scenario[]) {
    if (!pick(recs, sc, base).length) continue;
    const ratio = (t: string) => (pick(recs, sc, t).length ? fmt(paired(recs, sc, t, (r) => r.rate, 'ratio', base)) : '–');
    const c = (t: string) => (pick(recs, sc, t).length ? fmt(med(pick(recs, sc, t), cpu), 1) : '–');
    lines.push(row([label(sc), fmt(med(pick(recs, sc, base), (r) => r.rate)), ratio('gatehouse'), ratio('gatehouse-redis'), `${c(base)} / ${c('gatehouse')} / ${c('gatehouse-redis')}`]));
  }
  return lines.length > 2 ? lines : [];
}

/**
 * Issue #21 item 1: a JWT as the credential (`gatehouse-jwt`: auth.oidc, the token cached after its
 * first verification) against the API key (`gatehouse`), same limits, paired within each round.
 */
function jwtTable(recs: Rec[]): string[] {
  const lines = head(['scenario', 'JWT x API key, req/s', 'CPU µs/req: API key / JWT']);
  const cpu = (r: Rec) => r.proxy?.cpu_us_per_unit;
  for (const sc of ['s1', 's2', 's5'] as Scenario[]) {
    if (!pick(recs, sc, 'gatehouse-jwt').length || !pick(recs, sc, 'gatehouse').length) continue;
    const c = (t: string) => fmt(med(pick(recs, sc, t), cpu), 1);
    lines.push(row([label(sc), sc === 's5' ? '–' : fmt(paired(recs, sc, 'gatehouse-jwt', (r) => r.rate, 'ratio', 'gatehouse')), `${c('gatehouse')} / ${c('gatehouse-jwt')}`]));
  }
  return lines.length > 2 ? lines : [];
}

function noiseTable(recs: Rec[], targets: string[]): string[] {
  const scs = (['s1', 's2', 's3', 's3o'] as Scenario[]).filter((s) => recs.some((r) => r.scenario === s));
  const lines = head(['target', ...scs.map((s) => `${label(s)} spread`), "other processes' CPU % median (max)", 'steal % median (max)']);
  for (const t of targets) {
    const rs = recs.filter((r) => r.target === t);
    if (!rs.length) continue;
    const spread = (s: Scenario) => {
      const v = pick(recs, s, t).map((r) => r.rate);
      if (v.length < 2) return '–';
      const [lo, hi] = minMax(v);
      return `${Math.round(((hi - lo) / median(v)) * 100)}%`;
    };
    const [, fMax] = minMax(rs.map((r) => r.host.foreign_pct));
    const [, sMax] = minMax(rs.map((r) => r.host.steal_pct));
    lines.push(row([t, ...scs.map(spread), `${fmt(med(rs, (r) => r.host.foreign_pct), 0)} (${fmt(fMax, 0)})`, `${fmt(med(rs, (r) => r.host.steal_pct), 0)} (${fmt(sMax, 0)})`]));
  }
  return lines;
}

export function render(recs: Rec[], meta: Meta): string {
  const order = meta.targets.map((t) => t.name).filter((n) => n !== 'direct').concat('direct');
  const k = meta.knobs;
  const m = meta.machine;
  const out: string[] = [];
  out.push(`# Gatehouse benchmark, ${meta.started}`, '');
  out.push(`Machine: ${m.cpu}, ${m.cores} cores, ${m.ram_gib} GiB RAM, ${m.os}; Node ${m.node}; ${m.wrk}; ${m.nginx}.`);
  out.push(`Load average at start ${m.loadavg_start}, at end ${m.loadavg_end ?? '?'}.`);
  const [, othersMax] = minMax(recs.map((r) => r.host.foreign_pct));
  const othersMed = median(recs.map((r) => r.host.foreign_pct));
  if (Number.isFinite(othersMed)) {
    out.push(`Other processes on the host used a median ${fmt(othersMed, 0)}% (max ${fmt(othersMax, 0)}%) of one core during the measurements${othersMed > 20 ? ' **(busy host: expect noise; see "Noise")**' : ''}.`);
  }
  if (meta.git) out.push(`Gatehouse: commit ${meta.git.commit}${meta.git.dirty_files ? ` + ${meta.git.dirty_files} uncommitted file(s) in the working tree` : ''}.`);
  out.push(`Load: S1/S2 ${meta.generator.s1s2}; S3/S5 ${meta.generator.streams}. Proxy, upstream and load generator share the cores (no pinning).`);
  out.push(`Knobs: ${Object.entries(k).map(([a, b]) => `${a}=${b}`).join(' ')}`, '');
  out.push('"x direct" = median over runs of target/direct measured in the same round. Proxy CPU % is of one core, over the whole');
  out.push('process tree (utime+stime from /proc); µs/req (µs/chunk) = proxy CPU time / requests (chunks); peak RSS = VmHWM summed');
  out.push('over the tree, reset before each measurement. Medians over runs; latencies are the median of each run\'s percentile.', '');
  const sm = summaryTable(recs, order);
  if (sm.length) {
    out.push('## Gatehouse at a glance', '');
    out.push('Medians over runs of ratios (or differences) paired within each round. "x direct" is throughput (req/s or chunks/s)');
    out.push('relative to the upstream alone; "CPU x nginx" is Gatehouse\'s CPU per request (chunk) over nginx\'s.', '', ...sm, '');
  }
  out.push('## Auth check (before measuring)', '', ...head(['target', 'wrong token', 'right token', 'notes']));
  const cell = (x: string) => x.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
  for (const t of meta.targets) out.push(row([t.name, ...t.auth.split(' / ').map(cell), cell(t.notes.join('; ')) || '–']));
  out.push('');
  const sections: [Scenario, () => string[]][] = [
    ['s1', () => httpTable(recs, 's1', order)],
    ['s2', () => httpTable(recs, 's2', order)],
    ['s5', () => openLoopTable(recs, order)],
    ['s3', () => streamTable(recs, 's3', order)],
    ['s3o', () => streamTable(recs, 's3o', order)],
    ['s4', () => slowTable(recs, order)],
  ];
  for (const [sc, table] of sections) {
    if (!recs.some((r) => r.scenario === sc)) continue;
    out.push(`## ${TITLES[sc](k)}`, '', ...table(), '');
    if (NOTES[sc]) out.push(NOTES[sc], '');
  }
  const jt = jwtTable(recs);
  if (jt.length) out.push('## A JWT instead of an API key', '', 'The same gateway, clients sending a JWT from a loopback OpenID issuer (auth.oidc; verified once, then from the verify cache) instead of the key; the policy has the key\'s limits.', '', ...jt, '');
  const lt = limitsTable(recs);
  if (lt.length) {
    out.push('## What limits cost', '');
    out.push('Throughput with rpm + tpm + concurrency on the key (limits far above the load: the limiter runs, never refuses),');
    out.push('relative to the same gateway with a key that has no limits, paired within each round. Redis: the local Redis,');
    out.push('on the same 2 cores.', '', ...lt, '');
  }
  const oh = overheadTable(recs);
  if (oh.length) {
    out.push('## Gatehouse `x-gatehouse-overhead-ms` (time inside Gatehouse before the request went upstream)', '');
    out.push('The header covers Gatehouse\'s own request path up to the upstream dispatch (auth, body read and checks, limiter);');
    out.push('HTTP parsing, routing before it and the whole response path are outside it, so it is far below the CPU per request.');
    out.push('Median over runs of each run\'s percentile; max is the largest seen. S2 is at saturation, S5 at the fixed rate.', '', ...oh, '');
  }
  out.push('## Noise', '');
  out.push('Spread = (max − min)/median of the rate over runs. "Other processes" = CPU time (utime+stime from /proc) of every');
  out.push('process that is not this benchmark or a kernel thread, during each measurement, in % of one core: a lower bound of what');
  out.push('something else on the host took from the 2 cores. Steal = time the hypervisor gave to other guests.', '', ...noiseTable(recs, order), '');
  return out.join('\n');
}

function load(dir: string): { recs: Rec[]; meta: Meta } {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
  const recs = readFileSync(join(dir, 'results.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec).filter((r) => r.kind === 'measure');
  return { recs, meta };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dirs = process.argv.slice(2);
  if (!dirs.length) {
    console.error('usage: node dist/bench/report.js bench/out/<timestamp> [more…]');
    process.exit(2);
  }
  const all = dirs.map(load);
  let offset = 0;
  const recs: Rec[] = [];
  for (const { recs: rs } of all) {
    const maxRun = Math.max(0, ...rs.map((r) => r.run));
    for (const r of rs) recs.push({ ...r, run: r.run + offset });
    offset += maxRun;
  }
  const meta = all[0]!.meta;
  if (all.length > 1) meta.knobs = { ...meta.knobs, RUNS: `${offset} (rounds pooled from ${dirs.length} output folders)` };
  process.stdout.write(render(recs, meta));
}
