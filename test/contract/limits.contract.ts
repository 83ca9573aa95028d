import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ManualClock } from '../../src/core/clock.js';
import type { GatewayError } from '../../src/core/errors.js';
import type { ConfigInput } from '../../src/config/schema.js';
import type { GatewayLimiter } from '../../src/limits/limiter.js';
import type { Admission } from '../../src/limits/types.js';
import { DEFAULT_OUTPUT_ESTIMATE, OutputEstimate } from '../../src/limits/output-estimate.js';
import { MINUTE } from '../../src/limits/store.js';
import { prng, windows, worstWindow, type Run } from '../limits/bound.js';
import { CHAT, headerValue, isRefusal, principal, request, sleep, TAGS, tryAdmit, within, type Backend } from '../limits/helpers.js';

/**
 * The one behaviour both limit backends owe: the memory store and the Redis
 * store must pass every test here unchanged. Time that windows depend on comes from a
 * ManualClock; queue waits are real (and short).
 */

export interface ContractTarget {
  backend: Backend;
  make(limits?: NonNullable<ConfigInput['limits']>): Promise<{ limiter: GatewayLimiter; clock: ManualClock }>;
  /** Called once after the suite (e.g. delete Redis keys). */
  cleanup(): Promise<void>;
}

const MODEL = 'registry.ollama.ai/library/llama3:latest';
const OTHER = 'registry.ollama.ai/library/mistral:latest';

