import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { ManualClock } from '../../src/core/clock.js';
import type { GatewayLimiter } from '../../src/limits/limiter.js';
import { RedisStore } from '../../src/limits/redis-store.js';
import type { AcquireSpec } from '../../src/limits/store.js';
import type { Admission } from '../../src/limits/types.js';
import {
  build, capturingLog, deletePrefix, eventually, headerValue, isRefusal, principal, redisAvailable, REDIS_URL, request, SKIP_REDIS, SKIP_REDIS_SERVER, redisServerInstalled, sleep, startOwnRedis, TAGS, tryAdmit, uniquePrefix, within,
  type OwnRedis,
} from './helpers.js';

/**
 * The Redis backend beyond the shared contract: several replicas (limiters on one key prefix)
 * enforce one limit exactly, permits of a dead replica expire, waiting requests hear about permits
 * freed elsewhere, and an outage follows limits.on_store_error both ways (on a private
 * redis-server that the test stops and starts; the system Redis is never touched).
 */

const up = await redisAvailable();
const ownRedis = redisServerInstalled();

describe('redis backend: replicas share one limit', { skip: up ? false : SKIP_REDIS }, () => {
  const prefixes: string[] = [];
  const open: GatewayLimiter[] = [];
  const replicas = async (n: number, limits: Parameters<typeof build>[1] = {}, clock = new ManualClock()) => {
    const prefix = uniquePrefix('replicas');
    prefixes.push(prefix);
    const out: GatewayLimiter[] = [];
    for (let i = 0; i < n; i++) out.push((await build('redis', limits, { clock, prefix })).limiter);
    open.push(...out);
    return { ls: out, clock, prefix };
  };
  after(async () => {
    await Promise.all(open.map((l) => l.close()));
    for (const p of prefixes) await deletePrefix(p);
  });

  it('rpm: 200 concurrent requests over two replicas, exactly rpm=50 admitted', async () => {
    const { ls } = await replicas(2);
    const p = principal('shared-rpm', { rpm: 50 });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => tryAdmit(ls[i % 2]!, request(p, { route: TAGS }))));
    assert.equal(results.filter((r) => !isRefusal(r)).length, 50);
    assert.ok(results.filter(isRefusal).every((r) => r.code === 'GW_ERR_RATE_LIMITED'));
  });

  it('tpm: concurrent reservations over two replicas never exceed the limit; settlements are exact', async () => {
    const { ls } = await replicas(2);
    const p = principal('shared-tpm', { tpm: 1000 });
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => tryAdmit(ls[i % 2]!, request(p, { tokens: 10 }))));
    const ok = results.filter((r): r is Admission => !isRefusal(r));
    assert.equal(ok.length, 100, '1000 tokens / 10 reserved each');
    // Settle half at 3 tokens (refund 7 each), half at 10: 50 × 7 = 350 come back.
    ok.forEach((a, i) => a.release({ prompt: 1, completion: i % 2 ? 2 : 9, estimated: false }));
    await eventually(async () => {
      const probe = await tryAdmit(ls[0]!, request(p, { tokens: 0 }));
      if (isRefusal(probe)) return false;
      probe.release(null);
      return headerValue(probe.headers, 'x-ratelimit-remaining-tokens') === '350';
    }, 3000, 'the refunds to reach Redis');
  });

  it('item 2: a debt larger than what a replica took ahead reaches Redis: the shared bucket goes negative and both replicas admit nothing until refill repays it', async () => {
    const { ls, clock, prefix } = await replicas(2);
    const p = principal('item2-shared-debt', { tpm: 100_000 });
    // Far from the limit: the replica takes a few requests' worth ahead with this admission.
    const a = await tryAdmit(ls[0]!, request(p, { tokens: 50, output: 8192 }));
    assert.ok(!isRefusal(a));
    const redis = new Redis(REDIS_URL);
    try {
      const ahead = Number(await redis.hget(`${prefix}limits:p:item2-shared-debt`, 'tl'));
      assert.ok(ahead < 100_000 - 1074, `the replica took some ahead (${ahead} left in Redis)`);
      // 250,050 used against 1074 reserved: far more than the replica's reserve.
      a.release({ prompt: 50, completion: 250_000, estimated: false });
      await eventually(async () => Number(await redis.hget(`${prefix}limits:p:item2-shared-debt`, 'tl')) < 0, 3000, 'the debt to reach Redis');
      const level = Number(await redis.hget(`${prefix}limits:p:item2-shared-debt`, 'tl'));
      assert.ok(Math.abs(level - (100_000 - 250_050)) < 1, `the bucket is at ${level}: the whole overshoot is charged`);
      for (const l of ls) {
        const no = await tryAdmit(l, request(p, { tokens: 1 }));
        assert.ok(isRefusal(no), 'no replica admits anything while the bucket is negative');
        assert.equal(no.code, 'GW_ERR_TOKENS_EXHAUSTED');
        assert.equal(no.headers?.['retry-after'], String(Math.ceil(((1 - level) * 60) / 100_000)));
      }
      clock.advance(Math.ceil(((1 - level) * 60_000) / 100_000));
      const yes = await tryAdmit(ls[1]!, request(p, { tokens: 1 }));
      assert.ok(!isRefusal(yes), 'repaid: admitted again');
      yes.release(null);
    } finally {
      redis.disconnect();
    }
  });

  it('concurrency: a cap of 3 holds across replicas under concurrent load', async () => {
    const { ls } = await replicas(2, { queue: { max_size: 0 } });
    const p = principal('shared-cc', { concurrency: 3 });
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => tryAdmit(ls[i % 2]!, request(p))));
    const ok = results.filter((r): r is Admission => !isRefusal(r));
    assert.equal(ok.length, 3);
    assert.ok(results.filter(isRefusal).every((r) => r.code === 'GW_ERR_CONCURRENCY' && r.status === 429));
    for (const a of ok) a.release(null);
  });

  it('a request waiting on one replica gets a permit freed on another within milliseconds (pub/sub wake-up)', async () => {
    const { ls } = await replicas(2, { global: { concurrency: 1 }, queue: { max_wait: '10s' } });
    const [a, b] = ls as [GatewayLimiter, GatewayLimiter];
    const lat: number[] = [];
    for (let i = 0; i < 10; i++) {
      const held = await a.admit(request(principal(`holder-${i}`)));
      const waiting = Promise.resolve(b.admit(request(principal(`waiter-${i}`))));
      await eventually(() => b.snapshot().queued === 1, 2000, 'the request to queue');
      await sleep(30); // past the first polls: what is measured is the wake-up, not a poll
      const t0 = performance.now();
      held.release(null);
      const got = await waiting;
      lat.push(performance.now() - t0);
      got.release(null);
    }
    lat.sort((x, y) => x - y);
    const median = lat[5]!;
    console.log(`# cross-replica wake-up latency: median ${median.toFixed(1)} ms, max ${lat[9]!.toFixed(1)} ms`);
    assert.ok(median < 50, `median wake-up ${median.toFixed(1)} ms`);
  });

  it('permits of a replica that died are freed after lease_ttl', async () => {
    const clock = new ManualClock();
    const { ls } = await replicas(2, { queue: { max_size: 0 }, lease_ttl: '10s' }, clock);
    const [dead, alive] = ls as [GatewayLimiter, GatewayLimiter];
    const p = principal('crash', { concurrency: 2 });
    await dead.admit(request(p));
    await dead.admit(request(p));
    await dead.close(); // "crashes": never releases, never renews
    assert.ok(isRefusal(await tryAdmit(alive, request(p))));
    clock.advance(9_000);
    assert.ok(isRefusal(await tryAdmit(alive, request(p))), 'leases still valid');
    clock.advance(1_001);
    const a = await tryAdmit(alive, request(p));
    assert.ok(!isRefusal(a), 'expired leases are purged');
    a.release(null);
  });

  it('a held permit is renewed, so a long stream keeps it past lease_ttl', async () => {
    const clock = new ManualClock();
    const { ls } = await replicas(2, { queue: { max_size: 0 }, lease_ttl: '3s' }, clock);
    const [holder, other] = ls as [GatewayLimiter, GatewayLimiter];
    const p = principal('renew', { concurrency: 1 });
    const a = await holder.admit(request(p));
    clock.advance(2_000);
    await sleep(1_200); // the renew timer (every lease_ttl/3 = 1 s) moves the expiry to now + 3 s
    clock.advance(2_000); // 4 s after admission: past the first expiry
    assert.ok(isRefusal(await tryAdmit(other, request(p))), 'the permit is still held');
    a.release(null);
    await eventually(async () => {
      const x = await tryAdmit(other, request(p));
      if (isRefusal(x)) return false;
      x.release(null);
      return true;
    }, 2000, 'the released permit');
  });

  it('every key written has a TTL', async () => {
    const { ls, prefix } = await replicas(1, { global: { concurrency: 5 }, models: { '*': { concurrency: 5 } } });
    const l = ls[0]!;
    const p = principal('ttl', { rpm: 10, tpm: 1000, tpd: 10_000, concurrency: 2 });
    const a = await l.admit(request(p, { tokens: 50 }));
    a.release({ prompt: 10, completion: 70, estimated: false });
    const b = await l.admit(request(p, { tokens: 50 }));
    l.authFailure('192.0.2.1');
    await sleep(50);
    const r = new Redis(REDIS_URL);
    try {
      const keys = await r.keys(`${prefix}*`);
      assert.ok(keys.length >= 5, keys.join(' '));
      for (const k of keys) assert.ok((await r.pttl(k)) > 0, `${k} has no TTL`);
    } finally {
      r.disconnect();
      b.release(null);
    }
  });
});

