import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaseList, type Listed } from '../../src/limits/lease-list.js';

class Entry implements Listed<Entry> {
  prev: Entry | null = null;
  next: Entry | null = null;
  listed = false;
  constructor(readonly n: number) {}
}

const items = (l: LeaseList<Entry>): number[] => {
  const out: number[] = [];
  l.forEach((e) => out.push(e.n));
  return out;
};

describe('LeaseList (the Redis store\'s held leases)', () => {
  it('adds, deletes from the head, the middle and the tail, and counts', () => {
    const l = new LeaseList<Entry>();
    const e = [0, 1, 2, 3, 4].map((n) => new Entry(n));
    e.forEach((x) => l.add(x));
    assert.equal(l.size, 5);
    assert.deepEqual(items(l).sort(), [0, 1, 2, 3, 4]);
    assert.equal(l.delete(e[4]!), true); // head (last added)
    assert.equal(l.delete(e[2]!), true); // middle
    assert.equal(l.delete(e[0]!), true); // tail
    assert.deepEqual(items(l).sort(), [1, 3]);
    assert.equal(l.size, 2);
  });

  it('adding twice or deleting what is not listed changes nothing', () => {
    const l = new LeaseList<Entry>();
    const a = new Entry(1);
    l.add(a);
    l.add(a);
    assert.equal(l.size, 1);
    assert.equal(l.delete(new Entry(2)), false);
    assert.equal(l.delete(a), true);
    assert.equal(l.delete(a), false);
    assert.equal(l.size, 0);
    assert.deepEqual(items(l), []);
  });

  it('an entry that leaves keeps no links (a dead entry must not hold live ones for the GC)', () => {
    const l = new LeaseList<Entry>();
    const [a, b, c] = [1, 2, 3].map((n) => new Entry(n)) as [Entry, Entry, Entry];
    [a, b, c].forEach((x) => l.add(x));
    l.delete(b);
    assert.equal(b.prev, null);
    assert.equal(b.next, null);
    assert.equal(b.listed, false);
    assert.deepEqual(items(l).sort(), [1, 3]);
  });

  it('forEach may delete the entry it is visiting', () => {
    const l = new LeaseList<Entry>();
    const e = Array.from({ length: 6 }, (_, n) => new Entry(n));
    e.forEach((x) => l.add(x));
    l.forEach((x) => {
      if (x.n % 2 === 0) l.delete(x);
    });
    assert.deepEqual(items(l).sort(), [1, 3, 5]);
    assert.equal(l.size, 3);
  });

  it('matches a Set under a random mix of adds and deletes', () => {
    const l = new LeaseList<Entry>();
    const ref = new Set<Entry>();
    const pool = Array.from({ length: 50 }, (_, n) => new Entry(n));
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 10_000; i++) {
      const x = pool[Math.floor(rnd() * pool.length)]!;
      if (rnd() < 0.5) {
        l.add(x);
        ref.add(x);
      } else {
        assert.equal(l.delete(x), ref.delete(x));
      }
      assert.equal(l.size, ref.size);
    }
    assert.deepEqual(items(l).sort((a, b) => a - b), [...ref].map((x) => x.n).sort((a, b) => a - b));
  });
});
