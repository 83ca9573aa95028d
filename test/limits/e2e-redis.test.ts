import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, startStack, type GatewayProcess, type Stack } from '../helpers/stack.js';
import { deletePrefix, eventually, redisAvailable, redisServerInstalled, REDIS_URL, sleep, SKIP_REDIS, SKIP_REDIS_SERVER, startOwnRedis, uniquePrefix, type OwnRedis } from './helpers.js';

/**
 * Replicas: two `gatehouse serve` processes sharing one data dir (so one key store) and one Redis
 * enforce one rpm / tpm / concurrency limit exactly under concurrent load. Then Redis stopped in
 * the middle of a run (a private redis-server, never the system one) follows
 * limits.on_store_error both ways, and recovery is automatic.
 */

const up = await redisAvailable();
const ownRedis = redisServerInstalled();
const MSG = (t = 'hello there') => [{ role: 'user', content: t }];

async function chat(url: string, key: string, body: Record<string, unknown> = {}, signal?: AbortSignal): Promise<{ status: number; code: string | null; text: string }> {
  const r = await call(`${url}/api/chat`, { method: 'POST', key, body: JSON.stringify({ model: 'llama3', stream: false, messages: MSG(), ...body }), ...(signal ? { signal } : {}) });
  return { status: r.status, code: r.headers.get('x-gatehouse-error'), text: await r.text() };
}

describe('two gateway processes share one limit through Redis', { skip: up ? false : SKIP_REDIS }, () => {
  let s: Stack;
  let gws: GatewayProcess[];
  const prefix = uniquePrefix('e2e');
  before(async () => {
    s = await startStack({ config: { limits: { backend: 'redis', queue: { max_wait: '400ms' } }, redis: { url: REDIS_URL, key_prefix: prefix } } });
    gws = [s.gw, await s.startReplica()];
  });
  after(async () => {
    await s.close();
    await deletePrefix(prefix);
  });

  it('rpm=20: 60 concurrent requests over both replicas, exactly 20 admitted', async () => {
    const { key } = await s.createKey('rpm-shared', ['--rpm', '20']);
    s.emu.reset();
    const t0 = Date.now();
    const rs = await Promise.all(Array.from({ length: 60 }, (_, i) => call(`${gws[i % 2]!.url}/api/version`, { key }).then((r) => r.status)));
    const refill = Math.floor(((Date.now() - t0) * 20) / 60_000);
    const ok = rs.filter((x) => x === 200).length;
    assert.ok(ok >= 20 && ok <= 20 + refill, `${ok} admitted (refill allowance ${refill})`);
    assert.equal(rs.filter((x) => x === 429).length, 60 - ok);
  });

  it('tpm=600: streamed tokens through both replicas stop at the shared limit', async () => {
    const { key } = await s.createKey('tpm-shared', ['--tpm', '600']);
    s.emu.reset();
    const body = { stream: true, options: { num_predict: 10 } };
    const t0 = Date.now();
    let refusals = 0;
    // Four clients per replica, until each has been refused twice in a row.
    await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      let streak = 0;
      for (let i = 0; i < 100 && streak < 2; i++) {
        const r = await chat(gws[w % 2]!.url, key, body);
        if (r.status === 429) {
          assert.equal(r.code, 'GW_ERR_TOKENS_EXHAUSTED');
          streak++;
          refusals++;
        } else {
          assert.equal(r.status, 200);
          streak = 0;
        }
      }
    }));
    const elapsed = Date.now() - t0;
    const used = s.emu.tokensSent.prompt + s.emu.tokensSent.completion;
    const refill = Math.ceil((elapsed * 600) / 60_000);
    const reservation = Math.ceil(JSON.stringify({ model: 'llama3', messages: MSG(), ...body }).length / 4) + 10;
    assert.ok(refusals >= 16);
    assert.ok(used <= 600 + refill, `used ${used} > 600 + ${refill} refilled in ${elapsed} ms: the shared limit did not hold`);
    assert.ok(used >= 600 - 8 * reservation, `used ${used}: refused too early`);
  });

  it('concurrency=3: long streams over both replicas, Ollama never sees more than 3; a permit freed on one replica wakes a waiter on the other', async () => {
    const { key } = await s.createKey('cc-shared', ['--concurrency', '3']);
    s.emu.reset();
    s.emu.fault({ chunks: 300, chunkDelayMs: 10, times: 20 });
    let max = 0;
    const watch = setInterval(() => (max = Math.max(max, s.emu.inFlight())), 5);
    const streams = Array.from({ length: 10 }, (_, i) => {
      const ac = new AbortController();
      const p = call(`${gws[i % 2]!.url}/api/chat`, { method: 'POST', key, signal: ac.signal, body: JSON.stringify({ model: 'llama3', messages: MSG(`s${i}`) }) }).then(
        async (r) => ({ status: r.status, code: r.headers.get('x-gatehouse-error'), r }),
        () => ({ status: 0, code: 'aborted', r: null }),
      );
      return { ac, p, i };
    });
    const settled = await Promise.all(streams.map((x) => Promise.race([x.p, sleep(1500).then(() => null)])));
    const running = settled.filter((x) => x?.status === 200).length;
    const refused = settled.filter((x) => x?.status === 429);
    assert.equal(running, 3, 'exactly three streams run');
    assert.equal(refused.length, 7);
    assert.ok(refused.every((x) => x!.code === 'GW_ERR_CONCURRENCY'));
    assert.equal(max, 3);
    // A waiter on replica B gets the permit a stream on replica A gives back.
    const onA = streams.find((x, i) => settled[i]?.status === 200 && x.i % 2 === 0) ?? streams.find((_, i) => settled[i]?.status === 200)!;
    const other = gws[(onA.i + 1) % 2]!;
    s.emu.clearFaults();
    const before = s.emu.requests.length;
    const waiting = chat(other.url, key, { messages: MSG('waiter') });
    await sleep(100);
    assert.equal(s.emu.requests.length, before, 'the waiter is queued in its gateway');
    const t0 = performance.now();
    onA.ac.abort();
    await eventually(() => s.emu.requests.some((r) => r.body.includes('waiter')), 2000, 'the waiter to go upstream');
    const ms = performance.now() - t0;
    assert.equal((await waiting).status, 200);
    console.log(`# cross-process wake-up: the waiter went upstream ${ms.toFixed(0)} ms after the client on the other replica left`);
    assert.ok(ms < 350, `${ms.toFixed(0)} ms`);
    clearInterval(watch);
    for (const x of streams) x.ac.abort();
    await eventually(() => s.emu.inFlight() === 0, 3000, 'upstream to stop');
  });
});

