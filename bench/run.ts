/**
 * `npm run bench`: Gatehouse next to `direct` (the fake upstream itself), nginx (if installed) and a
 * bare node:http + undici proxy, in one run, on this machine. See docs/performance.md.
 *
 * Starts the fake upstream (bench/upstream.ts) and every target as child processes, checks that
 * each proxy answers 401 to a wrong token and 2xx to the right one, then runs the scenarios with
 * the targets interleaved (RUNS rounds, target order rotated every round), measuring each proxy's
 * whole process tree (CPU from /proc/PID/stat, peak RSS from VmHWM, reset before each
 * measurement). Prints a Markdown report and writes it, with the raw JSON lines, to
 * bench/out/<timestamp>/. Only 127.0.0.1 is used; every load step stops by itself.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { freePort, runJson, startServer, waitHttp, which, type Server } from './lib/children.js';
import { clockTicks, hostCpu, othersCpuSeconds, othersTicks, resetPeakRss, treeCpuSeconds, treePeakRssKiB } from './lib/proc.js';
import { direct, gatehouse, nginx, nodeUndici, type Paths, type Target } from './lib/targets.js';
import { wrk } from './lib/wrk.js';
import { startBenchIssuer, type BenchIssuer } from './lib/jwks.js';
import { render, type Meta, type Rec, type Scenario } from './report.js';
import type { Summary } from './lib/stats.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');

// ---------------------------------------------------------------- knobs
function knob(name: string, def: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${v}"`);
  return n;
}
const K = {
  RUNS: Math.max(1, Math.round(knob('RUNS', 3))),
  DUR: knob('DUR', 3),
  CONNS: knob('CONNS', 64),
  WRK_THREADS: knob('WRK_THREADS', 1),
  STREAMS: knob('STREAMS', 32),
  FAST_CHUNKS: knob('FAST_CHUNKS', 256),
  RATE: knob('RATE', 1000),
  RATE_DUR: knob('RATE_DUR', 4),
  RATE_CONNS: knob('RATE_CONNS', 64),
  WARM: knob('WARM', 1),
  SLOW_STREAMS: knob('SLOW_STREAMS', 2000),
  SLOW_CHUNKS: knob('SLOW_CHUNKS', 200),
  SLOW_DELAY_MS: knob('SLOW_DELAY_MS', 100),
  SLOW_RAMP: knob('SLOW_RAMP', 5),
  S4_RUNS: Math.max(1, Math.round(knob('S4_RUNS', 1))),
  WORKERS: Math.max(2, Math.round(knob('WORKERS', 2))),
};
const ALL: Scenario[] = ['s1', 's2', 's5', 's3', 's3o', 's4'];
const scenarios = new Set<Scenario>(
  (process.env.SCENARIOS ?? 's1,s2,s3,s5').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean).map((s) => {
    if (!ALL.includes(s as Scenario)) throw new Error(`SCENARIOS: unknown "${s}" (known: ${ALL.join(', ')})`);
    return s as Scenario;
  }),
);
if (process.env.S4 === '1') scenarios.add('s4');
const wantTargets = new Set((process.env.TARGETS ?? 'gatehouse,gatehouse-jwt,nginx,node-undici').split(',').map((s) => s.trim()).filter(Boolean));
const HEADER = 'x-gatehouse-overhead-ms';
const MODEL = 'llama3.2:1b';
const BODY = {
  chat: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Why is the sky blue? Answer in one short paragraph.' }], stream: false }),
  generate: (n: number, delayMs = 0) => JSON.stringify({ model: MODEL, prompt: delayMs ? `Tell me a story. delay_ms=${delayMs}` : 'Tell me a story.', stream: true, options: { num_predict: n } }),
  openai: (n: number) => JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Tell me a story.' }], stream: true, max_tokens: n }),
};

// ---------------------------------------------------------------- output
const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace('Z', '');
const runDir = resolve(process.env.OUT ?? join(ROOT, 'bench', 'out', stamp));
mkdirSync(join(runDir, 'logs'), { recursive: true });
const resultsFile = join(runDir, 'results.jsonl');
const log = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

function machine(wrkBin: string | null, nginxBin: string | null): Record<string, string | number> {
  let os = `Linux ${release()}`;
  try {
    const m = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m) os = `${m[1]}, kernel ${release()}`;
  } catch {
    /* keep */
  }
  return {
    cpu: cpus()[0]?.model.trim() ?? '?', cores: cpus().length, ram_gib: Math.round(totalmem() / 2 ** 30), os, node: process.version,
    wrk: wrkBin ? (/wrk [^\s]+/.exec(sh(wrkBin, ['-v']))?.[0] ?? 'wrk') : 'no wrk (Node closed-loop generator)',
    nginx: nginxBin ? (/nginx\/[\d.]+/.exec(sh(nginxBin, ['-v']))?.[0] ?? 'nginx') : 'no nginx',
    loadavg_start: loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

function gitInfo(): Meta['git'] {
  const head = spawnSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0) return null;
  const st = spawnSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' });
  return { commit: head.stdout.trim(), dirty_files: st.stdout.split('\n').filter(Boolean).length };
}

