/**
 * `npm run bench:limits`: what rpm + tpm + concurrency cost, measured inside ONE gateway process.
 *
 * Comparing two gateway processes (npm run bench, TARGETS=gatehouse-auth,gatehouse) mixes the cost
 * of limits with process-to-process variance (±5% on a shared 2-core VM: JIT and memory layout
 * differ per process). Here one gateway serves two keys, one without limits and one with rpm, tpm
 * and concurrency far above the load (the limiter runs on every request and never refuses), and
 * `wrk` alternates between them; the difference is the limits' cost. BACKEND=redis puts the
 * limits on the local Redis (REDIS_URL, default redis://127.0.0.1:6379).
 *
 * Knobs: ROUNDS (default 4) pairs per scenario, DUR (3) seconds per step, CONNS (64), PROFILE=0
 * skips the second, profiled measure (see profiledShare).
 * INSTR=1 runs only the third measure instead: instructions per request for each key, counted by
 * callgrind (lib/instructions.ts). INSTR_WARM (15000) requests per key warm the JIT first, then
 * INSTR_ROUNDS (4) rounds of INSTR_N (2000) requests per key are counted. With BACKEND=redis the
 * Redis store's clocks (limits.reserve_ttl, lease_ttl) are stretched INSTR_TIME_SCALE (50) times,
 * as valgrind slows the gateway, and Redis round trips per request are counted both under
 * callgrind and at full speed with the default clocks, so the two can be compared. With the memory
 * backend the bare node:http + undici proxy is counted too, as the floor (INSTR_BARE=0 skips it).
 * LOG_REQUESTS=off|refused|all sets log.requests (the access log) for the gateway measured.
 * UPSTREAMS=1 configures the upstream as a one-node fleet (`upstreams:`) instead of `--upstream`.
 * With INSTR=1 and the memory backend, the one-node fleet is also counted beside `upstream` in a
 * second pair of gateways counted at the same time (INSTR_FLEET=0 skips it, INSTR_FLEET=only runs
 * it alone).
 * Needs wrk on PATH and Linux (/proc). Only 127.0.0.1 is used; every step stops by itself.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { freePort, startServer, waitHttp, which, type Server } from './lib/children.js';
import { treeCpuSeconds, treeCpuSplit } from './lib/proc.js';
import { median } from './lib/stats.js';
import { inclusiveShare, type CpuProfile } from './lib/profile-share.js';
import { CountedProcess, countInstructions, send, summarize, type InstructionRun, type Phase } from './lib/instructions.js';
import { Redis } from 'ioredis';
import { wrk } from './lib/wrk.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const BIN = resolve(HERE, '../src/main.js');
const run = promisify(execFile);
const knob = (name: string, def: number) => {
  const v = Number(process.env[name] ?? def);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
};
const ROUNDS = Math.round(knob('ROUNDS', 4));
const DUR = knob('DUR', 3);
const CONNS = Math.round(knob('CONNS', 64));
const BACKEND = process.env.BACKEND === 'redis' ? 'redis' : 'memory';
const CHAT = JSON.stringify({ model: 'llama3.2:1b', messages: [{ role: 'user', content: 'Why is the sky blue? Answer in one short paragraph.' }], stream: false });

const SCENARIOS = [['S1 GET /api/tags', '/api/tags', null], ['S2 POST /api/chat', '/api/chat', CHAT]] as const;
/** PROFILE=0 skips the profiled pass. */
const PROFILE = process.env.PROFILE !== '0';
/** INSTR=1: only the instruction count (see instructionRatio). */
const INSTR = process.env.INSTR === '1';
/**
 * The Redis store keeps what it took ahead for limits.reserve_ttl (200 ms) and re-takes pooled
 * permits well before lease_ttl (30 s) runs out. Under valgrind the gateway serves ~50 times fewer
 * requests in that time, so with the default clocks it would go to Redis ~50 times as often per
 * request as at full speed, and the count would measure the clocks, not the limits. Stretching
 * both clocks by the slowdown restores the full-speed pattern; the round trips per request are
 * counted in both runs (see redisRoundTrips), so the match is shown, not assumed.
 */
