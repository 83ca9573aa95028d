import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ReplayGuard } from './replay-guard.js';

const sig = (n: number): string => `sig-${n}`;

describe('ReplayGuard', () => {
  it('accepts a token once and refuses the repeat', () => {
    const g = new ReplayGuard({ windowSec: 30 });
    assert.equal(g.seen(sig(1), 1000, 1000), false);
    assert.equal(g.seen(sig(1), 1000, 1000), true);
    assert.equal(g.seen(sig(1), 1000, 1010), true);
    assert.equal(g.check(sig(1), 1000, 1010), 'replay');
    assert.equal(g.seen(sig(2), 1000, 1010), false);
    assert.equal(g.size, 2);
  });

  it('remembers a token until the last second its ts is in the window, then forgets it', () => {
    const g = new ReplayGuard({ windowSec: 30 });
    assert.equal(g.check(sig(1), 1000, 1000), 'fresh');
    assert.equal(g.check(sig(1), 1000, 1030), 'replay'); // ts + window: still live, so still refused
    assert.equal(g.size, 1);
    assert.equal(g.check(sig(1), 1000, 1031), 'outside-window'); // checkTimestamp refuses it from here
    assert.equal(g.size, 0, 'expired entry dropped');
  });

  it('keeps tokens with a future ts until ts + window', () => {
    const g = new ReplayGuard({ windowSec: 10 });
    assert.equal(g.check(sig(1), 1010, 1000), 'fresh');
    assert.equal(g.check(sig(1), 1010, 1020), 'replay');
    assert.equal(g.size, 1);
    assert.equal(g.check(sig(1), 1010, 1021), 'outside-window');
    assert.equal(g.size, 0);
  });

  it('refuses and does not record tokens outside the window', () => {
    const g = new ReplayGuard({ windowSec: 30 });
    assert.equal(g.check(sig(1), 969, 1000), 'outside-window');
    assert.equal(g.check(sig(1), 1031, 1000), 'outside-window');
    assert.equal(g.seen(sig(1), 969, 1000), true);
    assert.equal(g.size, 0);
    assert.equal(g.check(sig(1), 970, 1000), 'fresh');
    assert.equal(g.check(sig(2), 1030, 1000), 'fresh');
  });

  it('refuses non-finite clocks and non-integer ts instead of recording them', () => {
    const g = new ReplayGuard({ windowSec: 30 });
    assert.equal(g.check(sig(1), 1000, Number.NaN), 'outside-window');
    assert.equal(g.check(sig(1), Number.NaN, 1000), 'outside-window');
    assert.equal(g.check(sig(1), 1000.5, 1000), 'outside-window');
    assert.equal(g.size, 0);
    assert.equal(g.check(sig(1), 1000, 1000.9), 'fresh'); // fractional clock is floored
  });

  it('expires everything after a long idle gap', () => {
    const g = new ReplayGuard({ windowSec: 5 });
    for (let i = 0; i < 100; i++) g.check(sig(i), 1000 + (i % 5), 1000 + (i % 5));
    assert.equal(g.size, 100);
    g.check(sig(1000), 1_000_000, 1_000_000);
    assert.equal(g.size, 1);
  });

  it('steady traffic keeps the size bounded by the window', () => {
    const g = new ReplayGuard({ windowSec: 3 });
    let n = 0;
    for (let now = 0; now < 1000; now++) {
      for (let k = 0; k < 10; k++) assert.equal(g.check(sig(n++), now, now), 'fresh');
      assert.ok(g.size <= 10 * (3 + 1), `size ${g.size} at ${now}`);
    }
  });

  it('still expires entries recorded after the clock stepped back', () => {
    const g = new ReplayGuard({ windowSec: 2 });
    g.check(sig(1), 1000, 1000);
    g.check(sig(2), 900, 900); // clock went back 100 s
    assert.equal(g.size, 2);
    g.check(sig(3), 1003, 1003);
    assert.equal(g.size, 1, 'both old entries gone');
  });

  it('fails closed at capacity, reports it, and recovers after expiry', () => {
    const reports: Array<{ size: number; maxEntries: number }> = [];
    const g = new ReplayGuard({ windowSec: 10, maxEntries: 3, onCapacityExceeded: (info) => reports.push(info) });
    assert.equal(g.check(sig(1), 1000, 1000), 'fresh');
    assert.equal(g.check(sig(2), 1000, 1000), 'fresh');
    assert.equal(g.check(sig(3), 1001, 1001), 'fresh');
    assert.equal(g.check(sig(4), 1001, 1001), 'full');
    assert.equal(g.seen(sig(4), 1001, 1001), true);
    assert.equal(g.check(sig(1), 1000, 1001), 'replay', 'known tokens are still recognised when full');
    assert.equal(g.size, 3);
    assert.equal(g.refusedForCapacity, 2);
    assert.deepEqual(reports, [{ size: 3, maxEntries: 3 }, { size: 3, maxEntries: 3 }]);
    // sig 1 and 2 expire at 1011; room again.
    assert.equal(g.check(sig(4), 1011, 1011), 'fresh');
    assert.equal(g.size, 2);
  });

  it('validates its options', () => {
    assert.throws(() => new ReplayGuard({ windowSec: -1 }), RangeError);
    assert.throws(() => new ReplayGuard({ windowSec: 1.5 }), RangeError);
    assert.throws(() => new ReplayGuard({ windowSec: 30, maxEntries: 0 }), RangeError);
  });

  it('handles 200k checks quickly', () => {
    const g = new ReplayGuard({ windowSec: 30, maxEntries: 1_000_000 });
    const start = process.hrtime.bigint();
    for (let i = 0; i < 200_000; i++) g.check(sig(i), 1000 + Math.floor(i / 1000), 1000 + Math.floor(i / 1000));
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    assert.ok(g.size <= 31_000);
    assert.ok(ms < 2000, `${ms} ms`);
  });
});
