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
 * so a ratio of these counts overstates the ratio of CPU time. Each thread is dumped apart, so the
 * main thread's part is known too (readPhases).
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
  /** The same, the main thread only (see mainPerRequest below). */
  mainPerRequest: Map<string, number>;
  /** Every dump, in round order. */
  phases: Phase[];
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

/** One dump: which key, which round, instructions per request (all threads, and the main thread alone). */
export interface Phase {
  key: string;
  round: number;
  perRequest: number;
  mainPerRequest: number;
  /** Of the main thread's count, what went through V8's slow path for literals (LITERAL_SLOW_PATH). */
  literalSlowPath: number;
}

type Counted = Pick<InstructionOptions, 'callgrindControl' | 'url' | 'n'>;

/**
 * One process under callgrind, started with instrumentation off. Several can be counted at once
 * (see limits-ab's one-node fleet pair): zero each, then send each its requests at the same time,
 * so that what moves with time (the host, timers that fire per second, idle spells) is the same
 * for all of them.
 */
export class CountedProcess {
  readonly #o: Counted;
  readonly #out: string;
  readonly #server: ReturnType<typeof startServer>;
  readonly #mapAtDump = new Map<string, number | null>();

  private constructor(o: Counted, out: string, server: ReturnType<typeof startServer>) {
    this.#o = o;
    this.#out = out;
    this.#server = server;
  }

  /** Starts `command` under callgrind and waits until `url`/healthz answers. */
  static async start(o: Pick<InstructionOptions, 'valgrind' | 'callgrindControl' | 'command' | 'env' | 'cwd' | 'dir' | 'url' | 'n'> & { name: string }): Promise<CountedProcess> {
    const out = join(o.dir, `callgrind-${o.name}`);
    mkdirSync(out, { recursive: true });
    const server = startServer(`${o.name}-callgrind`, o.valgrind, [
      '--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', '--separate-threads=yes', `--callgrind-out-file=${join(out, 'cg.out')}`, ...o.command,
    ], { env: o.env, cwd: o.cwd, log: join(o.dir, `${o.name}-callgrind.log`) });
    const p = new CountedProcess({ callgrindControl: o.callgrindControl, url: o.url, n: o.n }, out, server);
    try {
      await waitHttp(`${o.url}/healthz`, server.proc, 300_000);
    } catch (err) {
      await server.stop();
      throw err;
    }
    return p;
  }

  #ctl(...args: string[]): Promise<unknown> {
    return run(this.#o.callgrindControl, [...args, String(this.#server.pid)]);
  }