// ---------------------------------------------------------------- checks
async function call(t: Target, method: 'GET' | 'POST', path: string, body: string | null, token: string | null) {
  const headers: Record<string, string> = body ? { 'content-type': 'application/json' } : {};
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await request(t.url + path, { method, headers, body, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, text };
}

/** "wrong token → status / right token → statuses"; ok = the right token works end to end. */
async function authCheck(t: Target): Promise<{ ok: boolean; auth: string; notes: string[] }> {
  const notes: string[] = [];
  const tags = await call(t, 'GET', '/api/tags', null, t.token);
  const chat = await call(t, 'POST', '/api/chat', BODY.chat, t.token);
  const gen = await call(t, 'POST', '/api/generate', BODY.generate(4), t.token);
  const ok2 = (s: number) => s >= 200 && s < 300;
  const streamOk = gen.status === 200 && gen.text.includes('"done":true');
  const ok = ok2(tags.status) && ok2(chat.status) && streamOk;
  let wrong = 'no auth';
  if (t.token) {
    // Well-formed, one character off, not the last: a JWT's last base64url character carries unused
    // bits, so changing only those would still decode to the same (valid) signature.
    const i = t.token.length - 10;
    const bad = t.token.slice(0, i) + (t.token[i] === 'A' ? 'B' : 'A') + t.token.slice(i + 1);
    const w = await call(t, 'GET', '/api/tags', null, bad);
    const none = await call(t, 'GET', '/api/tags', null, null);
    wrong = w.status === 401 && none.status === 401 ? '401 (yes)' : `${w.status} / no token ${none.status} (NOT 401)`;
  }
  if (t.name.startsWith('gatehouse')) notes.push(typeof chat.headers[HEADER] === 'string' ? `${HEADER} present` : `${HEADER} MISSING`);
  const right = `${ok ? '2xx (yes)' : 'FAILED'}: tags ${tags.status}, chat ${chat.status}, stream ${gen.status}${streamOk ? '' : ' (no done:true)'}`;
  return { ok, auth: `${wrong} / ${right}`, notes };
}

// ---------------------------------------------------------------- measurement
interface Load {
  rate: number;
  units: number;
  ok: number;
  non2xx: number;
  errors: number;
  latency_ms: Summary | null;
  header_ms: Summary | null;
  client_cpu_pct: number | null;
  /** requests the proxy served during the CPU window, if not `units` (S5 also serves its warm-up) */
  cpuUnits?: number;
  extra?: Partial<Rec>;
  raw: Record<string, unknown>;
}

let upstream: Server;

async function measured(t: Target, fn: () => Promise<Load>): Promise<Omit<Rec, 'kind' | 'run' | 'scenario' | 'target' | 'position'>> {
  if (t.pid) resetPeakRss(t.pid);
  const rss0 = t.pid ? treePeakRssKiB(t.pid, 'VmRSS') : 0;
  const p0 = t.pid ? treeCpuSeconds(t.pid) : 0;
  const u0 = treeCpuSeconds(upstream.pid);
  const o0 = othersTicks();
  const h0 = hostCpu();
  const w0 = performance.now();
  const l = await fn();
  const wall = (performance.now() - w0) / 1000;
  const h1 = hostCpu();
  const others = othersCpuSeconds(o0, othersTicks());
  const u = treeCpuSeconds(upstream.pid) - u0;
  const proxyCpu = t.pid ? treeCpuSeconds(t.pid) - p0 : 0;
  const hz = clockTicks();
  const pct = (s: number) => Number(((s / wall) * 100).toFixed(1));
  return {
    wall_s: Number(wall.toFixed(3)), rate: l.rate, units: l.units, ok: l.ok, non2xx: l.non2xx, errors: l.errors,
    latency_ms: l.latency_ms, header_ms: l.header_ms, client_cpu_pct: l.client_cpu_pct, ...l.extra,
    proxy: t.pid ? { cpu_pct: pct(proxyCpu), cpu_us_per_unit: (l.cpuUnits ?? l.units) ? Number(((proxyCpu * 1e6) / (l.cpuUnits ?? l.units)).toFixed(2)) : NaN, peak_rss_mib: Number((treePeakRssKiB(t.pid) / 1024).toFixed(1)), rss_start_mib: Number((rss0 / 1024).toFixed(1)) } : null,
    upstream_cpu_pct: pct(u),
    host: { busy_pct: pct((h1.busy - h0.busy) / hz), irq_pct: pct((h1.irq - h0.irq) / hz), steal_pct: pct((h1.steal - h0.steal) / hz), foreign_pct: pct(others) },
    raw: l.raw,
  };
}

const words = (s: string | undefined) => (s ?? '').split(/\s+/).filter(Boolean);
const num = (x: unknown): number => (typeof x === 'number' ? x : NaN);
const headerOf = (r: Record<string, unknown>) => ((r.header as { ms?: Summary | null } | null)?.ms ?? null);

let wrkBin: string | null = null;
const node = process.execPath;
const loadJs = (f: string) => join(HERE, 'load', f);
const authArgs = (t: Target) => (t.token ? ['--header', `authorization: Bearer ${t.token}`] : []);

async function httpLoad(t: Target, path: string, method: 'GET' | 'POST', body: string | null, dur: number): Promise<Load> {
  const r = wrkBin
    ? await wrk(wrkBin, runDir, { url: t.url, path, method, body, token: t.token, connections: K.CONNS, threads: K.WRK_THREADS, durationS: dur, sampleHeader: HEADER })
    : await runJson(node, [loadJs('closed.js'), '--url', t.url, '--path', path, '--method', method, ...(body ? ['--body', body] : []), ...authArgs(t),
      '--connections', String(K.CONNS), '--duration', String(dur), '--sample-header', HEADER], { timeoutMs: (dur + 40) * 1000 });
  return {
    rate: num(r.rps), units: num(r.requests), ok: num(r.ok), non2xx: num(r.non2xx), errors: num(r.errors),
    latency_ms: (r.latency_ms as Summary) ?? null, header_ms: headerOf(r), client_cpu_pct: typeof r.client_cpu_pct === 'number' ? r.client_cpu_pct : null, raw: r,
  };
}

async function streamLoad(t: Target, path: string, body: string, marker: string, opts: { dur?: number; once?: number; ramp?: number; deadline?: number; timeout: number }): Promise<Load> {
  const args = [loadJs('stream.js'), '--url', t.url, '--path', path, '--body', body, '--done-marker', marker, ...authArgs(t), '--sample-header', HEADER, '--timeout', String(opts.timeout)];
  if (opts.once) args.push('--once', '--concurrency', String(opts.once), '--ramp', String(opts.ramp ?? 0), '--deadline', String(opts.deadline ?? 0));
  else args.push('--concurrency', String(K.STREAMS), '--duration', String(opts.dur));
  const r = await runJson(node, args, { timeoutMs: (opts.timeout + 15) * 1000 });
  return {
    rate: num(r.chunks_per_s), units: num(r.chunks), ok: num(r.complete), non2xx: num(r.non2xx), errors: num(r.errors),
    latency_ms: null, header_ms: headerOf(r), client_cpu_pct: num(r.client_cpu_pct),
    extra: { ttfb_ms: r.ttfb_ms as Summary, stream_ms: r.stream_ms as Summary, streams: num(r.streams), complete: num(r.complete), opened: (r.opened as number | null) ?? null },
    raw: r,
  };
}

async function openLoad(t: Target): Promise<Load> {
  const r = await runJson(node, [loadJs('openloop.js'), '--url', t.url, '--path', '/api/chat', '--method', 'POST', '--body', BODY.chat, ...authArgs(t),
    '--rate', String(K.RATE), '--duration', String(K.RATE_DUR), '--warmup', String(K.WARM), '--connections', String(K.RATE_CONNS), '--sample-header', HEADER],
  { timeoutMs: (K.WARM + K.RATE_DUR + 45) * 1000 });
  return {
    rate: num(r.achieved_rps), units: num(r.ok) + num(r.non2xx), cpuUnits: num(r.sent_with_warmup), ok: num(r.ok), non2xx: num(r.non2xx), errors: num(r.errors),
    latency_ms: (r.latency_ms as Summary) ?? null, header_ms: headerOf(r), client_cpu_pct: num(r.client_cpu_pct), raw: r,
  };
}

function step(sc: Scenario, t: Target, dur = K.DUR): Promise<Load> {
  switch (sc) {
    case 's1':
      return httpLoad(t, '/api/tags', 'GET', null, dur);
    case 's2':
      return httpLoad(t, '/api/chat', 'POST', BODY.chat, dur);
    case 's3':
      return streamLoad(t, '/api/generate', BODY.generate(K.FAST_CHUNKS), '"done":true', { dur, timeout: dur + 60 });
    case 's3o':
      return streamLoad(t, '/v1/chat/completions', BODY.openai(K.FAST_CHUNKS), '[DONE]', { dur, timeout: dur + 60 });
    case 's5':
      return openLoad(t);
    case 's4': {
      const natural = (K.SLOW_CHUNKS * K.SLOW_DELAY_MS) / 1000;
      return streamLoad(t, '/api/generate', BODY.generate(K.SLOW_CHUNKS, K.SLOW_DELAY_MS), '"done":true', {
        // a stream counts as complete only if it ended within 2× its natural length (from its own start)
        once: K.SLOW_STREAMS, ramp: K.SLOW_RAMP, deadline: 2 * natural, timeout: K.SLOW_RAMP + 3 * natural + 10,
      });
    }
  }
}

function line(r: Rec): string {
  const p = r.proxy ? ` proxy ${r.proxy.cpu_pct}% CPU ${r.proxy.cpu_us_per_unit} µs/${r.scenario.startsWith('s3') || r.scenario === 's4' ? 'chunk' : 'req'} ${r.proxy.peak_rss_mib} MiB` : '';
  const lat = r.latency_ms ? ` p50 ${r.latency_ms.p50} p99 ${r.latency_ms.p99} ms` : r.ttfb_ms ? ` ttfb p50 ${r.ttfb_ms.p50} p99 ${r.ttfb_ms.p99} ms, ${r.complete}/${r.streams} complete` : '';
  const unit = r.scenario.startsWith('s3') || r.scenario === 's4' ? 'chunks/s' : 'req/s';
  const bad = r.non2xx || r.errors ? ` NON-2XX ${r.non2xx} ERRORS ${r.errors}` : '';
  return `run ${r.run} ${r.scenario} ${r.target.padEnd(11)} ${Math.round(r.rate)} ${unit}${lat}${p}${bad} (other procs ${r.host.foreign_pct}%)`;
}

// ---------------------------------------------------------------- main
async function main(): Promise<number> {
  const started = Date.now();
  wrkBin = process.env.WRK === '0' ? null : which(process.env.WRK || 'wrk');
  const nginxBin = process.env.NGINX === '0' || !wantTargets.has('nginx') ? null : which(process.env.NGINX || 'nginx');
  const gatehouseBin = resolve(process.env.BENCH_GATEHOUSE_BIN ?? join(ROOT, 'dist', 'src', 'main.js'));
  const paths: Paths = { benchDist: HERE, gatehouseBin, runDir };
  const meta: Meta = {
    started: new Date(started).toISOString(), machine: machine(wrkBin, nginxBin), git: gitInfo(),
    knobs: { ...K, SCENARIOS: [...scenarios].join(','), TARGETS: [...wantTargets].join(',') }, targets: [],
    generator: { s1s2: wrkBin ? `wrk -t${K.WRK_THREADS} with a Lua reporter` : 'Node/undici closed-loop generator (bench/load/closed.ts)', streams: 'Node/undici generators (bench/load/stream.ts, openloop.ts)' },
    runs: K.RUNS,
  };
  const m = meta.machine;
  log(`${m.cpu}, ${m.cores} cores, ${m.ram_gib} GiB, ${m.os}, Node ${m.node}, load average ${m.loadavg_start}`);
  log(`output: ${runDir}`);

  const o0 = othersTicks();
  await new Promise((r) => setTimeout(r, 1000));
  meta.machine.others_cpu_pct_at_start = Math.round(othersCpuSeconds(o0, othersTicks()) * 100);
  log(`other processes on this host used ${meta.machine.others_cpu_pct_at_start}% of a core during the last second`);

  const upPort = await freePort();
  upstream = startServer('upstream', node, [join(HERE, 'upstream.js')], {
    env: { ...process.env, PORT: String(upPort), STREAM_CHUNKS: String(K.FAST_CHUNKS), STREAM_DELAY_MS: '0' }, log: join(runDir, 'logs', 'upstream.log'),
  });
  const upUrl = `http://127.0.0.1:${upPort}`;
  await waitHttp(`${upUrl}/api/version`, upstream.proc);

  const token = `bench-${randomBytes(16).toString('hex')}`;
  const targets: Target[] = [];
  const starters: [string, () => Promise<Target>][] = [];
  const gh = { args: words(process.env.BENCH_GATEHOUSE_ARGS), env: words(process.env.BENCH_GATEHOUSE_ENV), nodeArgs: words(process.env.BENCH_GATEHOUSE_NODE_ARGS) };
  if (wantTargets.has('gatehouse')) starters.push(['gatehouse', () => gatehouse(paths, upUrl, gh)]);
  // What limits cost (issue #4): the same gateway with a key without limits, and with Redis.
  if (wantTargets.has('gatehouse-auth')) starters.push(['gatehouse-auth', () => gatehouse(paths, upUrl, { ...gh, name: 'gatehouse-auth', limits: false })]);
  // Limits on the local Redis, under a key prefix of the target's own.
  const onRedis = () => [...gh.env, 'GATEHOUSE_LIMITS__BACKEND=redis', `GATEHOUSE_REDIS__KEY_PREFIX=gatehouse-bench-${randomBytes(6).toString('hex')}:`];
  if (wantTargets.has('gatehouse-redis')) starters.push(['gatehouse-redis', () => gatehouse(paths, upUrl, { ...gh, env: onRedis(), name: 'gatehouse-redis' })]);
  // serve --workers N (limits on Redis, as --workers requires): WORKERS, default 2.
  if (wantTargets.has('gatehouse-workers')) {
    starters.push(['gatehouse-workers', () => gatehouse(paths, upUrl, { ...gh, env: onRedis(), args: [...gh.args, '--workers', String(K.WORKERS)], name: 'gatehouse-workers' })]);
  }
  // The same gateway with clients sending a JWT (auth.oidc) instead of the key: issue #21 item 1
  // asks S2 with a JWT to stay within 10% of S2 with a key. The issuer serves its keys on loopback.
  let issuer: BenchIssuer | null = null;
  if (wantTargets.has('gatehouse-jwt')) {
    starters.push(['gatehouse-jwt', async () => {
      issuer = await startBenchIssuer();
      const jwt = await issuer.token({ sub: 'bench', groups: ['bench'], ttlS: 6 * 3600 });
      return gatehouse(paths, upUrl, { ...gh, name: 'gatehouse-jwt', jwt: { issuer: issuer.issuer, token: jwt } });
    }]);
  }
  if (nginxBin) starters.push(['nginx', () => nginx(paths, nginxBin, upUrl, token)]);
  else if (wantTargets.has('nginx')) log('nginx is not installed: no nginx row');
  if (wantTargets.has('node-undici')) starters.push(['node-undici', () => nodeUndici(paths, upUrl, token)]);
  starters.push(['direct', async () => direct(upUrl)]);
  let failed = false;
  for (const [name, start] of starters) {
    try {
      const t = await start();
      const c = await authCheck(t);
      meta.targets.push({ name, auth: c.auth, notes: [...t.notes, ...c.notes] });
      log(`${name}: ${t.url} auth ${c.auth}${c.notes.length ? ` (${c.notes.join('; ')})` : ''}`);
      if (c.ok) targets.push(t);
      else {
        failed = true;
        log(`${name}: the right token did not work end to end; not measured`);
        await t.stop();
      }
    } catch (e) {
      failed = true;
      meta.targets.push({ name, auth: 'did not start / did not start', notes: [(e as Error).message] });
      log(`${name}: ${(e as Error).message}; not measured`);
    }
  }
  writeFileSync(join(runDir, 'meta.json'), JSON.stringify(meta, null, 2));

  const stopAll = async () => {
    for (const t of targets) await t.stop();
    await upstream.stop();
    await (issuer as BenchIssuer | null)?.close();
  };
  process.once('SIGINT', () => void stopAll().finally(() => process.exit(130)));
  process.once('SIGTERM', () => void stopAll().finally(() => process.exit(143)));

  try {
    const main = ALL.filter((s) => scenarios.has(s) && s !== 's4');
    if (K.WARM > 0) {
      // S1, S2 and S3 traffic warms every code path the scenarios use (S5 sends S2's request; S4 is S3 paced).
      const warm: Scenario[] = ['s1', 's2', 's3', ...(scenarios.has('s3o') ? ['s3o' as const] : [])];
      log(`warm-up: ${K.WARM} s of ${warm.join(', ')} on every target (not recorded)`);
      for (const t of targets) for (const sc of warm) await step(sc, t, K.WARM);
    }
    const record = (r: Rec) => {
      appendFileSync(resultsFile, JSON.stringify(r) + '\n');
      log(line(r));
    };
    for (let run = 1; run <= K.RUNS; run++) {
      const order = targets.map((_, i) => targets[(i + run - 1) % targets.length]!);
      for (const sc of main) {
        for (const [position, t] of order.entries()) {
          try {
            const res = await measured(t, () => step(sc, t));
            record({ kind: 'measure', run, scenario: sc, target: t.name, position, ...res });
          } catch (e) {
            failed = true;
            log(`run ${run} ${sc} ${t.name}: FAILED ${(e as Error).message}`);
          }
          await new Promise((r) => setTimeout(r, 300));
        }
      }
    }
    if (scenarios.has('s4')) {
      for (let run = 1; run <= K.S4_RUNS; run++) {
        const order = targets.map((_, i) => targets[(i + run - 1) % targets.length]!);
        for (const [position, t] of order.entries()) {
          try {
            const res = await measured(t, () => step('s4', t));
            record({ kind: 'measure', run, scenario: 's4', target: t.name, position, ...res });
          } catch (e) {
            failed = true;
            log(`s4 ${t.name}: FAILED ${(e as Error).message}`);
          }
          await new Promise((r) => setTimeout(r, 2000));
        }
      }
    }
  } finally {
    await stopAll();
  }

  meta.finished = new Date().toISOString();
  meta.machine.loadavg_end = loadavg().map((x) => x.toFixed(2)).join(' ');
  meta.machine.duration_s = Math.round((Date.now() - started) / 1000);
  writeFileSync(join(runDir, 'meta.json'), JSON.stringify(meta, null, 2));
  let recs: Rec[] = [];
  try {
    recs = readFileSync(resultsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec);
  } catch {
    /* nothing measured */
  }
  const report = render(recs, meta);
  writeFileSync(join(runDir, 'report.md'), report);
  process.stdout.write(report + '\n');
  log(`done in ${meta.machine.duration_s} s; report and raw data in ${runDir}`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    log(`failed: ${e.stack ?? e.message}`);
    process.exit(1);
  },
);
