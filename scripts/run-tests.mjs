#!/usr/bin/env node
// Runs every compiled test file with Node's built-in runner. Node 20's `--test` takes no globs,
// so the files are found here. Pass name filters as arguments: `npm test -- keys ssh`.
// Files named *.serial.test.js measure latency or memory: they run after the others, one at a
// time, so that no other test file competes with them for the machine's cores.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const roots = ['dist/src', 'dist/test'];
const files = [];
function walk(dir) {
  let entries;
  try { entries = readdirSync(dir); } catch { return; }
  for (const name of entries) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
}
roots.forEach(walk);
const filters = process.argv.slice(2);
const chosen = filters.length ? files.filter((f) => filters.some((x) => f.includes(x))) : files;
if (chosen.length === 0) { console.error('no test files matched'); process.exit(1); }
chosen.sort();
const serial = chosen.filter((f) => f.endsWith('.serial.test.js'));
const parallel = chosen.filter((f) => !f.endsWith('.serial.test.js'));
const run = (list, concurrency) => {
  console.error(`running ${list.length} test files${concurrency === 1 ? ' one at a time' : ''}`);
  const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...list.map((f) => relative('.', f))], { stdio: 'inherit' });
  return r.status ?? 1;
};
let status = 0;
if (parallel.length) status = run(parallel, 2);
if (serial.length) status = run(serial, 1) || status;
process.exit(status);