const TIME_SCALE = knob('INSTR_TIME_SCALE', 50);
/** Median CPU µs/req with limits per scenario, from the pairs (the profiled pass reports a share of it). */
const withLimitsCpu = new Map<string, number>();

const wrkBin = which(process.env.WRK || 'wrk');
const valgrind = INSTR ? which('valgrind') : null;
const callgrindControl = INSTR ? which('callgrind_control') : null;
if (INSTR && (!valgrind || !callgrindControl)) {
  console.error('INSTR=1 needs valgrind and callgrind_control on PATH (apt-get install valgrind)');
  process.exit(2);
}
if (!wrkBin && !INSTR) {
  console.error('bench:limits needs wrk on PATH (apt-get install wrk)');
  process.exit(2);
}
const wrkPath: string = wrkBin ?? 'wrk';
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-limits-ab-'));
chmodSync(dir, 0o700);
mkdirSync(join(dir, 'data'), { mode: 0o700 });
const data = join(dir, 'data');
const env: NodeJS.ProcessEnv = {};
for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GATEHOUSE_')) env[k] = v;
env.GATEHOUSE_DATA_DIR = data;
// LOG_REQUESTS=off|refused|all: the access log setting (log.requests), to count what it costs.
if (process.env.LOG_REQUESTS) env.GATEHOUSE_LOG__REQUESTS = process.env.LOG_REQUESTS;
env.GATEHOUSE_METRICS__LISTEN = `127.0.0.1:${await freePort()}`;
if (BACKEND === 'redis') {
  env.GATEHOUSE_LIMITS__BACKEND = 'redis';
  env.GATEHOUSE_REDIS__URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  env.GATEHOUSE_REDIS__KEY_PREFIX = `gatehouse-limits-ab-${randomBytes(6).toString('hex')}:`;
}

const key = async (name: string, args: string[], dataDir = data) => {
  const out = await run(process.execPath, [BIN, 'keys', 'create', '--name', name, '--data-dir', dataDir, '--json', ...args], { env: { ...env, GATEHOUSE_DATA_DIR: dataDir }, cwd: dir });
  return (JSON.parse(out.stdout.trim().split('\n').pop()!) as { key: string }).key;
};
const LIMITS_ARGS = ['--rpm', '100000000', '--tpm', '1000000000000', '--concurrency', '1000000'];
const plain = await key('no-limits', []);
const limited = await key('limits', LIMITS_ARGS);

const upPort = await freePort();
const upstream = startServer('upstream', process.execPath, [join(HERE, 'upstream.js')], { env: { ...process.env, PORT: String(upPort) }, log: join(dir, 'upstream.log') });
const port = await freePort();
/** Both gateways (the measured one, then the profiled one) serve the same port, upstream and data. */
/**
 * UPSTREAMS=1: the same upstream written as a one-node fleet (`upstreams:`, docs/fleet.md) instead
 * of `--upstream`, so the two runs' counts say what the fleet's placement costs per request.
 */
const FLEET = process.env.UPSTREAMS === '1';
// parallel: the fake upstream answers any number at once, as `upstream` lets them through; with
// the default (1) the fleet would queue the load and the count would measure its queue.
writeFileSync(join(dir, 'fleet.yaml'), `upstreams:\n  - name: default\n    url: http://127.0.0.1:${upPort}\n    parallel: 1024\n`);
const upstreamFlags = (fleet: boolean) => (fleet ? ['--config', join(dir, 'fleet.yaml')] : ['--upstream', `http://127.0.0.1:${upPort}`]);
const serveArgs = [BIN, 'serve', '--listen', `127.0.0.1:${port}`, ...upstreamFlags(FLEET), '--data-dir', data];
/**
 * INSTR=1 with the memory backend also counts the same upstream written both ways, `upstream` and
 * a one-node `upstreams`, in two gateways under callgrind counted at the same time (countFleetPair;
 * INSTR_FLEET=0 skips it). The second has its own port, data and keys.
 */