  /** Uncounted requests (instrumentation is off until `instrument(true)`). */
  warm(path: string, body: string | null, token: string, n: number): Promise<void> {
    return send(this.#o.url, path, body, token, n);
  }

  async instrument(on: boolean): Promise<void> {
    await this.#ctl('-i', on ? 'on' : 'off');
  }

  /** One counted phase: zero the counters, send exactly `n` requests with one key, dump as `label@round`. */
  async phase(label: string, round: number, path: string, body: string | null, token: string): Promise<void> {
    await this.zero();
    await this.sendAndDump(label, round, path, body, token);
  }

  /** Zeroes the counters (a phase's start; `sendAndDump` is its end). */
  async zero(): Promise<void> {
    await this.#ctl('-z');
  }

  async sendAndDump(label: string, round: number, path: string, body: string | null, token: string): Promise<void> {
    await send(this.#o.url, path, body, token, this.#o.n);
    await this.#ctl('-d', `${label}@${round}`);
    this.#mapAtDump.set(`${label}@${round}`, perfMapBytes(this.#server.pid));
  }

  /** Stops the process and reads its dumps. */
  async stop(): Promise<Phase[]> {
    await this.#server.stop();
    // With --perf-basic-prof, how far V8's perf map had grown at each dump: V8 reuses code
    // addresses, so bench/callgrind-js.ts must name an address by the entries written by then.
    if ([...this.#mapAtDump.values()].some((b) => b !== null)) writeFileSync(join(this.#out, PERF_MAP_AT_DUMP), JSON.stringify(Object.fromEntries(this.#mapAtDump)));
    return readPhases(this.#out, this.#o.n);
  }
}

/**
 * V8's runtime function for an object literal with computed keys. Node's `process.nextTick` builds
 * each tick as `{ [async_id_symbol]: …, [trigger_async_id_symbol]: …, callback, args }`. In some
 * processes, at random, V8's optimized code calls this function for every tick instead of building
 * the object inline (in a dump named with V8's perf map, every call came from nextTick inlined
 * into Node's stream and http code): about 1.2k instructions a tick, 10–16% of a request's
 * main-thread count. It starts during the warm-up or in any later round, and in every run looked
 * at it then stayed for the rest of the process's life. Two processes that differ only in that compare as if one cost
 * that much more, so the fleet pair reads its counts with this function's inclusive cost left out
 * (and shows it).
 */
export const LITERAL_SLOW_PATH = 'v8::internal::Runtime_DefineKeyedOwnPropertyInLiteral(';

/**
 * --separate-threads=yes writes one file per dump and thread (cg.out.<dump>-<thread>). Thread 1 is
 * the process's first, Node's main thread, where every request is parsed, checked and forwarded;
 * the others are the SQLite writer, V8's compiler and GC helpers, and libuv's pool, whose work per
 * request moves with how many requests a second valgrind lets through.
 */
export function readPhases(out: string, n: number): Phase[] {
  const dumps = new Map<string, { key: string; round: number; all: number; main: number; slow: number }>();
  for (const f of readdirSync(out)) {
    const m = /^cg\.out\.(\d+)-(\d+)$/.exec(f);
    if (!m) continue;
    const text = readFileSync(join(out, f), 'utf8');
    const trigger = /^desc: Trigger: dump (.+)@(\d+)$/m.exec(text);
    const summary = /^summary: (\d+)$/m.exec(text);
    if (!trigger || !summary) continue;
    const d = dumps.get(m[1]!) ?? { key: trigger[1]!, round: Number(trigger[2]), all: 0, main: 0, slow: 0 };
    d.all += Number(summary[1]);
    if (Number(m[2]) === 1) {
      d.main += Number(summary[1]);
      d.slow += inclusiveCalls(text, LITERAL_SLOW_PATH);
    }
    dumps.set(m[1]!, d);
  }
  const phases = [...dumps.values()].map((d) => ({ key: d.key, round: d.round, perRequest: d.all / n, mainPerRequest: d.main / n, literalSlowPath: d.slow / n }));
  return phases.sort((a, b) => a.round - b.round || a.key.localeCompare(b.key));
}

/**
 * The inclusive cost of every call to the function whose name starts with `name`, from a callgrind
 * dump: each `cfn=` line names a callee (the first mention of an id carries its name, later ones
 * the id alone), its `calls=` line follows, then one cost line whose last number is the call's
 * inclusive cost. The function calls nothing that calls it back, so the calls do not nest.
 */
export function inclusiveCalls(text: string, name: string): number {
  const names = new Map<string, string>();
  let total = 0;
  let callee: string | null = null;
  let afterCalls = false;
  for (const line of text.split('\n')) {
    if (afterCalls) {
      afterCalls = false;
      if (callee !== null && names.get(callee)?.startsWith(name)) total += Number(line.trim().split(/\s+/).pop());
      continue;
    }
    const fn = /^c?fn=\((\d+)\)(?: (.*))?$/.exec(line);
    if (fn) {
      if (fn[2] !== undefined) names.set(fn[1]!, fn[2]);
      callee = line.startsWith('cfn=') ? fn[1]! : null;
    } else if (line.startsWith('calls=')) afterCalls = true;
  }
  return total;
}

/** Median per key over the rounds after the first (the JIT is still settling in it). */
export function summarize(phases: Phase[], labels: string[], rounds: number): InstructionRun {
  if (phases.length !== labels.length * rounds) throw new Error(`callgrind wrote ${phases.length} dumps, expected ${labels.length * rounds}`);
  const perRequest = new Map<string, number>();
  const mainPerRequest = new Map<string, number>();
  for (const label of labels) {
    const counted = phases.filter((p) => p.key === label && p.round > 1);
    perRequest.set(label, median(counted.map((p) => p.perRequest)));
    mainPerRequest.set(label, median(counted.map((p) => p.mainPerRequest)));
  }
  return { perRequest, mainPerRequest, phases };
}

/** One process, its keys alternating (the order flips every round, so drift hits both alike). */
export async function countInstructions(o: InstructionOptions): Promise<InstructionRun> {
  const p = await CountedProcess.start({ ...o, name: o.path.replace(/\W/g, '') });
  let phases: Phase[] = [];
  try {
    for (const [, token] of o.keys) await p.warm(o.path, o.body, token, o.warm);
    await p.instrument(true);
    for (let round = 1; round <= o.rounds; round++) {
      const order = round % 2 ? o.keys : [...o.keys].reverse();
      for (const [label, token] of order) {
        const phase = () => p.phase(label, round, o.path, o.body, token);
        await (o.around ? o.around(label, round, phase) : phase());
      }
    }
    await p.instrument(false);
  } finally {
    phases = await p.stop();
  }
  return summarize(phases, o.keys.map(([label]) => label), o.rounds);
}