describe('redis backend: key expiry without a PTTL per call', { skip: up ? false : SKIP_REDIS }, () => {
  const prefix = uniquePrefix('expiry');
  const clock = new ManualClock();
  const redis = new Redis(REDIS_URL);
  // lease_ttl 30 s: the holder's own renewal (every 10 s) stays out of these few seconds.
  const store = new RedisStore({ redis, subscriber: null, clock, prefix, leaseTtlMs: 30_000, onBackgroundError: () => {}, setTtlRefreshMs: 1500 });
  const spec = (over: Partial<AcquireSpec> = {}): AcquireSpec => ({ pid: 'k1', rpm: null, tpm: null, tpd: null, tokens: null, concurrency: 10, models: [], global: null, ...over });
  const grant = async (s: AcquireSpec) => {
    const r = await store.acquire(s);
    assert.ok(r.ok, 'admitted');
    return r.lease;
  };
  after(async () => {
    await store.close();
    redis.disconnect();
    await deletePrefix(prefix);
  });

  it('a permit set gets its TTL when created and is renewed by a granted admission at most once per interval', async () => {
    const set = `${prefix}p:k1:cc`;
    const full = 30_000 + 60_000; // lease_ttl + 60 s
    // Margins of 500 ms keep a busy machine from failing this; the renewal interval is 1.5 s.
    const held = [await grant(spec())];
    const created = await redis.pttl(set);
    assert.ok(created > full - 500 && created <= full, `TTL at creation ${created}`);
    await sleep(1000);
    held.push(await grant(spec()));
    const notRenewed = await redis.pttl(set);
    assert.ok(notRenewed <= full - 900, `within the interval the TTL only runs down (${notRenewed})`);
    await sleep(700);
    // A refused admission renews nothing, and does not count as this replica's renewal.
    const refused = await store.acquire(spec({ concurrency: 2 }));
    assert.equal(refused.ok, false);
    assert.ok((await redis.pttl(set)) <= full - 1500);
    held.push(await grant(spec()));
    const renewed = await redis.pttl(set);
    assert.ok(renewed > full - 500, `past the interval a granted admission renews it (${renewed})`);
    for (const l of held) l.release(0);
  });

  it('a token bucket in debt keeps its key until it is full again', async () => {
    const bucket = `${prefix}p:k2`;
    // tpm 600 refills 10 tokens/s. Reserve 600, use 1800: level -1200, full again in 180 s.
    const lease = await grant(spec({ pid: 'k2', tpm: 600, tokens: 600, concurrency: null }));
    lease.release(1800);
    await eventually(async () => (await redis.hget(bucket, 'tl')) === '-1200', 2000, 'the settlement');
    const ttl = await redis.pttl(bucket);
    assert.ok(ttl >= 180_000, `TTL ${ttl} ms covers the 180 s until the bucket is full`);
    const before = ttl;
    // A later admission that needs no longer deadline does not touch the expiry.
    clock.advance(1000);
    const again = await store.acquire(spec({ pid: 'k2', tpm: 600, tokens: 1, concurrency: null }));
    assert.equal(again.ok, false, 'still in debt');
    assert.ok((await redis.pttl(bucket)) <= before);
  });
});

