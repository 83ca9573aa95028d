// The per-node circuit breaker (fleet/breaker.ts): when it opens, how long it stays open, the
// one trial request of the half-open state, and what the active probe may change. Time is the
// clock passed in (ms); no timers.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Breaker } from './breaker.js';

const T0 = 1_700_000_000_000;
const BASE = 1000;

/** Opens a fresh breaker with one 503 at `at`. */
function openedByBusy(at = T0): Breaker {
  const b = new Breaker(3, BASE);
  b.failure(at, true, null);
  return b;
}

/** Fails the half-open trial of an open breaker once its open time is over; returns the new open length. */
function failTrial(b: Breaker, busy = true): number {
  const at = b.openUntil;
  assert.equal(b.allows(at), true, 'half-open once the open time is over');
  assert.equal(b.state, 'half-open');
  b.dispatched();
  b.failure(at, busy, null);
  assert.equal(b.state, 'open');
  return b.openUntil - at;
}

describe('Breaker: opening', () => {
  it('stays closed below the threshold of failures in a row, opens at it', () => {
    const b = new Breaker(3, BASE);
    b.failure(T0, false, null);
    b.failure(T0 + 1, false, null);
    assert.equal(b.state, 'closed');
    assert.equal(b.allows(T0 + 2), true);
    assert.equal(b.opens, 0);
    b.failure(T0 + 2, false, null);
    assert.equal(b.state, 'open');
    assert.equal(b.openUntil, T0 + 2 + BASE);
    assert.equal(b.opens, 1);
    assert.equal(b.allows(T0 + 2), false);
    assert.equal(b.allows(T0 + 2 + BASE - 1), false, 'nothing goes before openUntil');
  });

  it('a success in between resets the count: failures must be in a row', () => {
    const b = new Breaker(3, BASE);
    b.failure(T0, false, null);
    b.failure(T0, false, null);
    b.success();
    b.failure(T0, false, null);
    b.failure(T0, false, null);
    assert.equal(b.state, 'closed');
    b.failure(T0, false, null);
    assert.equal(b.state, 'open');
  });

  it('a 503 (busy) opens at once, even with a high threshold', () => {
    const b = new Breaker(100, BASE);
    b.failure(T0, true, null);
    assert.equal(b.state, 'open');
    assert.equal(b.openUntil, T0 + BASE);
    assert.equal(b.allows(T0 + 10), false);
  });

  it("the node's Retry-After is a floor for the open time, not a cap", () => {
    const longer = new Breaker(3, BASE);
    longer.failure(T0, true, 7000);
    assert.equal(longer.openUntil, T0 + 7000, 'Retry-After longer than the base: honoured');
    assert.equal(longer.allows(T0 + 6999), false);
    assert.equal(longer.allows(T0 + 7000), true);

    const shorter = new Breaker(3, BASE);
    shorter.failure(T0, true, 200);
    assert.equal(shorter.openUntil, T0 + BASE, 'Retry-After shorter than the base: the base');

    const zero = new Breaker(3, BASE);
    zero.failure(T0, true, 0);
    assert.equal(zero.openUntil, T0 + BASE);
  });

  it('the Retry-After floor also applies to a failed trial (doubled time vs floor: the larger)', () => {
    const b = openedByBusy();
    const at = b.openUntil;
    assert.equal(b.allows(at), true);
    b.dispatched();
    b.failure(at, true, 60_000);
    assert.equal(b.openUntil, at + 60_000);
  });
});

describe('Breaker: half-open lets exactly one trial', () => {
  it('after openUntil one request may go; no second until the trial ends', () => {
    const b = openedByBusy();
    const at = b.openUntil;
    assert.equal(b.allows(at - 1), false);
    assert.equal(b.state, 'open');
    assert.equal(b.allows(at), true);
    assert.equal(b.state, 'half-open');
    assert.equal(b.allows(at), true, 'asking again before dispatching changes nothing');
    b.dispatched();
    assert.equal(b.allows(at), false, 'the trial is out');
    assert.equal(b.allows(at + 60_000), false, 'however long it runs');
  });

  it('a trial the client abandoned lets another trial go', () => {
    const b = openedByBusy();
    const at = b.openUntil;
    b.allows(at);
    b.dispatched();
    assert.equal(b.allows(at), false);
    b.trialAbandoned();
    assert.equal(b.state, 'half-open');
    assert.equal(b.allows(at), true);
    b.dispatched();
    assert.equal(b.allows(at), false);
  });

  it('dispatched() while closed does not limit anything', () => {
    const b = new Breaker(3, BASE);
    b.dispatched();
    b.dispatched();
    assert.equal(b.allows(T0), true);
  });

  it('a trial success closes the breaker and resets both the failure count and the doubling', () => {
    const b = openedByBusy();
    failTrial(b); // 2 × base now
    const at = b.openUntil;
    b.allows(at);
    b.dispatched();
    b.success();
    assert.equal(b.state, 'closed');
    assert.equal(b.allows(at), true);
    assert.equal(b.allows(at), true, 'closed: more than one request goes');
    b.failure(at, false, null);
    b.failure(at, false, null);
    assert.equal(b.state, 'closed', 'the count of failures in a row restarted');
    b.failure(at, true, null);
    assert.equal(b.openUntil - at, BASE, 'the open time restarted at the base');
  });
});

