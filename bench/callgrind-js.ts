/**
 * Names the JavaScript in a callgrind dump. callgrind sees V8's compiled code only as addresses
 * (`???:0x…`); V8's perf map (`node --perf-basic-prof` writes /tmp/perf-<pid>.map) says which
 * function each address range holds. This prints the instructions per request of each JS function,
 * inclusive of what it calls (nested entries overlap, so the rows do not add up), or self only.
 *
 *   NODE_OPTIONS=--perf-basic-prof KEEP=1 INSTR=1 npm run bench:limits   # keeps the dumps
 *   node dist/bench/callgrind-js.js <dir>/callgrind-apichat/cg.out.4 [--self] [--top 60] [--n 2000]
 *
 * The map is found from the dump's `pid:` line; `--map FILE` names another. `--n` is the requests
 * the dump counted (INSTR_N, default 2000).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

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

interface Range { start: number; end: number; name: string }
const ranges: Range[] = [];
for (const line of readFileSync(mapFile, 'utf8').split('\n')) {
  const m = /^([0-9a-f]+) ([0-9a-f]+) (.+)$/.exec(line);
  if (m) ranges.push({ start: parseInt(m[1]!, 16), end: parseInt(m[1]!, 16) + parseInt(m[2]!, 16), name: m[3]! });
}
ranges.sort((a, b) => a.start - b.start);

/** The map entry holding an address: the last range that starts at or below it, if it reaches it. */
function lookup(addr: number): string | null {
  let lo = 0;
  let hi = ranges.length - 1;
  let found: Range | null = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid]!.start <= addr) {
      found = ranges[mid]!;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found && addr < found.end ? found.name : null;
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
for (const [name, count] of [...per].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
  console.log(`${(count / n).toFixed(0).padStart(9)}  ${name}`);
}