/** A client whose EVALSHA calls are counted: the store's round trips (every batch is one EVALSHA). */
function countingEvalsha(redis: Redis): { redis: Redis; calls: number } {
  const counter = { redis, calls: 0 };
  counter.redis = new Proxy(redis, {
    get(target, prop, receiver) {
      if (prop === 'evalsha') counter.calls++;
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return counter;
}

describe('redis backend: the reserve a replica takes ahead', { skip: up ? false : SKIP_REDIS }, () => {
  const prefix = uniquePrefix('reserve');
  const clock = new ManualClock();
  const redis = new Redis(REDIS_URL);
  const counter = countingEvalsha(redis);
  const stores: RedisStore[] = [];
  /** A store on the counted client; reserveTtlMs undefined = the default reserve_ttl. */
  const storeWith = (reserveTtlMs?: number) => {
    const s = new RedisStore({ redis: counter.redis, subscriber: null, clock, prefix, leaseTtlMs: 30_000, reserveTtlMs, onBackgroundError: () => {} });
    stores.push(s);
    return s;
  };
  const store = storeWith();
  const spec = (pid: string, over: Partial<AcquireSpec> = {}): AcquireSpec => ({ pid, rpm: null, tpm: null, tpd: null, tokens: null, concurrency: null, models: [], global: null, ...over });
  const grant = async (s: AcquireSpec) => {
    const r = await store.acquire(s);
    assert.ok(r.ok, 'admitted');
    return r;
  };
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    redis.disconnect();
    await deletePrefix(prefix);
  });

  it('far from the limits, most admissions are decided in the replica: 500 requests, a handful of round trips', async () => {
    const s = spec('busy', { rpm: 1_000_000, tpm: 100_000_000, tokens: 50, concurrency: 1000 });
    counter.calls = 0;
    for (let i = 0; i < 500; i++) (await grant(s)).lease.release(40);
    assert.ok(counter.calls <= 20, `${counter.calls} round trips for 500 admissions and settlements`);
    assert.ok(counter.calls >= 1);
  });

  it('the reserve is charged in Redis when taken, and what is unused goes back within a fraction of a second', async () => {
    const bucket = `${prefix}p:ahead`;
    const s = spec('ahead', { rpm: 1000 });
    const first = await grant(s);
    assert.equal(first.rpm?.remaining, 999, 'the header counts this request only');
    // 999 left: the replica takes 62 more ahead (a sixteenth of what is left; it asks for up to 256).
    assert.equal(Number(await redis.hget(bucket, 'rl')), 999 - 62);
    const local = await grant(s);
    assert.equal(local.rpm?.remaining, 998, 'admitted from the reserve, the count goes on');
    await eventually(async () => Number(await redis.hget(bucket, 'rl')) === 998, 2000, 'the unused 61 to come back');
  });

  it('close to a limit, or under a small one, nothing is taken ahead: every admission is decided in Redis', async () => {
    const bucket = `${prefix}p:tight`;
    const s = spec('tight', { rpm: 64 });
    for (let i = 63; i >= 0; i--) {
      const before = counter.calls;
      await grant(s);
      assert.equal(counter.calls, before + 1, 'one round trip per admission');
      assert.equal(Number(await redis.hget(bucket, 'rl')), i);
    }
    assert.equal((await store.acquire(s)).ok, false);
  });

  it('permits taken ahead serve the next requests, then leave the set once the replica has no use for them', async () => {
    const set = `${prefix}p:pool:cc`;
    const s = spec('pool', { concurrency: 1000 });
    const a = await grant(s);
    assert.equal(await redis.zcard(set), 1 + 32, 'this request and 32 ahead');
    const before = counter.calls;
    const b = await grant(s);
    assert.equal(counter.calls, before, 'the second request took a permit from the pool');
    a.lease.release(0);
    b.lease.release(0);
    assert.equal(await redis.zcard(set), 33, 'released permits went back to the pool');
    await eventually(async () => (await redis.zcard(set)) === 0, 2000, 'the pool to be given back');
  });

  it('near a concurrency cap no permit is taken ahead', async () => {
    const set = `${prefix}p:few:cc`;
    const s = spec('few', { concurrency: 3 });
    const held = [await grant(s), await grant(s), await grant(s)];
    assert.equal(await redis.zcard(set), 3);
    assert.equal((await store.acquire(s)).ok, false);
    for (const h of held) h.lease.release(0);
    await eventually(async () => (await redis.zcard(set)) === 0, 2000, 'the permits to be freed');
  });

  describe('limits.reserve_ttl', () => {
    it('0: nothing is taken ahead, far from every limit; each admission is its own round trip', async () => {
      const strict = storeWith(0);
      const s = spec('strict', { rpm: 1_000_000, tpm: 100_000_000, tokens: 50, concurrency: 1000 });
      for (let i = 1; i <= 50; i++) {
        const before = counter.calls;
        const r = await strict.acquire(s);
        assert.ok(r.ok, 'admitted');
        assert.ok(counter.calls > before, `admission ${i} went to Redis`);
        // Exactly this request's share is charged: no units parked in the replica.
        assert.equal(Number(await redis.hget(`${prefix}p:strict`, 'rl')), 1_000_000 - i);
        assert.equal(await redis.zcard(`${prefix}p:strict:cc`), 1, 'only the permit of the request in flight');
        r.lease.release(50);
        await eventually(async () => (await redis.zcard(`${prefix}p:strict:cc`)) === 0, 2000, 'the permit to be freed in Redis');
      }
    });

    it('a longer reserve_ttl keeps what was taken ahead for that long, then gives it back', async () => {
      const patient = storeWith(1500);
      const bucket = `${prefix}p:long`;
      const first = await patient.acquire(spec('long', { rpm: 1000 }));
      assert.ok(first.ok);
      assert.equal(Number(await redis.hget(bucket, 'rl')), 999 - 62, 'this request and 62 ahead');
      const t0 = performance.now();
      await sleep(600); // three times the default reserve_ttl: with 200 ms the 62 would be back by now
      assert.equal(Number(await redis.hget(bucket, 'rl')), 999 - 62, 'still held by the replica');
      await eventually(async () => Number(await redis.hget(bucket, 'rl')) === 999, 4000, 'the unused 62 to come back');
      const took = performance.now() - t0;
      assert.ok(took >= 1400, `given back after ${took.toFixed(0)} ms (reserve_ttl 1500 ms)`);
    });
  });
});

describe('redis backend: outages follow limits.on_store_error', { skip: ownRedis ? false : SKIP_REDIS_SERVER }, () => {
  let own: OwnRedis;
  const open: GatewayLimiter[] = [];
  before(async () => {
    own = await startOwnRedis();
  });
  after(async () => {
    await Promise.all(open.map((l) => l.close()));
    await own.stop();
  });

  const make = async (mode: 'closed' | 'local', limits: Parameters<typeof build>[1] = {}) => {
    const cap = capturingLog();
    const { limiter } = await build('redis', { on_store_error: mode, ...limits }, { url: own.url, log: cap.log, redis: { command_timeout: '300ms', connect_timeout: '300ms' } });
    open.push(limiter);
    return { limiter, lines: cap.lines };
  };

  it('closed (the default): Redis stopped → 503 GW_ERR_LIMITS_UNAVAILABLE, logged once, counted; back → shared limits again', async () => {
    const { limiter, lines } = await make('closed');
    const p = principal('outage-closed', { rpm: 1000 });
    const ok = await tryAdmit(limiter, request(p, { route: TAGS }));
    assert.ok(!isRefusal(ok));
    await own.stop();
    // The lost connection marks the store down. Until then (a moment), the replica may still admit
    // from the reserve it took, and was charged for, while Redis answered: never more than that.
    await eventually(() => limiter.snapshot().storeUnavailable === true, 3000, 'the store to be marked down');
    for (let i = 0; i < 20; i++) {
      const r = await tryAdmit(limiter, request(p, { route: TAGS }));
      assert.ok(isRefusal(r), `request ${i} during the outage must be refused`);
      assert.equal(r.code, 'GW_ERR_LIMITS_UNAVAILABLE');
      assert.equal(r.status, 503);
      assert.ok(r.headers?.['retry-after']);
    }
    const s = limiter.snapshot();
    assert.equal(s.storeUnavailable, true);
    assert.equal(s.degraded, false);
    assert.ok(s.storeErrors >= 1);
    // A key with no limits is not affected by the outage (nothing to check).
    assert.ok(!isRefusal(await tryAdmit(limiter, request(principal('unlimited'), { route: TAGS }))));
    await own.start();
    await eventually(async () => !isRefusal(await tryAdmit(limiter, request(p, { route: TAGS }))), 8000, 'automatic recovery');
    assert.equal(limiter.snapshot().storeUnavailable, false);
    const down = lines().filter((l) => /unreachable/.test(l.msg));
    const back = lines().filter((l) => /reachable again/.test(l.msg));
    assert.equal(down.length, 1, 'one log line per transition');
    assert.equal(back.length, 1);
    assert.equal(down[0]!.level, 50);
  });

  it('local: Redis stopped → per-process limits (still enforced), degraded; back → shared again', async () => {
    const { limiter, lines } = await make('local');
    const p = principal('outage-local', { rpm: 3 });
    await own.stop();
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await tryAdmit(limiter, request(p, { route: TAGS })));
    assert.equal(results.filter((r) => !isRefusal(r)).length, 3, 'the local limiter still limits');
    assert.ok(results.slice(3).every((r) => isRefusal(r) && r.code === 'GW_ERR_RATE_LIMITED'));
    assert.equal(limiter.snapshot().degraded, true);
    assert.ok(limiter.snapshot().storeErrors >= 1);
    await own.start();
    await eventually(() => limiter.snapshot().storeUnavailable === false, 8000, 'automatic recovery');
    assert.equal(limiter.snapshot().degraded, false);
    // Shared again: the fresh Redis has a full bucket for this key.
    assert.ok(!isRefusal(await tryAdmit(limiter, request(p, { route: TAGS }))));
    assert.equal(lines().filter((l) => /per-process limits/.test(l.msg)).length, 1);
    assert.equal(lines().filter((l) => /reachable again/.test(l.msg)).length, 1);
  });

  it('a settlement that times out is applied once (never replayed twice)', async () => {
    const { limiter } = await make('closed');
    const p = principal('once', { tpm: 1000 });
    const a = await limiter.admit(request(p, { tokens: 100 }));
    const r = new Redis(own.url);
    try {
      await r.call('CLIENT', 'PAUSE', '1200', 'ALL');
      a.release({ prompt: 200, completion: 300, estimated: false }); // 500 used: times out, but Redis runs it after the pause
      await eventually(() => limiter.snapshot().storeUnavailable === true, 3000, 'the timeout to mark the store down');
      await eventually(() => limiter.snapshot().storeUnavailable === false, 8000, 'recovery');
      await sleep(100);
      const probe = await tryAdmit(limiter, request(p, { tokens: 0 }));
      assert.ok(!isRefusal(probe));
      assert.equal(headerValue(probe.headers, 'x-ratelimit-remaining-tokens'), '500', '1000 - 500, counted exactly once');
      probe.release(null);
    } finally {
      r.disconnect();
    }
  });

  it('a settlement refused unsent while Redis is down is replayed when it is back', async () => {
    const { limiter } = await make('local');
    const p = principal('replay', { tpm: 1000 });
    const a = await limiter.admit(request(p, { tokens: 100 }));
    await own.stop();
    await eventually(() => limiter.snapshot().storeUnavailable === true, 3000, 'the store to be marked down');
    a.release({ prompt: 200, completion: 300, estimated: false });
    await sleep(50);
    await own.start(); // an empty Redis: the bucket starts full, the replay takes 500 - 100 reserved
    await eventually(() => limiter.snapshot().storeUnavailable === false, 8000, 'recovery');
    await eventually(async () => {
      const probe = await tryAdmit(limiter, request(p, { tokens: 0 }));
      if (isRefusal(probe)) return false;
      probe.release(null);
      return headerValue(probe.headers, 'x-ratelimit-remaining-tokens') === '600';
    }, 3000, 'the replayed settlement');
  });

  it('scripts are reloaded after Redis forgets them (NOSCRIPT → EVAL)', async () => {
    const { limiter } = await make('closed');
    const p = principal('noscript', { rpm: 5 });
    assert.ok(!isRefusal(await tryAdmit(limiter, request(p, { route: TAGS }))));
    const r = new Redis(own.url);
    try {
      await r.script('FLUSH');
    } finally {
      r.disconnect();
    }
    const x = await tryAdmit(limiter, request(p, { route: TAGS }));
    assert.ok(!isRefusal(x));
    assert.equal(headerValue(x.headers, 'x-ratelimit-remaining-requests'), '3');
    assert.equal(limiter.snapshot().storeErrors, 0);
  });

  it('a gateway that starts while Redis is down refuses (closed), then works once Redis is up', async () => {
    await own.stop();
    const { limiter } = await make('closed');
    const p = principal('late', { rpm: 5 });
    const r = await tryAdmit(limiter, request(p, { route: TAGS }));
    assert.ok(isRefusal(r) && r.code === 'GW_ERR_LIMITS_UNAVAILABLE');
    await own.start();
    await eventually(async () => !isRefusal(await tryAdmit(limiter, request(p, { route: TAGS }))), 8000, 'the first connection');
  });

  it('a request waiting in the queue when Redis goes away is answered (503 in closed mode), not stranded', async () => {
    const { limiter } = await make('closed', { global: { concurrency: 1 }, queue: { max_wait: '20s' } });
    const held = await limiter.admit(request(principal('q-holder')));
    const waiting = tryAdmit(limiter, request(principal('q-waiter')));
    await eventually(() => limiter.snapshot().queued === 1, 2000, 'the waiter to queue');
    await own.stop();
    const r = await within(waiting, 5000);
    assert.notEqual(r, 'pending', 'the waiter must not hang until max_wait');
    assert.ok(isRefusal(r as Awaited<typeof waiting>));
    held.release(null);
    await own.start();
  });
});