const PAIR = INSTR && BACKEND === 'memory' && process.env.INSTR_FLEET !== '0';
/** INSTR_FLEET=only: the fleet pair alone, without the limits table before it. */
const PAIR_ONLY = PAIR && process.env.INSTR_FLEET === 'only';
const pairData = join(dir, 'data-pair');
if (PAIR) mkdirSync(pairData, { mode: 0o700 });
const pairKeys: [string, string][] = PAIR ? [['without', await key('no-limits', [], pairData)], ['with', await key('limits', LIMITS_ARGS, pairData)]] : [];
const pairPort = PAIR ? await freePort() : 0;
const pairMetrics = PAIR ? await freePort() : 0;
/** The unprofiled gateway of the throughput pairs; INSTR=1 starts its own, under valgrind, instead. */
const gw = INSTR ? null : startServer('gatehouse', process.execPath, serveArgs, { env, cwd: dir, log: join(dir, 'gatehouse.log') });
const url = `http://127.0.0.1:${port}`;

/** One wrk step against the gateway; a non-2xx answer or a socket error fails the benchmark. */
async function load(path: string, body: string | null, token: string, durationS: number): Promise<{ requests: number; rps: number }> {
  const r = await wrk(wrkPath, dir, { url, path, method: body ? 'POST' : 'GET', body, token, connections: CONNS, threads: 1, durationS, sampleHeader: 'x-gatehouse-overhead-ms' });
  if ((r.non2xx as number) || (r.errors as number)) throw new Error(`${path}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { requests: r.requests as number, rps: r.rps as number };
}

/** Frames that are the limits' own work: the limiter, its stores and headers, the Redis client. */
const LIMITS_CODE = /\/dist\/src\/limits\/|\/node_modules\/(ioredis|denque|redis-parser|redis-errors|standard-as-callback|cluster-key-slot)\//;

/**
 * The second measure, steady where throughput is not: a fresh gateway under `--cpu-prof` serves
 * only the key with limits, and the share of its CPU spent in the limits' own code (inclusive) is
 * scaled by the CPU time /proc reports for that process and divided by the requests it served. It
 * leaves out Node writing the extra response headers (about a microsecond on this path).
 */
async function profiledShare(): Promise<void> {
  console.log(`\n# Where the limits' CPU goes (${BACKEND}): a gateway under --cpu-prof, the key with limits only, ${DUR} s per scenario\n`);
  console.log('| scenario | share of the CPU in the limits\' code | that share of the unprofiled CPU µs/req with limits (above) |');
  console.log('|---|---|---|');
  for (const [label, path, body] of SCENARIOS) {
    const profDir = join(dir, `prof-${path.replace(/\W/g, '')}`);
    const g = startServer('gatehouse-prof', process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, ...serveArgs], { env, cwd: dir, log: join(dir, 'gatehouse-prof.log') });
    try {
      await waitHttp(`${url}/healthz`, g.proc);
      const startupUs = treeCpuSeconds(g.pid) * 1e6;
      const served = (await load(path, body, limited, 1)).requests + (await load(path, body, limited, DUR)).requests;
      const cpuTotalUs = treeCpuSeconds(g.pid) * 1e6;
      await g.stop();
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (!file) throw new Error('the profiled gateway wrote no .cpuprofile');
      const share = inclusiveShare(JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile, LIMITS_CODE);
      // Startup does no limits work, so the limits' time is spread over every request served; the
      // profiler slows everything down alike, so what is kept is the share, not the µs.
      const limitsUs = ((share.matchedUs / share.busyUs) * cpuTotalUs) / served;
      const perReqUs = (cpuTotalUs - startupUs) / served;
      const frac = Math.min(1, limitsUs / perReqUs);
      console.log(`| ${label} | ${(100 * frac).toFixed(1)}% | ${(frac * withLimitsCpu.get(label)!).toFixed(1)} µs |`);
    } finally {
      await g.stop();
    }
  }
}

/**
 * The third measure, deterministic: instructions per request for each key in one gateway under
 * callgrind. The throughput pairs above swing by ±15% between runs on a shared VM; this count
 * does not move with the host.
 */
