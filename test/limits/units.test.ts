import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigSchema } from '../../src/config/schema.js';
import { addressKey } from '../../src/limits/auth-failures.js';
import { FairQueue } from '../../src/limits/fair-queue.js';
import { goDuration, rateHeaders } from '../../src/limits/headers.js';
import { headerValue } from './helpers.js';
import { redactUrl as safeUrl } from '../../src/config/redact.js';
import { Plans, resolvePlan } from '../../src/limits/plan.js';

/** The small pieces of the limits, each on its own. */

describe('limits config', () => {
  it('defaults: memory backend, fail closed, no per-key defaults, a bounded queue, brute-force guard on', () => {
    const c = ConfigSchema.parse({});
    assert.equal(c.limits.backend, 'memory');
    assert.equal(c.limits.on_store_error, 'closed');
    assert.deepEqual(c.limits.defaults, { rpm: null, tpm: null, tpd: null, concurrency: null });
    assert.equal(c.limits.global.concurrency, null);
    assert.deepEqual(c.limits.queue, { max_size: 256, max_per_principal: 32, max_wait: 30_000 });
    assert.deepEqual(c.limits.auth_failures, { max: 10, window: 60_000 });
    assert.equal(c.limits.lease_ttl, 30_000);
    assert.equal(c.limits.reserve_ttl, 200);
    assert.equal(c.redis.url, 'redis://127.0.0.1:6379');
    assert.equal(c.redis.key_prefix, 'gatehouse:');
  });

  it('unknown or invalid keys are errors (a limit that is silently ignored does not limit)', () => {
    for (const bad of [
      { limits: { rmp: 10 } },
      { limits: { defaults: { rpm: -1 } } },
      { limits: { defaults: { rpm: 1.5 } } },
      { limits: { backend: 'postgres' } },
      { limits: { on_store_error: 'open' } },
      { limits: { models: { 'llama3 bad': { concurrency: 1 } } } },
      { limits: { models: { llama3: { concurrency: 1, rpm: 5 } } } },
      { limits: { queue: { max_wait: 'soon' } } },
      { limits: { lease_ttl: '1s' } },
      { limits: { reserve_ttl: '5ms' } },
      { limits: { reserve_ttl: '1h' } },
      { redis: { url: 'http://127.0.0.1:6379' } },
      { redis: { host: 'x' } },
    ]) {
      assert.equal(ConfigSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
    const ok = ConfigSchema.parse({ limits: { backend: 'redis', defaults: { rpm: 60, concurrency: 0 }, models: { 'qwen2.5:*': { concurrency: 2 } }, queue: { max_wait: '5s' } }, redis: { url: 'rediss://user:pw@redis.internal:6380/2' } });
    assert.equal(ok.limits.queue.max_wait, 5000);
    assert.equal(ok.limits.defaults.concurrency, 0);
    assert.equal(ConfigSchema.parse({ limits: { reserve_ttl: 0 } }).limits.reserve_ttl, 0, 'reserve off');
    assert.equal(ConfigSchema.parse({ limits: { reserve_ttl: '10s' } }).limits.reserve_ttl, 10_000);
  });

  it('the Redis password never reaches a log line', () => {
    assert.equal(safeUrl('redis://:s3cret@127.0.0.1:6379/0'), 'redis://:***@127.0.0.1:6379/0');
    assert.doesNotMatch(safeUrl('rediss://user:s3cret@h:1'), /s3cret/);
  });
});

describe('plans', () => {
  it('a key\'s own limits win over the defaults; null falls back', () => {
    const p = resolvePlan('k', { rpm: 5, tpm: null, tpd: null, concurrency: null }, { rpm: 60, tpm: 1000, tpd: null, concurrency: 2 });
    assert.deepEqual([p.rpm, p.tpm, p.tpd, p.concurrency, p.always, p.tokens], [5, 1000, null, 2, true, true]);
    const none = resolvePlan('k', { rpm: null, tpm: null, tpd: null, concurrency: null }, { rpm: null, tpm: null, tpd: null, concurrency: null });
    assert.deepEqual([none.always, none.tokens], [false, false]);
  });

  it('model caps: first matching pattern (allowlist syntax), one pool per model', () => {
    const plans = new Plans({ rpm: null, tpm: null, tpd: null, concurrency: null }, null, { 'llama3*': { concurrency: 1 }, 'hf.co/org/*': { concurrency: 3 }, '*': { concurrency: 2 } });
    const caps = (m: string) => plans.modelCaps([m]).map((c) => `${c.model}=${c.cap}`);
    assert.deepEqual(caps('registry.ollama.ai/library/llama3.1:8b'), ['registry.ollama.ai/library/llama3.1:8b=1']);
    assert.deepEqual(caps('hf.co/org/repo:q4'), ['hf.co/org/repo:q4=3']);
    assert.deepEqual(caps('registry.ollama.ai/library/mistral:latest'), ['registry.ollama.ai/library/mistral:latest=2']);
    assert.equal(plans.modelCaps(['registry.ollama.ai/library/mistral:latest', 'registry.ollama.ai/library/mistral:latest']).length, 1);
    assert.deepEqual(new Plans({ rpm: null, tpm: null, tpd: null, concurrency: null }, null, {}).modelCaps(['x']), []);
  });
});

describe('fair queue', () => {
  const e = (pid: string, deadline = 1e12) => ({ pid, deadline, done: false });

  it('round-robin: the principal just served goes to the back of the round', () => {
    const q = new FairQueue<ReturnType<typeof e>>();
    const a = [e('a'), e('a'), e('a')];
    a.forEach((x) => q.push(x));
    const b = e('b');
    q.push(b);
    assert.deepEqual(q.principals(), ['a', 'b']);
    q.served(q.head('a')!);
    assert.deepEqual(q.principals(), ['b', 'a']);
    q.served(q.head('b')!);
    assert.deepEqual(q.principals(), ['a']);
    assert.equal(q.size, 2);
  });

  it('expiry takes entries in deadline order; removal keeps the principal\'s place', () => {
    const q = new FairQueue<ReturnType<typeof e>>();
    const x1 = e('x', 10);
    const x2 = e('x', 20);
    const y1 = e('y', 15);
    [x1, x2, y1].forEach((v) => q.push(v));
    assert.equal(q.earliestDeadline(), 10);
    assert.deepEqual(q.takeExpired(15), [x1, y1]);
    assert.deepEqual(q.principals(), ['x']);
    assert.equal(q.remove(x2), true);
    assert.equal(q.size, 0);
    assert.equal(q.earliestDeadline(), Infinity);
  });
});

describe('headers', () => {
  it('Go-style durations, as OpenAI sends them', () => {
    assert.equal(goDuration(0), '0ms');
    assert.equal(goDuration(20), '20ms');
    assert.equal(goDuration(1000), '1s');
    assert.equal(goDuration(1500), '1.5s');
    assert.equal(goDuration(360_000), '6m0s');
    assert.equal(goDuration(3_723_000), '1h2m3s');
    assert.equal(goDuration(1005), '1.005s');
    assert.equal(goDuration(61_050), '1m1.05s');
    assert.equal(goDuration(59_998.2), '59.999s'); // whole milliseconds, rounded up
  });

  it('Go-style durations: every whole millisecond up to two hours formats as the float formula did', () => {
    // The previous implementation, kept as the reference: seconds as a float, toFixed(3), zeros stripped.
    const reference = (ms: number): string => {
      if (ms < 1000) return `${ms}ms`;
      const h = Math.floor(ms / 3_600_000);
      const m = Math.floor((ms % 3_600_000) / 60_000);
      const sec = (ms % 60_000) / 1000;
      const text = `${Number.isInteger(sec) ? sec : sec.toFixed(3).replace(/0+$/, '')}s`;
      return h ? `${h}h${m}m${text}` : m ? `${m}m${text}` : text;
    };
    for (let ms = 0; ms <= 7_200_000; ms += 7) assert.equal(goDuration(ms), reference(ms), String(ms));
  });

  it('no window, no headers; tpd stands in for tpm in the token header', () => {
    assert.deepEqual(rateHeaders({ rpm: null, tpm: null, tpd: null }), []);
    const h = rateHeaders({ rpm: null, tpm: null, tpd: { limit: 1000, remaining: 10, resetMs: 3_600_000 } });
    assert.equal(headerValue(h, 'x-ratelimit-remaining-tokens'), '10');
    assert.equal(headerValue(h, 'ratelimit-limit'), '1000');
    assert.equal(headerValue(h, 'ratelimit-reset'), '3600');
    assert.equal(headerValue(h, 'x-ratelimit-limit-requests'), undefined);
  });

  it('exactly the headers the issue names: RateLimit-* and four of OpenAI\'s x-ratelimit-*', () => {
    const h = rateHeaders({
      rpm: { limit: 100, remaining: 40, resetMs: 36_000 },
      tpm: { limit: 1000, remaining: 900, resetMs: 6_000 },
      tpd: { limit: 10_000, remaining: 9_000, resetMs: 3_600_000 },
    });
    const names = h.filter((_, i) => i % 2 === 0);
    assert.deepEqual([...names].sort(), [
      'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset',
      'x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-requests',
    ]);
    // rpm has 40% left, tpm 90%, tpd 90%: RateLimit-* describe rpm; the token header is tpm's.
    assert.equal(headerValue(h, 'ratelimit-limit'), '100');
    assert.equal(headerValue(h, 'ratelimit-remaining'), '40');
    assert.equal(headerValue(h, 'ratelimit-reset'), '36');
    assert.equal(headerValue(h, 'x-ratelimit-reset-requests'), '36s');
    assert.equal(headerValue(h, 'x-ratelimit-remaining-tokens'), '900');
    // Ties go to the first of rpm, tpm, tpd; a window with limit 0 is the tightest of all.
    const tie = rateHeaders({ rpm: { limit: 10, remaining: 5, resetMs: 1000 }, tpm: { limit: 100, remaining: 50, resetMs: 2000 }, tpd: null });
    assert.equal(headerValue(tie, 'ratelimit-limit'), '10');
    const zero = rateHeaders({ rpm: { limit: 10, remaining: 1, resetMs: 1000 }, tpm: null, tpd: { limit: 0, remaining: 0, resetMs: 5000 } });
    assert.equal(headerValue(zero, 'ratelimit-limit'), '0');
    assert.equal(headerValue(zero, 'ratelimit-reset'), '5');
  });
});

describe('client address key (brute-force guard)', () => {
  it('IPv4 as is, v4-mapped IPv6 as IPv4, IPv6 by /64', () => {
    assert.equal(addressKey('203.0.113.9'), '203.0.113.9');
    assert.equal(addressKey('::ffff:203.0.113.9'), '203.0.113.9');
    assert.equal(addressKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:db8:1:2::9'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('2001:0DB8:0001:0002::1'), '2001:db8:1:2::/64');
  });
});