export function limitsContract(t: ContractTarget): void {
  describe(`limits contract: ${t.backend} backend`, () => {
    const open: GatewayLimiter[] = [];
    const make = async (limits?: NonNullable<ConfigInput['limits']>) => {
      const b = await t.make(limits);
      open.push(b.limiter);
      return b;
    };
    after(async () => {
      await Promise.all(open.map((l) => l.close()));
      await t.cleanup();
    });

    it('a key with no limits, and no global or model caps, is admitted with no headers', async () => {
      const { limiter } = await make();
      const a = await limiter.admit(request(principal('free'), { tokens: 5000 }));
      assert.deepEqual(a.headers, []);
      a.release({ prompt: 10, completion: 10, estimated: false });
      assert.equal(limiter.snapshot().inFlight, 0);
    });

    it('rpm: the N+1th request in a window gets 429 with Retry-After, and the window refills on schedule', async () => {
      const { limiter, clock } = await make();
      const p = principal('rpm', { rpm: 6 });
      for (let i = 0; i < 6; i++) {
        const a = await tryAdmit(limiter, request(p, { route: TAGS }));
        assert.ok(!isRefusal(a), `request ${i + 1} of 6 must pass`);
        assert.equal(headerValue(a.headers, 'x-ratelimit-limit-requests'), '6');
        assert.equal(headerValue(a.headers, 'x-ratelimit-remaining-requests'), String(5 - i));
        a.release(null);
      }
      const no = await tryAdmit(limiter, request(p, { route: TAGS }));
      assert.ok(isRefusal(no));
      assert.equal(no.status, 429);
      assert.equal(no.code, 'GW_ERR_RATE_LIMITED');
      assert.equal(no.headers?.['retry-after'], '10'); // one request per 60/6 s
      assert.equal(no.headers?.['x-ratelimit-remaining-requests'], '0');
      assert.equal(no.headers?.['ratelimit-remaining'], '0');
      assert.match(no.message, /6 requests per minute/);

      // Refused requests use nothing: after 9.999 s still refused, at 10 s exactly one more.
      clock.advance(9_999);
      assert.ok(isRefusal(await tryAdmit(limiter, request(p, { route: TAGS }))));
      clock.advance(1);
      assert.ok(!isRefusal(await tryAdmit(limiter, request(p, { route: TAGS }))));
      assert.ok(isRefusal(await tryAdmit(limiter, request(p, { route: TAGS }))));
      // A full minute later the whole window is back, and no more.
      clock.advance(60_000);
      let ok = 0;
      for (let i = 0; i < 10; i++) if (!isRefusal(await tryAdmit(limiter, request(p, { route: TAGS })))) ok++;
      assert.equal(ok, 6);
    });

    it('limits.defaults apply to keys whose own limit is null; a key\'s own limit wins', async () => {
      const { limiter } = await make({ defaults: { rpm: 2 } });
      const d = principal('defaulted');
      const own = principal('own', { rpm: 3 });
      const count = async (p: typeof d) => {
        let n = 0;
        for (let i = 0; i < 5; i++) if (!isRefusal(await tryAdmit(limiter, request(p, { route: TAGS })))) n++;
        return n;
      };
      assert.equal(await count(d), 2);
      assert.equal(await count(own), 3);
    });

    it('a limit of 0 refuses everything, with a message that says so', async () => {
      const { limiter } = await make();
      const r = await tryAdmit(limiter, request(principal('zero', { rpm: 0 }), { route: TAGS }));
      assert.ok(isRefusal(r));
      assert.match(r.message, /rpm limit is 0/);
      const c = await tryAdmit(limiter, request(principal('zero-c', { concurrency: 0 }), { route: TAGS }));
      assert.ok(isRefusal(c));
      assert.equal(c.code, 'GW_ERR_CONCURRENCY');
    });

    it('tpm: reserve up front, settle to the real count; refused once the minute\'s tokens are used', async () => {
      const { limiter, clock } = await make();
      const p = principal('tpm', { tpm: 1000 });
      // Each request reserves 100 and really uses 250: four of them use the whole 1000.
      for (let i = 0; i < 4; i++) {
        const a = await tryAdmit(limiter, request(p, { tokens: 100 }));
        assert.ok(!isRefusal(a), `request ${i + 1}`);
        a.release({ prompt: 50, completion: 200, estimated: false });
      }
      const no = await tryAdmit(limiter, request(p, { tokens: 100 }));
      assert.ok(isRefusal(no));
      assert.equal(no.code, 'GW_ERR_TOKENS_EXHAUSTED');
      assert.equal(no.status, 429);
      assert.equal(no.headers?.['x-ratelimit-remaining-tokens'], '0');
      assert.equal(no.headers?.['retry-after'], '6'); // 100 tokens at 1000/min
      clock.advance(6_000);
      const yes = await tryAdmit(limiter, request(p, { tokens: 100 }));
      assert.ok(!isRefusal(yes));
      // Unused reservation comes back at settle time.
      yes.release({ prompt: 0, completion: 0, estimated: false });
      const after = await tryAdmit(limiter, request(p, { tokens: 0 }));
      assert.ok(!isRefusal(after));
      assert.equal(headerValue(after.headers, 'x-ratelimit-remaining-tokens'), '100');
      after.release(null);
    });

    it('tpm: a request that used more than it reserved leaves a debt that refill repays first', async () => {
      const { limiter, clock } = await make();
      const p = principal('debt', { tpm: 600 });
      const a = await tryAdmit(limiter, request(p, { tokens: 10 }));
      assert.ok(!isRefusal(a));
      a.release({ prompt: 600, completion: 300, estimated: true }); // 900 used: 300 in debt
      const no = await tryAdmit(limiter, request(p, { tokens: 0 }));
      assert.ok(isRefusal(no));
      assert.equal(no.headers?.['retry-after'], '30'); // 300 tokens at 600/min
      clock.advance(30_000);
      assert.ok(!isRefusal(await tryAdmit(limiter, request(p, { tokens: 0 }))));
    });

    it('item 2: a tpm 20000 key runs 8 concurrent short chats at once (each reserves its prompt and the expected output, not its 8192 cap)', async () => {
      const { limiter } = await make();
      const p = principal('item2-eight', { tpm: 20_000 });
      // Reserving the output cap, 30 + 8192 tokens each, two would fit; the default expected
      // output (1024) lets 8 start together.
      const all = await Promise.all(Array.from({ length: 8 }, () => tryAdmit(limiter, request(p, { tokens: 30, output: 8192 }))));
      const refused = all.filter(isRefusal);
      assert.deepEqual(refused.map((r) => r.code), [], 'none of the 8 is refused or waits');
      assert.equal(limiter.snapshot().inFlight, 8, 'all 8 run at once');
      assert.equal(limiter.snapshot().queued, 0);
      const remaining = Math.min(...all.map((a) => Number(headerValue((a as Admission).headers, 'x-ratelimit-remaining-tokens'))));
      assert.equal(remaining, 20_000 - 8 * (30 + DEFAULT_OUTPUT_ESTIMATE));
      // They end with short answers: the unused part comes back, and the key has learned that
      // its chats are short (8 real counts).
      for (const a of all) (a as Admission).release({ prompt: 25, completion: 40, estimated: false });
      const next = await tryAdmit(limiter, request(p, { tokens: 30, output: 8192 }));
      assert.ok(!isRefusal(next));
      assert.equal(headerValue(next.headers, 'x-ratelimit-remaining-tokens'), String(20_000 - 8 * 65 - (30 + 40)), 'now it reserves 30 + 40');
      next.release({ prompt: 25, completion: 40, estimated: false });
      // The request's own cap still bounds what is reserved.
      const capped = await tryAdmit(limiter, request(principal('item2-capped', { tpm: 20_000 }), { tokens: 30, output: 100 }));
      assert.ok(!isRefusal(capped));
      assert.equal(headerValue(capped.headers, 'x-ratelimit-remaining-tokens'), String(20_000 - 130));
      capped.release(null);
    });

    it('item 2: debt drives the bucket below zero; it admits nothing, not even a 1-token request, until refill has repaid it', async () => {
      const { limiter, clock } = await make();
      const p = principal('item2-debt', { tpm: 1000 });
      // Reserves min(10 + 1024, 1000) = 1000 and really uses 3010: the bucket ends at -2010.
      const a = await tryAdmit(limiter, request(p, { tokens: 10, output: 8192 }));
      assert.ok(!isRefusal(a));
      assert.equal(headerValue(a.headers, 'x-ratelimit-remaining-tokens'), '0');
      a.release({ prompt: 10, completion: 3000, estimated: false });
      const no = await tryAdmit(limiter, request(p, { tokens: 1 }));
      assert.ok(isRefusal(no));
      assert.equal(no.code, 'GW_ERR_TOKENS_EXHAUSTED');
      assert.equal(no.headers?.['x-ratelimit-remaining-tokens'], '0');
      assert.equal(no.headers?.['retry-after'], '121', '2011 tokens at 1000/min: 120.66 s');
      assert.equal(no.headers?.['ratelimit-reset'], '181', 'the bucket is full again 3010 tokens later');
      clock.advance(120_000);
      assert.ok(isRefusal(await tryAdmit(limiter, request(p, { tokens: 1 }))), 'at -10 still nothing');
      assert.ok(isRefusal(await tryAdmit(limiter, request(p, { tokens: 0 }))), 'not even a request that reserves nothing');
      clock.advance(660);
      const yes = await tryAdmit(limiter, request(p, { tokens: 1 }));
      assert.ok(!isRefusal(yes), 'repaid: one token is there again');
      yes.release({ prompt: 1, completion: 0, estimated: false });
    });

    it('item 2: a tpm 1000 key under a stream of long answers uses at most its limit + one output cap in every 2-minute window (injected clock)', async () => {
      const { limiter, clock } = await make();
      const L = 1000;
      const CAP = 8192;
      const p = principal('item2-long', { tpm: L });
      const rnd = prng(11);
      const runs: Run[] = [];
      let seq = 0;
      let refusals = 0;
      const end = clock.now() + 60 * 60_000;
      // One request at a time, as fast as the key is let: answers of 3000–8192 tokens.
      while (clock.now() < end) {
        const r = await tryAdmit(limiter, request(p, { tokens: 40, output: CAP }));
        if (isRefusal(r)) {
          refusals++;
          assert.equal(r.code, 'GW_ERR_TOKENS_EXHAUSTED');
          // A client that retries early is refused again; one that waits Retry-After is let in.
          clock.advance(rnd() < 0.3 ? 5_000 : Number(r.headers?.['retry-after']) * 1000);
          continue;
        }
        const at = clock.now();
        const admitSeq = ++seq;
        const output = Math.min(CAP, 3000 + Math.floor(rnd() * 6000));
        clock.advance(Math.floor(rnd() * 40_000)); // the answer streams for up to 40 s
        r.release({ prompt: 40, completion: output, estimated: false });
        runs.push({ at, admitSeq, settleSeq: ++seq, reserved: L, used: 40 + output });
      }
      assert.ok(runs.length >= 8 && refusals > runs.length, `${runs.length} answers, ${refusals} refusals`);
      const worst = worstWindow(runs, 2 * MINUTE);
      assert.equal(worst.requests, 1, 'the debt of each answer keeps the next one out of its 2-minute window');
      assert.ok(worst.usage <= L + CAP, `worst 2-minute window: ${worst.usage} tokens > ${L} + ${CAP}`);
      for (const w of windows(runs, L, MINUTE, 2 * MINUTE)) assert.ok(w.usage <= w.bound + 1e-6, `window at ${w.start}: ${w.usage} > ${w.bound}`);
    });

    it('item 2: any mix of answers, 4 at a time: every 2-minute window stays within the documented bound', async () => {
      const { limiter, clock } = await make();
      const L = 1000;
      const p = principal('item2-mix', { tpm: L });
      const rnd = prng(5);
      // The limiter's reservation, recomputed from the same real counts in the same order.
      const shadow = new OutputEstimate();
      const running: Array<{ a: Admission; run: Run; output: number; prompt: number }> = [];
      const runs: Run[] = [];
      let seq = 0;
      let refused = 0;
      for (let step = 0; step < 2500; step++) {
        const x = rnd();
        if (x < 0.45 && running.length < 4) {
          const cap = [200, 1000, 3000, 8192][Math.floor(rnd() * 4)]!;
          const promptEstimate = 20 + Math.floor(rnd() * 200);
          const r = await tryAdmit(limiter, request(p, { tokens: promptEstimate, output: cap }));
          if (isRefusal(r)) {
            refused++;
            continue;
          }
          const reserved = Math.min(L, Math.ceil(promptEstimate + Math.min(cap, shadow.value)));
          const kind = rnd();
          const wanted = kind < 0.5 ? 10 + Math.floor(rnd() * 90) : kind < 0.85 ? 100 + Math.floor(rnd() * 700) : 800 + Math.floor(rnd() * 4000);
          // The real prompt may be longer than estimated (a template, dense text).
          const prompt = promptEstimate + (rnd() < 0.2 ? Math.floor(rnd() * 100) : -Math.floor(rnd() * 10));
          const run: Run = { at: clock.now(), admitSeq: ++seq, settleSeq: Infinity, reserved, used: 0 };
          running.push({ a: r, run, output: Math.min(cap, wanted), prompt });
          runs.push(run);
        } else if (x < 0.8 && running.length > 0) {
          const i = Math.floor(rnd() * running.length);
          const [done] = running.splice(i, 1);
          done!.a.release({ prompt: done!.prompt, completion: done!.output, estimated: false });
          shadow.add(done!.output);
          done!.run.used = done!.prompt + done!.output;
          done!.run.settleSeq = ++seq;
        } else {
          clock.advance(Math.floor(rnd() * 15_000));
        }
      }
      for (const d of running) {
        d.a.release({ prompt: d.prompt, completion: d.output, estimated: false });
        d.run.used = d.prompt + d.output;
        d.run.settleSeq = ++seq;
      }
      assert.ok(runs.length > 200 && refused > 50, `${runs.length} admitted, ${refused} refused`);
      let over = 0;
      for (const w of windows(runs, L, MINUTE, 2 * MINUTE)) {
        assert.ok(w.usage <= w.bound + 1e-6, `window at ${w.start}: ${w.usage} tokens > bound ${w.bound}`);
        if (w.usage > 2 * L) over++;
      }
      assert.ok(over > 0, 'the run reaches the part of the bound beyond the refill (else it tests nothing)');
    });

    it('tpm: a reservation larger than the limit is clamped to it (needs a full bucket, never impossible)', async () => {
      const { limiter, clock } = await make();
      const p = principal('big', { tpm: 1000 });
      const a = await tryAdmit(limiter, request(p, { tokens: 50_000 }));
      assert.ok(!isRefusal(a));
      a.release({ prompt: 10, completion: 10, estimated: false });
      const no = await tryAdmit(limiter, request(p, { tokens: 50_000 }));
      assert.ok(isRefusal(no), 'needs the whole minute\'s tokens, 20 are in use');
      assert.match(no.message, /reserves up to 1000/);
      clock.advance(1_200);
      assert.ok(!isRefusal(await tryAdmit(limiter, request(p, { tokens: 50_000 }))));
    });

    it('tpd: a UTC calendar day; refused until midnight, Retry-After says when', async () => {
      const { limiter, clock } = await make();
      clock.set(Date.UTC(2026, 2, 3, 23, 0, 0));
      const p = principal('tpd', { tpd: 300 });
      const a = await tryAdmit(limiter, request(p, { tokens: 100 }));
      assert.ok(!isRefusal(a));
      a.release({ prompt: 100, completion: 150, estimated: false });
      const b = await tryAdmit(limiter, request(p, { tokens: 100 }));
      assert.ok(isRefusal(b), '250 used + 100 reserved > 300');
      assert.equal(b.code, 'GW_ERR_TOKENS_EXHAUSTED');
      assert.equal(b.headers?.['retry-after'], '3600');
      assert.match(b.message, /per day/);
      const small = await tryAdmit(limiter, request(p, { tokens: 50 }));
      assert.ok(!isRefusal(small), 'a reservation that fits is admitted');
      small.release({ prompt: 20, completion: 20, estimated: false });
      clock.set(Date.UTC(2026, 2, 4, 0, 0, 1));
      assert.ok(!isRefusal(await tryAdmit(limiter, request(p, { tokens: 290 }))));
    });

    it('token limits do not apply to routes that use no tokens; rpm does', async () => {
      const { limiter } = await make();
      const p = principal('mixed', { tpm: 10, rpm: 3 });
      const a = await tryAdmit(limiter, request(p, { tokens: 10 }));
      assert.ok(!isRefusal(a));
      a.release({ prompt: 100, completion: 100, estimated: false }); // deep in debt
      assert.ok(isRefusal(await tryAdmit(limiter, request(p, { tokens: 1 }))));
      const tags = await tryAdmit(limiter, request(p, { route: TAGS, models: [] }));
      assert.ok(!isRefusal(tags));
      assert.equal(headerValue(tags.headers, 'x-ratelimit-remaining-tokens'), undefined);
      assert.equal(headerValue(tags.headers, 'x-ratelimit-remaining-requests'), '1'); // 3 - chat - tags: the refused request took nothing
    });

    it('headers: OpenAI x-ratelimit-* and RateLimit-* for the tightest window', async () => {
      const { limiter } = await make();
      const p = principal('hdr', { rpm: 100, tpm: 1000 });
      const a = await tryAdmit(limiter, request(p, { tokens: 900 }));
      assert.ok(!isRefusal(a));
      assert.equal(headerValue(a.headers, 'x-ratelimit-limit-requests'), '100');
      assert.equal(headerValue(a.headers, 'x-ratelimit-remaining-requests'), '99');
      assert.equal(headerValue(a.headers, 'x-ratelimit-reset-requests'), '600ms');
      assert.equal(headerValue(a.headers, 'x-ratelimit-remaining-tokens'), '100');
      assert.equal(headerValue(a.headers, 'ratelimit-limit'), '1000');
      assert.equal(headerValue(a.headers, 'ratelimit-remaining'), '100');
      assert.equal(headerValue(a.headers, 'ratelimit-reset'), '54');
      a.release(null);
    });

    it('concurrency: the third request waits, a release admits it at once; an abandoned wait leaves the queue', async () => {
      const { limiter } = await make();
      const p = principal('conc', { concurrency: 2 });
      const a = await limiter.admit(request(p));
      const b = await limiter.admit(request(p));
      const third = limiter.admit(request(p));
      assert.equal(await within(Promise.resolve(third), 50), 'pending');
      assert.equal(limiter.snapshot().queued, 1);
      const ac = new AbortController();
      const fourth = limiter.admit(request(p, { signal: ac.signal }));
      ac.abort();
      await assert.rejects(Promise.resolve(fourth));
      assert.equal(limiter.snapshot().queued, 1);
      a.release(null);
      const c = await within(Promise.resolve(third), 1000);
      assert.notEqual(c, 'pending', 'a release hands the permit to the waiter');
      assert.equal(limiter.snapshot().inFlight, 2);
      b.release(null);
      (c as Admission).release(null);
      assert.equal(limiter.snapshot().inFlight, 0);
    });

    it('concurrency: an expired wait is 429 (the key\'s own cap) with Retry-After', async () => {
      const { limiter } = await make({ queue: { max_wait: '150ms' } });
      const p = principal('wait', { concurrency: 1 });
      const a = await limiter.admit(request(p));
      const started = Date.now();
      const r = await tryAdmit(limiter, request(p));
      assert.ok(isRefusal(r));
      assert.equal(r.code, 'GW_ERR_CONCURRENCY');
      assert.equal(r.status, 429);
      assert.ok(Number(r.headers?.['retry-after']) >= 1);
      assert.match(r.message, /waited/);
      assert.ok(Date.now() - started >= 140 && Date.now() - started < 2000);
      a.release(null);
      assert.equal(limiter.snapshot().queued, 0);
    });

    it('global cap: with no queue the request over the cap is 503 GW_ERR_QUEUE_FULL with Retry-After; non-inference routes are not capped', async () => {
      const { limiter } = await make({ global: { concurrency: 1 }, queue: { max_size: 0 } });
      const a = await limiter.admit(request(principal('g1')));
      const r = await tryAdmit(limiter, request(principal('g2')));
      assert.ok(isRefusal(r));
      assert.equal(r.status, 503);
      assert.equal(r.code, 'GW_ERR_QUEUE_FULL');
      assert.ok(r.headers?.['retry-after']);
      const tags = await tryAdmit(limiter, request(principal('g2'), { route: TAGS, models: [] }));
      assert.ok(!isRefusal(tags));
      a.release(null);
      assert.ok(!isRefusal(await tryAdmit(limiter, request(principal('g2')))));
    });

    it('per-model caps: a pool per model, first matching pattern wins', async () => {
      const { limiter } = await make({ models: { 'llama3*': { concurrency: 1 }, '*': { concurrency: 2 } }, queue: { max_size: 0 } });
      const p = principal('models');
      const l1 = await limiter.admit(request(p, { models: [MODEL] }));
      assert.ok(isRefusal(await tryAdmit(limiter, request(p, { models: [MODEL] }))), 'llama3 pool holds 1');
      const m1 = await limiter.admit(request(p, { models: [OTHER] }));
      const m2 = await limiter.admit(request(p, { models: [OTHER] }));
      const r = await tryAdmit(limiter, request(p, { models: [OTHER] }));
      assert.ok(isRefusal(r), 'mistral pool holds 2');
      assert.equal(r.status, 503);
      assert.match(r.message, /model mistral is busy/);
      for (const a of [l1, m1, m2]) a.release(null);
      assert.ok(!isRefusal(await tryAdmit(limiter, request(p, { models: [MODEL] }))));
    });

    it('queue bounds: a key past its share of the queue gets 429; a full queue on the global cap gets 503', async () => {
      const { limiter } = await make({ global: { concurrency: 1 }, queue: { max_size: 3, max_per_principal: 2, max_wait: '5s' } });
      const hold = await limiter.admit(request(principal('holder')));
      const heavy = principal('heavy');
      const w = [limiter.admit(request(heavy)), limiter.admit(request(heavy))];
      const third = await tryAdmit(limiter, request(heavy));
      assert.ok(isRefusal(third));
      assert.equal(third.status, 429);
      assert.equal(third.code, 'GW_ERR_CONCURRENCY');
      const other = limiter.admit(request(principal('other')));
      const overflow = await tryAdmit(limiter, request(principal('third')));
      assert.ok(isRefusal(overflow));
      assert.equal(overflow.status, 503);
      assert.match(overflow.message, /queue is full/);
      assert.equal(limiter.snapshot().queued, 3);
      // Drain: each release admits the next waiter, round-robin (other before heavy's second).
      const order: string[] = [];
      const served = [w[0]!, w[1]!, other].map((p, i) => Promise.resolve(p).then((a) => (order.push(['heavy1', 'heavy2', 'other'][i]!), a.release(null))));
      hold.release(null);
      await Promise.all(served);
      assert.deepEqual(order, ['heavy1', 'other', 'heavy2']);
      assert.equal(limiter.snapshot().inFlight, 0);
    });

    it('fairness: a key with 100 queued requests delays another key\'s single request by at most one slot turn', async () => {
      const { limiter } = await make({ global: { concurrency: 1 }, queue: { max_size: 200, max_per_principal: 150, max_wait: '20s' } });
      const heavy = principal('heavy-user');
      const light = principal('light-user');
      const first = await limiter.admit(request(heavy));
      const order: string[] = [];
      const heavyWaits = Array.from({ length: 100 }, (_, i) => Promise.resolve(limiter.admit(request(heavy))).then((a) => (order.push(`h${i}`), a)));
      const until = async (n: number) => {
        for (let i = 0; i < 500 && limiter.snapshot().queued < n; i++) await sleep(2);
        assert.equal(limiter.snapshot().queued, n);
      };
      await until(100);
      const lightWait = Promise.resolve(limiter.admit(request(light))).then((a) => (order.push('light'), a));
      await until(101);
      // Serve slots one at a time: release the holder, wait for the next grant.
      let current = first;
      for (let turn = 0; turn < 3; turn++) {
        const before = order.length;
        current.release(null);
        const deadline = Date.now() + 2000;
        while (order.length === before && Date.now() < deadline) await sleep(2);
        const who = order[order.length - 1]!;
        current = who === 'light' ? await lightWait : await heavyWaits[Number(who.slice(1))]!;
      }
      const lightTurn = order.indexOf('light');
      assert.ok(lightTurn !== -1 && lightTurn <= 1, `light was served at turn ${lightTurn}: ${order.slice(0, 4).join(' ')}`);
      // Let the rest drain.
      current.release(null);
      for (const p of heavyWaits) (await p).release(null);
      await lightWait;
      assert.equal(limiter.snapshot().inFlight, 0);
      assert.equal(limiter.snapshot().queued, 0);
    });

    it('release is idempotent and never frees another request\'s permit', async () => {
      const { limiter } = await make({ queue: { max_size: 0 } });
      const p = principal('idem', { concurrency: 1 });
      const a = await limiter.admit(request(p));
      a.release(null);
      a.release(null);
      const b = await limiter.admit(request(p));
      a.release(null);
      assert.ok(isRefusal(await tryAdmit(limiter, request(p))), 'b still holds the only permit');
      b.release(null);
    });

    it('no permit leaks: 10,000 requests with random aborts, failures and early releases', async () => {
      const { limiter } = await make({ global: { concurrency: 4 }, queue: { max_size: 10_000, max_per_principal: 10_000, max_wait: '30s' } });
      const keys = [principal('leak-a', { concurrency: 2, rpm: 1_000_000, tpm: 100_000_000 }), principal('leak-b', { concurrency: 3 }), principal('leak-c')];
      let seed = 42;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
      let admitted = 0;
      let aborted = 0;
      const N = 10_000;
      const batch = 200;
      for (let start = 0; start < N; start += batch) {
        const work: Promise<void>[] = [];
        for (let i = start; i < Math.min(N, start + batch); i++) {
          const ac = new AbortController();
          const p = Promise.resolve(limiter.admit(request(keys[i % 3]!, { tokens: 20, signal: ac.signal })));
          const x = rnd();
          if (x < 0.15) {
            ac.abort(); // the client left while waiting (or just after admission)
            aborted++;
          }
          work.push(
            p.then(
              async (a) => {
                admitted++;
                if (rnd() < 0.5) await sleep(0);
                // Upstream failure (null usage), a normal end, or an end reported twice.
                a.release(x < 0.3 ? null : { prompt: 5, completion: 5, estimated: x < 0.5 });
                if (x > 0.9) a.release(null);
              },
              () => {},
            ),
          );
        }
        await Promise.all(work);
      }
      assert.ok(admitted > N * 0.8, `admitted ${admitted} of ${N} (${aborted} aborted)`);
      const s = limiter.snapshot();
      assert.equal(s.inFlight, 0, 'every admission was released');
      assert.equal(s.queued, 0);
      // Every pool is really empty: each cap can be filled to the brim again, and not beyond.
      const held = [];
      for (let i = 0; i < 4; i++) held.push(await limiter.admit(request(principal(`after-${i}`))));
      const waiting = Promise.resolve(limiter.admit(request(principal('after-x'))));
      assert.equal(await within(waiting, 50), 'pending', 'the global cap is 4: the fifth waits');
      held.pop()!.release(null);
      const fifth = await within(waiting, 1000);
      assert.notEqual(fifth, 'pending', 'and gets the permit the moment one is freed');
      for (const a of [...held, fifth as Admission]) a.release(null);
      const again = await within(Promise.resolve(limiter.admit(request(principal('after-z')))), 1000);
      assert.notEqual(again, 'pending');
      (again as Admission).release(null);
      assert.equal(limiter.snapshot().inFlight, 0);
    });

    it('auth failures: past the limit an address gets a Retry-After; other addresses and the next window are unaffected', async () => {
      const { limiter, clock } = await make({ auth_failures: { max: 3, window: '1m' } });
      clock.set(Date.UTC(2026, 0, 1, 0, 0, 0));
      for (let i = 0; i < 3; i++) assert.equal(limiter.authFailure('203.0.113.9'), 0);
      assert.equal(limiter.authFailure('203.0.113.9'), 60);
      clock.advance(15_000);
      assert.equal(limiter.authFailure('203.0.113.9'), 45);
      assert.equal(limiter.authFailure('198.51.100.1'), 0);
      // IPv6: counted per /64.
      for (let i = 0; i < 3; i++) assert.equal(limiter.authFailure(`2001:db8:1:2::${i + 1}`), 0);
      assert.ok(limiter.authFailure('2001:db8:1:2:ffff::9') > 0);
      clock.advance(45_000);
      assert.equal(limiter.authFailure('203.0.113.9'), 0);
    });

    it('refusals carry the GatewayError shape the gateway renders', async () => {
      const { limiter } = await make();
      const r = (await tryAdmit(limiter, request(principal('shape', { rpm: 0 }), { route: CHAT }))) as GatewayError;
      assert.equal(r.kind, 'rate_limit');
      assert.ok(r.headers && typeof r.headers['retry-after'] === 'string');
    });
  });
}
