import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { ManualClock } from '../../src/core/clock.js';
import type { AdmissionRequest } from '../../src/limits/types.js';
import { post, startInProc, type InProc } from './inproc.js';

/**
 * The request the gateway hands the limiter is built on every request, so its shape matters to
 * the garbage collector. An object literal with a `get signal()` closure gets a hidden class of its
 * own per request (the accessor is a new function each time), allocated in old space; that map
 * kept each request's object graph alive through young-generation collections, and under load the
 * gateway promoted ~1.4 MB per scavenge with 4 ms pauses (the S5 p99 doubled). These checks fail
 * if a per-request accessor comes back.
 */

setFlagsFromString('--allow-natives-syntax');
// V8 intrinsics parse only in code compiled after the flag is set, hence new Function.
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

describe('the admission request the gateway builds per request', () => {
  const clock = new ManualClock();
  let s: InProc;
  const seen: AdmissionRequest[] = [];
  before(async () => {
    s = await startInProc(clock);
    const admit = s.limiter.admit.bind(s.limiter);
    s.limiter.admit = (req) => {
      seen.push(req);
      return admit(req);
    };
  });
  after(() => s.close());

  it('has no per-request accessor and one hidden class for every request', async () => {
    const { key } = await s.createKey('shape', { rpm: 1000, concurrency: 10 });
    for (const model of ['llama3', 'llama3']) {
      const r = await post(s.gw.url, '/api/chat', key, { model, stream: false, messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(r.status, 200, r.text);
    }
    assert.equal(seen.length, 2);
    const [a, b] = seen as [AdmissionRequest, AdmissionRequest];
    assert.notEqual(a, b);
    for (const req of seen) {
      for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(req))) {
        assert.ok(!d.get && !d.set, `own accessor "${name}" on the admission request`);
      }
    }
    assert.ok(haveSameMap(a, b), 'two admission requests should share one hidden class');
    // The lazy abort signal still works where it lives now (on the prototype).
    assert.ok(a.signal instanceof AbortSignal);
  });
});