async function instructionRatio(): Promise<void> {
  const warm = Math.round(knob('INSTR_WARM', 15000));
  const n = Math.round(knob('INSTR_N', 2000));
  const rounds = Math.max(2, Math.round(knob('INSTR_ROUNDS', 4)));
  const redis = BACKEND === 'redis' ? new Redis(env.GATEHOUSE_REDIS__URL!, { lazyConnect: true, maxRetriesPerRequest: 1 }) : null;
  try {
    if (redis) await redis.connect();
    const fullSpeed = new Map<string, RoundTrips>();
    if (redis) for (const [label, path, body] of SCENARIOS) fullSpeed.set(label, await redisRoundTrips(redis, path, body, warm, n));
    const stretched = { ...env };
    if (redis) {
      stretched.GATEHOUSE_LIMITS__RESERVE_TTL = `${Math.round(200 * TIME_SCALE)}ms`;
      stretched.GATEHOUSE_LIMITS__LEASE_TTL = `${Math.round(30 * TIME_SCALE)}s`;
    }
    const clocks = redis ? `, reserve_ttl and lease_ttl ×${TIME_SCALE}` : '';
    const bare = !redis && process.env.INSTR_BARE !== '0';
    if (!PAIR_ONLY) {
      console.log(`# What limits cost in instructions (${BACKEND} backend${FLEET ? ', the upstream as a one-node `upstreams` fleet' : ''}): one gateway under callgrind${clocks}, ${warm} warm-up requests per key, then ${rounds} rounds of ${n} per key (the first round dropped)\n`);
      console.log(`| scenario | instructions/req without limits | with limits | ratio | each round, without / with, all threads (main thread), thousands |${redis ? ' Redis round trips per request with limits: under callgrind / at full speed | redis-server CPU µs per request at full speed |' : ''}${bare ? ' bare node:http + undici proxy | with limits ÷ bare |' : ''}`);
      console.log(`|---|---|---|---|---|${redis ? '---|---|' : ''}${bare ? '---|---|' : ''}`);
    }
    for (const [label, path, body] of PAIR_ONLY ? [] : SCENARIOS) {
      const trips: number[] = [];
      const r = await countInstructions({
        valgrind: valgrind!, callgrindControl: callgrindControl!, command: [process.execPath, ...serveArgs], env: stretched, cwd: dir, dir, url, path, body,
        keys: [['without', plain], ['with', limited]], warm, n, rounds,
        around: redis
          ? async (key, round, phase) => {
              const before = await redisCalls(redis);
              await phase();
              if (key === 'with' && round > 1) trips.push(((await redisCalls(redis)).calls - before.calls) / n);
            }
          : undefined,
      });
      const a = r.perRequest.get('without')!;
      const b = r.perRequest.get('with')!;
      const each = [];
      for (let i = 1; i <= rounds; i++) {
        const k = (key: string) => {
          const p = r.phases.find((x) => x.round === i && x.key === key)!;
          return `${(p.perRequest / 1000).toFixed(0)} (${(p.mainPerRequest / 1000).toFixed(0)})`;
        };
        each.push(`${k('without')} / ${k('with')}`);
      }
      const fs = fullSpeed.get(label);
      let extra = fs ? ` ${median(trips).toFixed(4)} / ${fs.perRequest.toFixed(4)} | ${fs.redisUsPerRequest.toFixed(2)} |` : '';
      if (bare) {
        const floor = await bareInstructions(path, body, warm, n, rounds);
        extra += ` ${floor.toFixed(0)} | ${(b / floor).toFixed(2)} |`;
      }
      console.log(`| ${label} | ${a.toFixed(0)} | ${b.toFixed(0)} | ${(b / a).toFixed(3)} | ${each.join(' · ')} |${extra}`);
    }
    if (!PAIR_ONLY) console.log('\nUser-space instructions of the whole gateway process (all threads); the kernel\'s part of a request, the same for both keys, is not counted, so the ratio overstates the cost in CPU time.');
    if (bare && !PAIR_ONLY) console.log('Bare proxy: bench/node-undici.ts under callgrind with the same client, warm-up and rounds (one key); its kernel part of a request is about the same as the gateway\'s, so "÷ bare" overstates the CPU-time ratio too.');
    if (PAIR) {
      const pairs: [string, FleetPair][] = [];
      for (const [label, path, body] of SCENARIOS) pairs.push([label, await countFleetPair(path, body, warm, n, rounds)]);
      printFleetPair(pairs, warm, n, rounds);
    }
    if (redis) {
      console.log('Round trips: EVALSHA/EVAL calls Redis counted (INFO commandstats) per request of the key with limits, median of the counted rounds; at full speed: the same client (8 connections), 10 × INSTR_N requests against the gateway without valgrind and with the default clocks, after the same warm-up.');
      console.log('redis-server CPU: the time Redis reports for those calls at full speed, per request. It is spent outside the gateway, so the instruction count does not include it.');
    }
  } finally {
    redis?.disconnect();
  }
}