describe('Redis stopped mid-run follows limits.on_store_error', { skip: ownRedis ? false : SKIP_REDIS_SERVER }, () => {
  let own: OwnRedis;
  before(async () => {
    own = await startOwnRedis();
  });
  after(() => own.stop());

  for (const mode of ['closed', 'local'] as const) {
    it(`on_store_error: ${mode}`, async () => {
      await own.start(); // no-op while it runs
      const s = await startStack({ config: { limits: { backend: 'redis', on_store_error: mode }, redis: { url: own.url, key_prefix: uniquePrefix(mode), command_timeout: '300ms', connect_timeout: '300ms' } } });
      try {
        const b = await s.startReplica();
        const { key } = await s.createKey(`outage-${mode}`, ['--rpm', '3']);
        assert.equal((await chat(s.gw.url, key)).status, 200);
        await own.stop();
        if (mode === 'closed') {
          for (const g of [s.gw, b]) {
            const r = await chat(g.url, key);
            assert.equal(r.status, 503, r.text);
            assert.equal(r.code, 'GW_ERR_LIMITS_UNAVAILABLE');
          }
        } else {
          // Each replica enforces rpm=3 on its own (the fresh local bucket is full).
          for (const g of [s.gw, b]) {
            const st: number[] = [];
            for (let i = 0; i < 4; i++) st.push((await chat(g.url, key)).status);
            assert.deepEqual(st, [200, 200, 200, 429]);
          }
        }
        await own.start();
        // Back to shared limits by itself (a fresh Redis: the bucket is full again, shared by both).
        await eventually(async () => (await chat(s.gw.url, key)).status === 200, 8000, 'recovery on replica A');
        await eventually(async () => (await chat(b.url, key)).status === 200, 8000, 'recovery on replica B');
        const st: number[] = [];
        for (let i = 0; i < 4; i++) st.push((await chat(i % 2 ? b.url : s.gw.url, key)).status);
        assert.deepEqual(st.filter((x) => x === 200).length, 1, `shared again: 3 per minute over both replicas (${st})`);
        for (const g of [s.gw, b]) {
          const logs = g.logs();
          assert.equal((logs.match(/limits store \(redis\) is unreachable/g) ?? []).length, 1, 'one log line per transition');
          assert.equal((logs.match(/reachable again/g) ?? []).length, 1);
        }
      } finally {
        await s.close();
      }
    });
  }
});
