import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { inclusiveCalls, LITERAL_SLOW_PATH, readPhases, summarize } from '../../bench/lib/instructions.js';

/**
 * `INSTR=1 npm run bench:limits` reads callgrind's dumps written with --separate-threads=yes: one
 * file per dump and thread. The fleet's 3% figure is read from the main thread alone, so which
 * file counts as the main thread, and that every thread counts in the total, must hold.
 */
function dump(dir: string, n: number, thread: number, label: string, instructions: number, costs = ''): void {
  const file = `cg.out.${n}-${String(thread).padStart(2, '0')}`;
  writeFileSync(join(dir, file), `version: 1\ncreator: callgrind-3.19.0\npid: 42\ncmd: node\npart: ${n}\n\ndesc: I1 cache:\ndesc: Trigger: dump ${label}\n\npositions: line\nevents: Ir\nthread: ${thread}\nsummary: ${instructions}\n${costs}totals: ${instructions}\n`);
}

describe('bench: instructions per request from per-thread callgrind dumps', () => {
  it('adds every thread into the total, and only thread 1 into the main thread and its slow-path count', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-instr-'));
    try {
      dump(dir, 1, 1, 'without@1', 3000, 'fn=(7) x\ncfn=(9) v8::internal::Runtime_DefineKeyedOwnPropertyInLiteral(int)\ncalls=2 0\n0 700\n');
      dump(dir, 1, 2, 'without@1', 0);
      dump(dir, 1, 12, 'without@1', 1000, 'fn=(7) x\ncfn=(9) v8::internal::Runtime_DefineKeyedOwnPropertyInLiteral(int)\ncalls=2 0\n0 500\n');
      dump(dir, 2, 1, 'with@1', 5000);
      dump(dir, 2, 3, 'with@1', 1000);
      writeFileSync(join(dir, 'cg.out-01'), 'summary: 999999\n'); // the final dump at exit, not a phase
      writeFileSync(join(dir, 'cg.out'), 'summary: 999999\n');
      const phases = readPhases(dir, 10);
      assert.deepEqual(phases, [
        { key: 'with', round: 1, perRequest: 600, mainPerRequest: 500, literalSlowPath: 0 },
        { key: 'without', round: 1, perRequest: 400, mainPerRequest: 300, literalSlowPath: 70 },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds the inclusive cost of every call to V8\'s literal slow path, by name or by compressed id', () => {
    const text = [
      'fn=(1) Builtins_CEntry_Return1_ArgvOnStack_NoBuiltinExit',
      '0 10',
      'cfn=(2) v8::internal::Runtime_DefineKeyedOwnPropertyInLiteral(int, unsigned long*, v8::internal::Isolate*)',
      'calls=3 0 ',
      '0 3600',
      'cfn=(3) v8::internal::Runtime_Other(int)',
      'calls=1 0 ',
      '0 999',
      'fn=(4) other',
      'cfn=(2)',
      'calls=1 0 ',
      '+2 1200',
      'fn=(2)',
      '0 50',
    ].join('\n');
    assert.equal(inclusiveCalls(text, LITERAL_SLOW_PATH), 4800);
    assert.equal(inclusiveCalls(text, 'nothing-by-this-name'), 0);
  });

  it('keeps the median of the rounds after the first, and refuses a run with a dump missing', () => {
    const p = (key: string, round: number, all: number, main: number) => ({ key, round, perRequest: all, mainPerRequest: main, literalSlowPath: 0 });
    const phases = [p('a', 1, 900, 900), p('a', 2, 10, 5), p('a', 3, 30, 7), p('a', 4, 20, 100)];
    const r = summarize(phases, ['a'], 4);
    assert.equal(r.perRequest.get('a'), 20);
    assert.equal(r.mainPerRequest.get('a'), 7);
    assert.throws(() => summarize(phases.slice(1), ['a'], 4), /wrote 3 dumps, expected 4/);
  });
});