interface FleetPair {
  upstream: InstructionRun;
  upstreams: InstructionRun;
}

/**
 * The same upstream as `upstream` and as a one-node `upstreams` fleet: two gateways under
 * callgrind, each with the same two keys. In every phase both are zeroed, then each gets its `n`
 * requests with the same key at the same time, so work that moves with time rather than requests
 * (timers that fire per second, the audit writer's batches, a process left idle while another is
 * counted) is the same for both, and a phase's two counts can be paired. The key alternates every
 * round. Counted in a second pair of processes, after the limits table: that table's counts keep
 * their meaning (one gateway alone under callgrind).
 */
async function countFleetPair(path: string, body: string | null, warm: number, n: number, rounds: number): Promise<FleetPair> {
  const scenario = path.replace(/\W/g, '');
  const specs = [
    { name: 'upstream', keys: [['without', plain], ['with', limited]] as [string, string][], url, env, args: [BIN, 'serve', '--listen', `127.0.0.1:${port}`, ...upstreamFlags(false), '--data-dir', data] },
    {
      name: 'upstreams', keys: pairKeys, url: `http://127.0.0.1:${pairPort}`,
      env: { ...env, GATEHOUSE_DATA_DIR: pairData, GATEHOUSE_METRICS__LISTEN: `127.0.0.1:${pairMetrics}` },
      args: [BIN, 'serve', '--listen', `127.0.0.1:${pairPort}`, ...upstreamFlags(true), '--data-dir', pairData],
    },
  ];
  const started: { spec: (typeof specs)[number]; p: CountedProcess }[] = [];
  const phases = new Map<string, Phase[]>();
  try {
    for (const spec of specs) {
      const p = await CountedProcess.start({ valgrind: valgrind!, callgrindControl: callgrindControl!, command: [process.execPath, ...spec.args], env: spec.env, cwd: dir, dir, url: spec.url, n, name: `${scenario}-${spec.name}` });
      started.push({ spec, p });
    }
    for (const { spec, p } of started) for (const [, token] of spec.keys) await p.warm(path, body, token, warm);
    for (const { p } of started) await p.instrument(true);
    for (let round = 1; round <= rounds; round++) {
      for (const key of round % 2 ? ['without', 'with'] : ['with', 'without']) {
        for (const { p } of started) await p.zero();
        await Promise.all(started.map(({ spec, p }) => p.sendAndDump(key, round, path, body, spec.keys.find(([l]) => l === key)![1])));
      }
    }
  } finally {
    for (const { spec, p } of started) phases.set(spec.name, await p.stop());
  }
  const labels = ['without', 'with'];
  return { upstream: summarize(phases.get('upstream')!, labels, rounds), upstreams: summarize(phases.get('upstreams')!, labels, rounds) };
}

/**
 * What the one-node fleet adds. The figure held against the 3% bound is the main thread's added
 * instructions, paired phase by phase, over `upstream`'s whole count. The fleet's own work (placing
 * a request, giving the node back, its poll and snapshot timers) all runs on the main thread; the
 * other threads (the SQLite writer, V8's compiler and GC helpers) do the same work for both
 * gateways but swing by hundreds of thousands of instructions per request from round to round.
 * Both main-thread counts leave out V8's slow path for Node's tick objects (LITERAL_SLOW_PATH),
 * which lands on one process or the other at random; the table shows how much each carried.
 */