describe('Breaker: failed trials double the open time, up to 16 × base', () => {
  it('base, 2, 4, 8, 16, 16, 16 × base', () => {
    const b = openedByBusy();
    const lengths = [b.openUntil - T0];
    for (let i = 0; i < 6; i++) lengths.push(failTrial(b));
    assert.deepEqual(lengths, [1, 2, 4, 8, 16, 16, 16].map((k) => k * BASE));
    assert.equal(b.opens, 7);
  });

  it('the same doubling when the trials fail to connect (not busy)', () => {
    const b = new Breaker(2, BASE);
    b.failure(T0, false, null);
    b.failure(T0, false, null);
    const lengths = [b.openUntil - T0];
    for (let i = 0; i < 5; i++) lengths.push(failTrial(b, false));
    assert.deepEqual(lengths, [1, 2, 4, 8, 16, 16].map((k) => k * BASE));
  });

  it('a single failure of the trial reopens (the threshold does not apply in half-open)', () => {
    const b = new Breaker(50, BASE);
    for (let i = 0; i < 50; i++) b.failure(T0, false, null);
    assert.equal(b.state, 'open');
    const at = b.openUntil;
    b.allows(at);
    b.dispatched();
    b.failure(at, false, null);
    assert.equal(b.state, 'open');
    assert.equal(b.openUntil, at + 2 * BASE);
  });
});

describe('Breaker: the active probe', () => {
  it('ends the open period at once when the breaker was opened by failures to connect', () => {
    const b = new Breaker(1, BASE);
    b.failure(T0, false, null);
    assert.equal(b.state, 'open');
    b.probeSucceeded(T0 + 10);
    assert.equal(b.openUntil, T0 + 10);
    assert.equal(b.allows(T0 + 10), true);
    assert.equal(b.state, 'half-open', 'a trial, not closed: one request checks the node');
    b.dispatched();
    assert.equal(b.allows(T0 + 10), false);
  });

  it('does not shorten an open period caused by "server busy" (503)', () => {
    const b = openedByBusy();
    b.probeSucceeded(T0 + 10);
    assert.equal(b.openUntil, T0 + BASE);
    assert.equal(b.allows(T0 + 10), false);
  });

  it('a failed trial that was busy keeps the probe from shortening the next period', () => {
    const b = new Breaker(1, BASE);
    b.failure(T0, false, null); // connect failure
    const at = b.openUntil;
    b.allows(at);
    b.dispatched();
    b.failure(at, true, null); // the trial: 503
    b.probeSucceeded(at + 1);
    assert.equal(b.openUntil, at + 2 * BASE);
  });

  it('never lengthens an open period, and does nothing to a closed breaker', () => {
    const b = new Breaker(1, BASE);
    b.failure(T0, false, null);
    b.probeSucceeded(T0 + 5 * BASE);
    assert.equal(b.openUntil, T0 + BASE);
    const c = new Breaker(1, BASE);
    c.probeSucceeded(T0);
    assert.equal(c.state, 'closed');
    assert.equal(c.openUntil, 0);
  });
});

describe('Breaker: failures of requests sent before it opened', () => {
  // Several requests were in flight on a node when it started answering 503 (parallel > 1). Each
  // of their failures arrives while the breaker is already open. The class comment says the open
  // time doubles on a failed half-open trial; here it doubles on every late 503 instead, so one
  // burst of k concurrent 503s opens the node for min(2^(k-1), 16) × base with no trial at all.
  it('late 503s of requests dispatched before the breaker opened do not lengthen the open time', () => {
    const b = new Breaker(3, BASE);
    for (let i = 0; i < 4; i++) b.failure(T0, true, null);
    assert.equal(b.openUntil, T0 + BASE);
    assert.equal(b.opens, 1);
  });
});
