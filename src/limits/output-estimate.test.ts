import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_OUTPUT_ESTIMATE, MIN_SAMPLES, OUTPUT_SAMPLES, OutputEstimate, OutputEstimates } from './output-estimate.js';

/** The p95 the estimate must report: nearest rank over the last OUTPUT_SAMPLES samples. */
function naive(all: number[]): number {
  const last = all.slice(-OUTPUT_SAMPLES);
  if (last.length < MIN_SAMPLES) return Math.max(DEFAULT_OUTPUT_ESTIMATE, ...last);
  const sorted = [...last].sort((a, b) => a - b);
  return sorted[Math.ceil(0.95 * sorted.length) - 1]!;
}

describe('item 2: the learned output estimate (p95 of recent completions per key and model)', () => {
  it('starts at the conservative default, and never below the longest answer seen until there is history', () => {
    const e = new OutputEstimate();
    assert.equal(e.value, DEFAULT_OUTPUT_ESTIMATE);
    for (let i = 0; i < MIN_SAMPLES - 2; i++) e.add(40);
    assert.equal(e.value, DEFAULT_OUTPUT_ESTIMATE, 'a few short answers are not history yet');
    e.add(3000);
    assert.equal(e.value, 3000, 'a long answer raises it at once');
    e.add(40);
    assert.equal(e.samples, MIN_SAMPLES);
    assert.equal(e.value, 3000, 'with 8 samples the p95 is the largest');
  });

  it('follows the recent p95: one outlier among 32 does not move it, the old ones leave the ring', () => {
    const e = new OutputEstimate();
    for (let i = 0; i < OUTPUT_SAMPLES; i++) e.add(100 + i);
    assert.equal(e.value, 130, 'the 31st of 32 sorted samples');
    e.add(8000);
    assert.equal(e.value, 131, 'the outlier is the largest; the p95 is the second largest');
    for (let i = 0; i < OUTPUT_SAMPLES; i++) e.add(20);
    assert.equal(e.value, 20, 'after 32 newer samples the old ones are gone');
  });

  it('matches a naive p95 over a long random sequence (the sorted copy stays exact)', () => {
    const e = new OutputEstimate();
    const all: number[] = [];
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let i = 0; i < 5000; i++) {
      // Many repeated values (ties) and a wide range.
      const v = rnd() < 0.3 ? 50 : Math.floor(rnd() * rnd() * 9000);
      all.push(v);
      e.add(v);
      assert.equal(e.value, naive(all), `after ${i + 1} samples`);
    }
  });

  it('counts are whole and never negative', () => {
    const e = new OutputEstimate();
    for (let i = 0; i < MIN_SAMPLES; i++) e.add(i % 2 ? -5 : 10.2);
    assert.equal(e.value, 11);
  });

  it('is kept per key and per model', () => {
    const t = new OutputEstimates();
    const a = t.of('key-a', 'llama3');
    assert.equal(t.of('key-a', 'llama3'), a);
    assert.notEqual(t.of('key-a', 'mistral'), a);
    assert.notEqual(t.of('key-b', 'llama3'), a);
  });
});