function printFleetPair(pairs: [string, FleetPair][], warm: number, n: number, rounds: number): void {
  const k = (x: number) => (x / 1000).toFixed(0);
  const own = (p: Phase) => p.mainPerRequest - p.literalSlowPath;
  console.log(`\n# What a one-node fleet costs in instructions: the same upstream as \`upstream\` and as \`upstreams\` with one node, two gateways under callgrind counted at the same time, ${warm} warm-up requests per key each, then ${rounds} rounds of ${n} per key on each (the first round dropped)\n`);
  console.log('| scenario | key | `upstream`, all threads | one-node `upstreams`, all threads | ratio | main thread, `upstream` / `upstreams` | V8\'s tick-literal slow path in it, `upstream` / `upstreams` | added on the main thread ÷ `upstream` | the same ÷ `upstream`\'s main thread (less that slow path) | each round, main thread less that slow path, `upstream` / `upstreams` (thousands) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const [label, pair] of pairs) {
    for (const key of ['without', 'with']) {
      const counted = (r: InstructionRun) => r.phases.filter((p) => p.key === key && p.round > 1);
      const at = (r: InstructionRun, round: number) => r.phases.find((p) => p.round === round && p.key === key)!;
      const added: number[] = [];
      const each: string[] = [];
      for (let round = 1; round <= rounds; round++) {
        const a = own(at(pair.upstream, round));
        const b = own(at(pair.upstreams, round));
        if (round > 1) added.push(b - a);
        each.push(`${k(a)} / ${k(b)}`);
      }
      const base = pair.upstream.perRequest.get(key)!;
      const fleet = pair.upstreams.perRequest.get(key)!;
      const slow = (r: InstructionRun) => median(counted(r).map((p) => p.literalSlowPath)).toFixed(0);
      const more = median(added);
      console.log(`| ${label} | ${key} limits | ${base.toFixed(0)} | ${fleet.toFixed(0)} | ${(fleet / base).toFixed(3)} | ${pair.upstream.mainPerRequest.get(key)!.toFixed(0)} / ${pair.upstreams.mainPerRequest.get(key)!.toFixed(0)} | ${slow(pair.upstream)} / ${slow(pair.upstreams)} | ${pct(more / base)} (${more >= 0 ? '+' : ''}${more.toFixed(0)}) | ${pct(more / median(counted(pair.upstream).map(own)))} | ${each.join(' · ')} |`);
    }
  }
  console.log('\nadded on the main thread = median over the counted rounds of (`upstreams` − `upstream`) on the main thread, less V8\'s slow path for tick objects, the two counted in the same phase; ÷ the median of `upstream`\'s count over all threads. The fleet\'s work runs on the main thread; the other threads\' counts move by 2–3× between rounds with either configuration, which is why the all-thread ratio beside it is not the figure to read. Work done per second (the fleet\'s /api/ps poll every 2 s and its snapshot every second) is spread over the ~50× fewer requests valgrind lets through in a second, so this overstates the fleet\'s cost at full speed.');
}

/**
 * The same count for the bare node:http + undici proxy (bench/node-undici.ts) behind the same
 * client: the floor any Node gateway starts from, so the table also says what Gatehouse's
 * authentication, policy and audit cost in instructions. Memory-backend runs only (INSTR_BARE=0 skips it).
 */
async function bareInstructions(path: string, body: string | null, warm: number, n: number, rounds: number): Promise<number> {
  const barePort = await freePort();
  const token = randomBytes(16).toString('hex');
  const r = await countInstructions({
    valgrind: valgrind!, callgrindControl: callgrindControl!, command: [process.execPath, join(HERE, 'node-undici.js')],
    env: { ...process.env, PORT: String(barePort), UPSTREAM: `http://127.0.0.1:${upPort}`, TOKEN: token }, cwd: dir, dir: join(dir, 'bare'),
    url: `http://127.0.0.1:${barePort}`, path, body, keys: [['bare', token]], warm, n, rounds,
  });
  return r.perRequest.get('bare')!;
}

interface RoundTrips {
  perRequest: number;
  redisUsPerRequest: number;
}

/** Script calls Redis has served so far, and the CPU µs it reports for them. */
async function redisCalls(redis: Redis): Promise<{ calls: number; usec: number }> {
  const text = await redis.info('commandstats');
  let calls = 0;
  let usec = 0;
  for (const m of text.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+),usec=(\d+)/gm)) {
    calls += Number(m[1]);
    usec += Number(m[2]);
  }
  return { calls, usec };
}

