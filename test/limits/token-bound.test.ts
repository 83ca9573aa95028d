import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { MINUTE } from '../../src/limits/store.js';
import { prng, windows, worstWindow, type Run } from './bound.js';
import { deletePrefix, redisAvailable, SKIP_REDIS, uniquePrefix, REDIS_URL } from './helpers.js';
import { post, startInProc, type InProc } from './inproc.js';

/**
 * Issue #18 item 2 through the real gateway (real HTTP, the clamps, the streamed token counting,
 * the emulator generating answers of chosen lengths), on an injected clock so that 45 minutes of
 * 2-minute windows runs in seconds. The client sends one request at a time, as fast as the key is
 * let, and every answer is long (3000–6000 tokens against tpm 1000, under the default output cap
 * of 8192): each answer's debt must keep the next one out of its 2-minute window, so no window
 * holds more than the limit + one output cap.
 */

const L = 1000;
const CAP = 8192; // clamps.max_num_predict default: the cap every /api/chat gets
const BODY = { model: 'llama3', stream: false, messages: [{ role: 'user', content: 'tell me a very long story' }] };

function suite(backend: 'memory' | 'redis'): void {
  describe(`item 2: a tpm ${L} key under a stream of long answers (in-process gateway, ${backend} backend, injected clock)`, () => {
    const clock = new ManualClock();
    const prefix = uniquePrefix('item2');
    let s: InProc;
    before(async () => {
      s = await startInProc(clock, backend === 'redis' ? { limits: { backend: 'redis' }, redis: { url: REDIS_URL, key_prefix: prefix } } : {});
    });
    after(async () => {
      await s.close();
      if (backend === 'redis') await deletePrefix(prefix);
    });

    it(`item 2: every 2-minute window holds at most ${L} + one output cap (${CAP}), and the bucket in debt refuses with a Retry-After that lets the client in`, async () => {
      const { key } = await s.createKey('long-answers', { tpm: L });
      s.emu.reset();
      const rnd = prng(3);
      const runs: Run[] = [];
      let seq = 0;
      let early = 0;
      let waited = 0;
      let mustFit = false;
      const end = clock.now() + 45 * MINUTE;
      while (clock.now() < end) {
        const length = 3000 + Math.floor(rnd() * 3000);
        s.emu.clearFaults();
        s.emu.fault({ chunks: length });
        const before = s.emu.tokensSent.prompt + s.emu.tokensSent.completion;
        const at = clock.now();
        const r = await post(s.gw.url, '/api/chat', key, BODY);
        if (r.status === 429) {
          assert.ok(!mustFit, 'after waiting Retry-After the request fits');
          assert.equal(r.headers.get('x-gatehouse-error'), 'GW_ERR_TOKENS_EXHAUSTED');
          assert.ok(Number(r.headers.get('x-ratelimit-remaining-tokens')) < L, 'refused while the bucket holds less than the reservation');
          const retry = Number(r.headers.get('retry-after'));
          assert.ok(retry >= 1);
          assert.equal(s.emu.tokensSent.prompt + s.emu.tokensSent.completion, before, 'a refused request never reaches Ollama');
          // Some retries come early (and are refused again), the others wait Retry-After.
          if (rnd() < 0.3) {
            early++;
            clock.advance(Math.floor(rnd() * retry * 1000));
          } else {
            waited++;
            mustFit = true;
            clock.advance(retry * 1000);
          }
          continue;
        }
        mustFit = false;
        assert.equal(r.status, 200, r.text.slice(0, 200));
        const used = s.emu.tokensSent.prompt + s.emu.tokensSent.completion - before;
        assert.ok(used > length, `the answer had ${length} tokens (${used} with the prompt)`);
        // Reserved: min(L, prompt estimate + expected output ≥ 1024) = L.
        runs.push({ at, admitSeq: ++seq, settleSeq: ++seq, reserved: L, used });
        clock.advance(Math.floor(rnd() * 20_000));
      }
      assert.ok(runs.length >= 8 && early > 0 && waited > 0, `${runs.length} long answers, ${early} early retries, ${waited} waits`);
      const worst = worstWindow(runs, 2 * MINUTE);
      assert.equal(worst.requests, 1, 'each long answer\'s debt keeps the next one out of its 2-minute window');
      assert.ok(worst.usage <= L + CAP, `worst 2-minute window ${worst.usage} > ${L + CAP}`);
      for (const w of windows(runs, L, MINUTE, 2 * MINUTE)) assert.ok(w.usage <= w.bound + 1e-6, `window at ${w.start}: ${w.usage} > ${w.bound}`);
      // And over the whole run the rate holds: a full bucket, the refill, one answer's overshoot.
      const total = runs.reduce((n, r) => n + r.used, 0);
      const last = runs[runs.length - 1]!;
      const minutes = (last.at - runs[0]!.at) / MINUTE;
      assert.ok(total <= L + L * minutes + (last.used - L), `over ${minutes.toFixed(1)} minutes ${total} tokens`);
    });
  });
}

suite('memory');
if (await redisAvailable()) suite('redis');
else describe('item 2: a tpm key under a stream of long answers (redis backend)', () => it('needs a reachable Redis', { skip: SKIP_REDIS }, () => {}));
