/**
 * Names the JavaScript in a callgrind dump. callgrind sees V8's compiled code only as addresses
 * (`???:0x…`); V8's perf map (`node --perf-basic-prof` writes /tmp/perf-<pid>.map) says which
 * function each address range holds. This prints the instructions per request of each JS function,
 * inclusive of what it calls (nested entries overlap, so the rows do not add up), or self only.
 *
 *   NODE_OPTIONS=--perf-basic-prof KEEP=1 INSTR=1 npm run bench:limits   # keeps the dumps
 *   node dist/bench/callgrind-js.js <dir>/callgrind-apichat/cg.out.4-01 [--self] [--top 60] [--n 2000]
 *
 * Each dump is one file per thread (`-01` is Node's main thread, where requests are served; `-02`…
 * the SQLite writer, V8's helpers and libuv's pool). The map is found from the dump's `pid:` line; `--map FILE` names another. `--n` is the requests
 * the dump counted (INSTR_N, default 2000). V8 reuses code addresses, so the map is read only as
 * far as it had grown when the dump was taken (recorded by lib/instructions.ts).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { PERF_MAP_AT_DUMP } from './lib/instructions.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { self: { type: 'boolean' }, top: { type: 'string', default: '60' }, n: { type: 'string', default: '2000' }, map: { type: 'string' } },
});
const dump = positionals[0];
if (!dump) {
  console.error('usage: callgrind-js <callgrind dump> [--self] [--top N] [--n REQUESTS] [--map /tmp/perf-PID.map]');
  process.exit(2);
}
const text = readFileSync(dump, 'utf8');
const pid = /^pid: (\d+)$/m.exec(text)?.[1];
const mapFile = values.map ?? `/tmp/perf-${pid}.map`;

interface Range { start: number; end: number; name: string; order: number }

// V8 reuses code addresses (code is freed, moved by compaction, and new code placed there), so an
// address can have several entries. The map grows in time order: the entry that names an address
// in a dump is the last one written before the dump. bench/lib/instructions.ts records how far the
// map had grown at each dump; without that record, every entry counts (later ones win) and the
// tool says how many addresses are ambiguous.
const label = /^desc: Trigger: dump (.+)$/m.exec(text)?.[1];
let mapText = readFileSync(mapFile, 'utf8');
let limited = false;
try {
  const at = JSON.parse(readFileSync(join(dirname(dump), PERF_MAP_AT_DUMP), 'utf8')) as Record<string, number | null>;
  const bytes = label ? at[label] : undefined;
  if (typeof bytes === 'number') {
    mapText = Buffer.from(mapText).subarray(0, bytes).toString('utf8');
    limited = true;
  }
} catch {
  // No record (an older dump, or a run without --perf-basic-prof): use the whole map.
}
const ranges: Range[] = [];
for (const line of mapText.split('\n')) {
  const m = /^([0-9a-f]+) ([0-9a-f]+) (.+)$/.exec(line);
  if (m) ranges.push({ start: parseInt(m[1]!, 16), end: parseInt(m[1]!, 16) + parseInt(m[2]!, 16), name: m[3]!, order: ranges.length });
}
ranges.sort((a, b) => a.start - b.start);
const widest = ranges.reduce((w, r) => Math.max(w, r.end - r.start), 0);
let ambiguous = 0;

/** The map entry holding an address: of the ranges that contain it, the one written last. */
function lookup(addr: number): string | null {
  // Ranges are sorted by start: find the last that starts at or below addr, then walk back as far
  // as any range could reach (the widest range's length) collecting those that contain addr.
  let lo = 0;
  let hi = ranges.length - 1;
  let last = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid]!.start <= addr) {
      last = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  let found: Range | null = null;
  const names = new Set<string>();
  for (let i = last; i >= 0 && addr - ranges[i]!.start < widest; i--) {
    const r = ranges[i]!;
    if (addr >= r.end) continue;
    names.add(r.name);
    if (!found || r.order > found.order) found = r;
  }
  if (names.size > 1) ambiguous++;
  return found?.name ?? null;
}

const root = process.cwd();
const short = (name: string) => name.replaceAll(`file://${root}/dist/`, '').replaceAll(`file://${root}/`, '').replaceAll(`${root}/node_modules/`, '');
const annotated = execFileSync('callgrind_annotate', [`--inclusive=${values.self ? 'no' : 'yes'}`, '--threshold=100', dump], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
const n = Number(values.n);
const per = new Map<string, number>();
for (const line of annotated.split('\n')) {
  const m = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
  if (!m || m[2]!.includes('PROGRAM TOTALS')) continue;
  const count = Number(m[1]!.replaceAll(',', ''));
  const addr = /^\?\?\?:0x([0-9a-f]+) \[\?\?\?\]$/.exec(m[2]!);
  const name = addr ? lookup(parseInt(addr[1]!, 16)) : values.self ? m[2]!.replace(/\(.*$/, '') : null;
  if (!name) continue;
  // Inclusive view: the JS functions only (native frames' inclusive counts repeat their callers').
  const key = short(name);
  per.set(key, values.self ? (per.get(key) ?? 0) + count : Math.max(per.get(key) ?? 0, count));
}
const total = /^summary: (\d+)$/m.exec(text)?.[1];
console.log(`${dump}: ${total ? (Number(total) / n).toFixed(0) : '?'} instructions per request in all; ${values.self ? 'self' : 'inclusive'}, per request:`);
console.log(
  limited
    ? `(perf map read as it stood at this dump; ${ambiguous} addresses had held other code before, named by the latest entry)`
    : `(no record of the perf map at this dump: the whole map was read; ${ambiguous} addresses have several entries and are named by the latest, which may be code placed there after the dump)`,
);
for (const [name, count] of [...per].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
  console.log(`${(count / n).toFixed(0).padStart(9)}  ${name}`);
}