/** Round trips per request of the key with limits, gateway at full speed with the default clocks. */
async function redisRoundTrips(redis: Redis, path: string, body: string | null, warm: number, n: number): Promise<RoundTrips> {
  const g = startServer('gatehouse-fullspeed', process.execPath, serveArgs, { env, cwd: dir, log: join(dir, 'gatehouse-fullspeed.log') });
  try {
    await waitHttp(`${url}/healthz`, g.proc);
    await send(url, path, body, limited, warm);
    // Ten times the counted phase: at full speed that many requests span several reserve periods.
    const total = 10 * n;
    const before = await redisCalls(redis);
    await send(url, path, body, limited, total);
    const after = await redisCalls(redis);
    return { perRequest: (after.calls - before.calls) / total, redisUsPerRequest: (after.usec - before.usec) / total };
  } finally {
    await g.stop();
  }
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** The first measure: alternating wrk steps with each key against the one gateway. */
async function throughputPairs(g: Server): Promise<void> {
  await waitHttp(`${url}/healthz`, g.proc);
  const step = async (path: string, body: string | null, token: string, durationS: number) => {
    const c0 = treeCpuSplit(g.pid);
    const r = await load(path, body, token, durationS);
    const c1 = treeCpuSplit(g.pid);
    const user = c1.user - c0.user;
    const system = c1.system - c0.system;
    return { rps: r.rps, cpuUs: ((user + system) * 1e6) / r.requests, kernelShare: system / (user + system) };
  };
  console.log(`# What limits cost, one gateway process (${BACKEND} backend), ${ROUNDS} pairs × ${DUR} s per scenario\n`);
  console.log('| scenario | req/s without limits | req/s with limits | ratio | CPU µs/req without / with | added µs/req | kernel share of that CPU, without / with |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [label, path, body] of SCENARIOS) {
    await step(path, body, plain, 2); // warm-up, both keys
    await step(path, body, limited, 2);
    type Step = Awaited<ReturnType<typeof step>>;
    const a: Step[] = [];
    const l: Step[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate the order too, so a drift of the host hits both keys alike.
      if (i % 2 === 0) {
        a.push(await step(path, body, plain, DUR));
        l.push(await step(path, body, limited, DUR));
      } else {
        l.push(await step(path, body, limited, DUR));
        a.push(await step(path, body, plain, DUR));
      }
    }
    const ratios = a.map((x, i) => l[i]!.rps / x.rps);
    const ra = median(a.map((x) => x.rps));
    const rl = median(l.map((x) => x.rps));
    const ca = median(a.map((x) => x.cpuUs));
    const cl = median(l.map((x) => x.cpuUs));
    withLimitsCpu.set(label, cl);
    const ka = median(a.map((x) => x.kernelShare));
    const kl = median(l.map((x) => x.kernelShare));
    console.log(`| ${label} | ${ra.toFixed(0)} | ${rl.toFixed(0)} | ${median(ratios).toFixed(3)} | ${ca.toFixed(1)} / ${cl.toFixed(1)} | ${median(a.map((x, i) => l[i]!.cpuUs - x.cpuUs)).toFixed(1)} | ${pct(ka)} / ${pct(kl)} |`);
  }
  console.log(`\nratio = median over pairs of (req/s with limits) / (req/s without), each pair measured back to back.`);
  console.log('kernel share = stime / (utime + stime) of the gateway process over each step (/proc, 10 ms ticks), median: the part of a request that INSTR=1\'s user-space count leaves out.');
  await g.stop();
}

try {
  await waitHttp(`http://127.0.0.1:${upPort}/api/version`, upstream.proc);
  if (gw) {
    await throughputPairs(gw);
    if (PROFILE) await profiledShare();
  } else {
    await instructionRatio();
  }
} finally {
  await gw?.stop();
  await upstream.stop();
  // KEEP=1 leaves the scratch folder (logs, callgrind dumps, profiles) for a closer look.
  if (process.env.KEEP === '1') console.error(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
