/**
 * Instructions per request, counted by valgrind's callgrind: the one measure on a shared VM that
 * the host's other tenants cannot move (the same binary, inputs and code path give the same count
 * whatever else the machine is doing). Wall time under valgrind is ~50× slower, so only work that
 * does not depend on time is measured fairly; see the caller for what that excludes.
 *
 * One gateway process runs under callgrind with instrumentation off while a fixed number of
 * requests per key warms the JIT, then each measured phase is: zero the counters, send exactly
 * `n` requests with one key, dump. Phases alternate between keys; the first round is dropped
 * (the JIT is still settling) and the median of the rest is kept. User-space instructions only,
 * all threads of the process (the SQLite writer thread and V8's GC helpers included); the
 * kernel's share of a request (socket reads and writes, the same for both keys) is not counted,
 * so a ratio of these counts overstates the ratio of CPU time.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Pool } from 'undici';
import { startServer, waitHttp } from './children.js';
import { median } from './stats.js';

const run = promisify(execFile);

export interface InstructionRun {
  /** Median instructions per request per key label, rounds after the first. */
  perRequest: Map<string, number>;
  /** Every dump: label, round, instructions per request. */
  phases: { key: string; round: number; perRequest: number }[];
}

export interface InstructionOptions {
  valgrind: string;
  callgrindControl: string;
  /** node + its arguments for the gateway (it must listen on `url`). */
  command: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  dir: string;
  url: string;
  path: string;
  body: string | null;
  /** Key label → bearer token. */
  keys: [string, string][];
  warm: number;
  n: number;
  rounds: number;
  /** Wraps each counted phase (e.g. to read Redis's command counters around it). */
  around?: (label: string, round: number, phase: () => Promise<void>) => Promise<void>;
}

/** Exactly `n` requests, 8 at a time; any answer but 200 fails the measure. */
export async function send(url: string, path: string, body: string | null, token: string, n: number): Promise<void> {
  const pool = new Pool(url, { connections: 8, pipelining: 1 });
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body) headers['content-type'] = 'application/json';
  let left = n;
  const worker = async (): Promise<void> => {
    while (left > 0) {
      left--;
      const r = await pool.request({ path, method: body ? 'POST' : 'GET', headers, body });
      await r.body.dump();
      if (r.statusCode !== 200) throw new Error(`${path}: HTTP ${r.statusCode}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: 8 }, worker));
  } finally {
    await pool.close();
  }
}

/** Next to the dumps: dump label (`key@round`) → bytes of /tmp/perf-<pid>.map when it was written. */
export const PERF_MAP_AT_DUMP = 'perf-map-at-dump.json';

function perfMapBytes(pid: number | undefined): number | null {
  try {
    return statSync(`/tmp/perf-${pid}.map`).size;
  } catch {
    return null;
  }
}

export async function countInstructions(o: InstructionOptions): Promise<InstructionRun> {
  const out = join(o.dir, `callgrind-${o.path.replace(/\W/g, '')}`);
  mkdirSync(out, { recursive: true });
  const g = startServer('gatehouse-callgrind', o.valgrind, [
    '--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=${join(out, 'cg.out')}`, ...o.command,
  ], { env: o.env, cwd: o.cwd, log: join(o.dir, 'gatehouse-callgrind.log') });
  const ctl = (...args: string[]) => run(o.callgrindControl, [...args, String(g.pid)]);
  const mapAtDump = new Map<string, number | null>();
  try {
    await waitHttp(`${o.url}/healthz`, g.proc, 300_000);
    for (const [, token] of o.keys) await send(o.url, o.path, o.body, token, o.warm);
    await ctl('-i', 'on');
    for (let round = 1; round <= o.rounds; round++) {
      // Alternate which key goes first, so anything that drifts hits both alike.
      const order = round % 2 ? o.keys : [...o.keys].reverse();
      for (const [label, token] of order) {
        const phase = async (): Promise<void> => {
          await ctl('-z');
          await send(o.url, o.path, o.body, token, o.n);
          await ctl('-d', `${label}@${round}`);
          mapAtDump.set(`${label}@${round}`, perfMapBytes(g.pid));
        };
        await (o.around ? o.around(label, round, phase) : phase());
      }
    }
    await ctl('-i', 'off');
  } finally {
    await g.stop();
    // With --perf-basic-prof, how far V8's perf map had grown at each dump: V8 reuses code
    // addresses, so bench/callgrind-js.ts must name an address by the entries written by then.
    if ([...mapAtDump.values()].some((b) => b !== null)) writeFileSync(join(out, PERF_MAP_AT_DUMP), JSON.stringify(Object.fromEntries(mapAtDump)));
  }
  const phases: InstructionRun['phases'] = [];
  for (const f of readdirSync(out)) {
    if (!/^cg\.out\.\d+$/.test(f)) continue;
    const text = readFileSync(join(out, f), 'utf8');
    const trigger = /^desc: Trigger: dump (.+)@(\d+)$/m.exec(text);
    const summary = /^summary: (\d+)$/m.exec(text);
    if (!trigger || !summary) continue;
    phases.push({ key: trigger[1]!, round: Number(trigger[2]), perRequest: Number(summary[1]) / o.n });
  }
  if (phases.length !== o.keys.length * o.rounds) throw new Error(`callgrind wrote ${phases.length} dumps, expected ${o.keys.length * o.rounds}`);
  const perRequest = new Map<string, number>();
  for (const [label] of o.keys) perRequest.set(label, median(phases.filter((p) => p.key === label && p.round > 1).map((p) => p.perRequest)));
  phases.sort((a, b) => a.round - b.round || a.key.localeCompare(b.key));
  return { perRequest, phases };
}
