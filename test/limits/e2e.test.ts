import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, startStack, type Stack } from '../helpers/stack.js';
import { eventually, sleep } from './helpers.js';

/**
 * Limits through a real `gatehouse serve` process (memory backend), with the real emulator
 * behind it: what a client sees (status, error shape per route family, headers), concurrency
 * held for the whole stream, the queue, brute-force protection and the CLI flags.
 */

const MSG = (text = 'hello there') => [{ role: 'user', content: text }];

interface Stream {
  res: Response;
  abort(): void;
  /** Resolves once the first chunk has arrived. */
  first: Promise<void>;
  done: Promise<string>;
}

/** Opens a streaming /api/chat and keeps it open until aborted or finished. */
async function openStream(url: string, key: string, text = 'stream please'): Promise<Stream> {
  const ac = new AbortController();
  const res = await call(`${url}/api/chat`, { method: 'POST', key, body: JSON.stringify({ model: 'llama3', messages: MSG(text) }), signal: ac.signal });
  let firstResolve!: () => void;
  const first = new Promise<void>((r) => (firstResolve = r));
  const done = (async () => {
    let text = '';
    if (!res.body) return text;
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += dec.decode(value);
        firstResolve();
      }
    } catch {
      // aborted
    }
    firstResolve();
    return text;
  })();
  return { res, abort: () => ac.abort(), first, done };
}

describe('limits through a gateway process (memory backend)', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      config: {
        trusted_proxies: ['127.0.0.1'],
        limits: { auth_failures: { max: 5, window: '1m' }, queue: { max_wait: '1s' } },
      },
    });
  });
  after(() => s.close());

  for (const [family, path, body, shape] of [
    ['ollama', '/api/chat', { model: 'llama3', stream: false, messages: MSG() }, (j: any) => assert.equal(typeof j.error, 'string')],
    ['openai', '/v1/chat/completions', { model: 'llama3', messages: MSG() }, (j: any) => assert.deepEqual([j.error.type, j.error.code], ['rate_limit_error', 'GW_ERR_RATE_LIMITED'])],
    ['anthropic', '/v1/messages', { model: 'llama3', max_tokens: 20, messages: MSG() }, (j: any) => assert.deepEqual([j.type, j.error.type], ['error', 'rate_limit_error'])],
  ] as const) {
    it(`rpm=2 (${family}): the third request is 429 in the ${family} error shape, with Retry-After and rate-limit headers`, async () => {
      const { key } = await s.createKey(`rpm-${family}`, ['--rpm', '2']);
      s.emu.reset();
      for (let i = 0; i < 2; i++) {
        const r = await call(`${s.gw.url}${path}`, { method: 'POST', key, body: JSON.stringify(body) });
        const text = await r.text();
        assert.equal(r.status, 200, text);
        assert.equal(r.headers.get('x-ratelimit-limit-requests'), '2');
        assert.equal(r.headers.get('x-ratelimit-remaining-requests'), String(1 - i));
        assert.ok(r.headers.get('x-ratelimit-reset-requests'));
        assert.equal(r.headers.get('ratelimit-limit'), '2');
        assert.ok(r.headers.get('ratelimit-reset'));
      }
      const r = await call(`${s.gw.url}${path}`, { method: 'POST', key, body: JSON.stringify(body) });
      assert.equal(r.status, 429);
      assert.equal(r.headers.get('x-gatehouse-error'), 'GW_ERR_RATE_LIMITED');
      const retry = Number(r.headers.get('retry-after'));
      assert.ok(retry >= 1 && retry <= 30, `Retry-After ${retry}`);
      assert.equal(r.headers.get('x-ratelimit-remaining-requests'), '0');
      assert.equal(r.headers.get('ratelimit-remaining'), '0');
      shape(await r.json());
      assert.equal(s.emu.requests.length, 2, 'the refused request never reached Ollama');
    });
  }

  it('concurrency=2: the third long stream waits; aborting one frees its permit at once; no wait is longer than max_wait', async () => {
    const { key } = await s.createKey('conc2', ['--concurrency', '2']);
    s.emu.reset();
    s.emu.fault({ chunks: 400, chunkDelayMs: 10, times: 4 });
    const a = await openStream(s.gw.url, key, 'stream a');
    const b = await openStream(s.gw.url, key, 'stream b');
    await Promise.all([a.first, b.first]);
    assert.equal(s.emu.inFlight(), 2);
    // The third waits in the queue: nothing reaches Ollama.
    const third = call(`${s.gw.url}/api/chat`, { method: 'POST', key, body: JSON.stringify({ model: 'llama3', messages: MSG('stream c') }) });
    await sleep(200);
    assert.equal(s.emu.requests.length, 2, 'the third request waits in the gateway');
    const t0 = performance.now();
    a.abort();
    await eventually(() => s.emu.requests.length === 3, 2000, 'the third request to go upstream');
    const freedMs = performance.now() - t0;
    assert.ok(freedMs < 500, `permit handed over ${freedMs.toFixed(0)} ms after the abort`);
    const c = await third;
    assert.equal(c.status, 200);
    assert.ok(s.emu.inFlight() <= 2);
    // Now both permits are busy again (b and c): a fourth waits max_wait (1 s), then 429.
    const started = performance.now();
    const d = await call(`${s.gw.url}/api/chat`, { method: 'POST', key, body: JSON.stringify({ model: 'llama3', messages: MSG('stream d') }) });
    const waited = performance.now() - started;
    assert.equal(d.status, 429);
    assert.equal(d.headers.get('x-gatehouse-error'), 'GW_ERR_CONCURRENCY');
    assert.ok(Number(d.headers.get('retry-after')) >= 1);
    assert.ok(waited >= 900 && waited < 3000, `waited ${waited.toFixed(0)} ms`);
    assert.match(((await d.json()) as { error: string }).error, /waited/);
    b.abort();
    await c.body?.cancel();
    await eventually(() => s.emu.inFlight() === 0, 3000, 'upstream to stop');
  });

  it('no permit leaks: 1,500 requests with random client aborts and upstream failures, then the full cap is usable again', async () => {
    const { key } = await s.createKey('leaky', ['--concurrency', '3', '--rpm', '1000000', '--tpm', '100000000']);
    s.emu.reset();
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const statuses = new Map<number | string, number>();
    const one = async (i: number) => {
      const x = rnd();
      if (x < 0.1) s.emu.fault({ match: (r) => r.body.includes(`"n${i}"`), status: 500 });
      else if (x < 0.2) s.emu.fault({ match: (r) => r.body.includes(`"n${i}"`), destroyAfter: 1, chunks: 5 });
      else if (x < 0.3) s.emu.fault({ match: (r) => r.body.includes(`"n${i}"`), midStreamErrorAfter: 2, chunks: 5 });
      const ac = new AbortController();
      if (x > 0.85) setTimeout(() => ac.abort(), Math.floor(rnd() * 15));
      try {
        const r = await call(`${s.gw.url}/api/chat`, { method: 'POST', key, signal: ac.signal, body: JSON.stringify({ model: 'llama3', messages: MSG(`n${i}`) }) });
        await r.text();
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      } catch {
        statuses.set('aborted', (statuses.get('aborted') ?? 0) + 1);
      }
    };
    const N = 1500;
    for (let i = 0; i < N; i += 30) await Promise.all(Array.from({ length: Math.min(30, N - i) }, (_, j) => one(i + j)));
    s.emu.clearFaults();
    assert.ok((statuses.get(200) ?? 0) > N / 2, JSON.stringify([...statuses]));
    // Every permit is back: three long streams run at once, the fourth waits.
    s.emu.reset();
    s.emu.fault({ chunks: 300, chunkDelayMs: 10, times: 3 });
    const open = await Promise.all([1, 2, 3].map((i) => openStream(s.gw.url, key, `after ${i}`)));
    await Promise.all(open.map((o) => o.first));
    assert.equal(s.emu.inFlight(), 3);
    const fourth = call(`${s.gw.url}/api/chat`, { method: 'POST', key, body: JSON.stringify({ model: 'llama3', stream: false, messages: MSG('fourth') }) });
    await sleep(150);
    assert.equal(s.emu.requests.length, 3, 'the cap is exactly 3: nothing leaked either way');
    open[0]!.abort();
    assert.equal((await fourth).status, 200);
    for (const o of open) o.abort();
  });

  it('item 2: a --tpm 20000 key runs 8 concurrent short chats at once (none waits, none is refused)', async () => {
    // Each chat gets the default output cap of 8192: reserving it (as before) let 2 run at once.
    const { key } = await s.createKey('item2-eight', ['--tpm', '20000']);
    s.emu.reset();
    s.emu.fault({ chunks: 20, chunkDelayMs: 50, times: 8 });
    const streams = await Promise.all(Array.from({ length: 8 }, (_, i) => openStream(s.gw.url, key, `short chat number ${i}`)));
    assert.deepEqual(streams.map((x) => x.res.status), Array(8).fill(200));
    await Promise.all(streams.map((x) => x.first));
    assert.equal(s.emu.inFlight(), 8, 'all 8 are generating upstream at the same time');
    const texts = await Promise.all(streams.map((x) => x.done));
    for (const t of texts) assert.match(t, /"done":true/);
    for (const x of streams) assert.ok(Number(x.res.headers.get('x-ratelimit-remaining-tokens')) >= 0);
  });

  it('item 2: a --tpm 1000 key under a stream of long answers gets one, and its debt refuses the rest of that 2-minute window', async () => {
    const { key } = await s.createKey('item2-long', ['--tpm', '1000']);
    s.emu.reset();
    s.emu.fault({ chunks: 3000, times: 1000 });
    const body = JSON.stringify({ model: 'llama3', stream: false, messages: MSG('tell me a very long story') });
    const started = Date.now();
    let ok = 0;
    const retries: number[] = [];
    while (Date.now() - started < 3000) {
      const r = await call(`${s.gw.url}/api/chat`, { method: 'POST', key, body });
      const text = await r.text();
      if (r.status === 200) ok++;
      else {
        assert.equal(r.status, 429, text);
        assert.equal(r.headers.get('x-gatehouse-error'), 'GW_ERR_TOKENS_EXHAUSTED');
        assert.equal(r.headers.get('x-ratelimit-remaining-tokens'), '0');
        retries.push(Number(r.headers.get('retry-after')));
      }
      await sleep(100);
    }
    assert.equal(ok, 1, 'one long answer');
    assert.equal(s.emu.requests.length, 1, 'the refused requests never reached Ollama');
    const used = s.emu.tokensSent.prompt + s.emu.tokensSent.completion;
    assert.ok(used > 3000 && used <= 1000 + 8192, `used ${used}: at most the limit + one output cap`);
    assert.ok(retries.length >= 10);
    // The bucket is at 1000 - used (+ a few seconds of refill) and the next request reserves 1000:
    // it fits (used - 1000 + 1000) tokens at 1000/min after the answer, well past 2 minutes.
    const expected = (used * 60) / 1000;
    const elapsed = (Date.now() - started) / 1000;
    for (const retry of retries) assert.ok(retry >= 120 && retry <= expected + 1 && retry >= expected - elapsed - 1, `Retry-After ${retry} s, expected about ${expected.toFixed(0)} s`);
  });

  it('brute force: past 5 failures an address gets 429 with Retry-After; a valid key from the same address still works', async () => {
    const { key } = await s.createKey('valid');
    const xff = { 'x-forwarded-for': '203.0.113.7' };
    for (let i = 0; i < 5; i++) {
      const r = await call(`${s.gw.url}/api/tags`, { key: 'gatehouse_wrongwrongwrong', headers: xff });
      assert.equal(r.status, 401);
    }
    const r = await call(`${s.gw.url}/api/tags`, { key: 'gatehouse_wrongwrongwrong', headers: xff });
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('x-gatehouse-error'), 'GW_ERR_AUTH_TOO_MANY_FAILURES');
    const retry = Number(r.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60);
    // Same address, valid key: fine (a shared NAT is not locked out).
    assert.equal((await call(`${s.gw.url}/api/tags`, { key, headers: xff })).status, 200);
    // X-Forwarded-For is believed from the trusted proxy (127.0.0.1): another client is counted apart.
    assert.equal((await call(`${s.gw.url}/api/tags`, { key: 'gatehouse_wrongwrongwrong', headers: { 'x-forwarded-for': '198.51.100.2' } })).status, 401);
  });

  it('keys update --rpm reaches the running gateway; limits.defaults apply to keys without their own', async () => {
    const { id, key } = await s.createKey('updated');
    const burst = async (n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await call(`${s.gw.url}/api/version`, { key })).status);
      return out;
    };
    assert.deepEqual(await burst(3), [200, 200, 200]);
    const u = s.cli(['keys', 'update', id, '--rpm', '1']);
    assert.equal(u.code, 0, u.stderr);
    await sleep(700);
    assert.deepEqual(await burst(2), [200, 429]);
  });
});

describe('the global cap and the fair queue through a gateway process', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ config: { limits: { global: { concurrency: 1 }, queue: { max_size: 12, max_per_principal: 10, max_wait: '20s' } } } });
  });
  after(() => s.close());

  it('one key with 10 queued requests delays another key\'s single request by at most one slot turn', async () => {
    const heavy = (await s.createKey('heavy')).key;
    const light = (await s.createKey('light')).key;
    s.emu.reset();
    // heavy-0 holds the only slot for ~1.2 s, long after the light request is queued: with a
    // short holder the order depended on how fast a loaded CI machine got the light request to
    // the gateway (it once arrived after heavy-0 and heavy-1 had finished: position 3).
    s.emu.fault({ match: (r) => r.body.toString().includes('heavy-0'), chunks: 20, chunkDelayMs: 60, times: 1 });
    s.emu.fault({ chunks: 3, chunkDelayMs: 60, times: 20 });
    const holder = await openStream(s.gw.url, heavy, 'heavy-0');
    await holder.first;
    const heavyReqs = Array.from({ length: 10 }, (_, i) => call(`${s.gw.url}/api/chat`, { method: 'POST', key: heavy, body: JSON.stringify({ model: 'llama3', messages: MSG(`heavy-${i + 1}`) }) }).then((r) => r.text()));
    await sleep(150); // all ten are queued
    const lightReq = call(`${s.gw.url}/api/chat`, { method: 'POST', key: light, body: JSON.stringify({ model: 'llama3', messages: MSG('light-1') }) }).then((r) => r.text());
    await Promise.all([...heavyReqs, lightReq, holder.done]);
    const order = s.emu.requests.map((r) => /(heavy|light)-\d+/.exec(r.body.toString())?.[0]);
    const at = order.indexOf('light-1');
    // heavy-0 held the slot; at most one more heavy request is served before light-1.
    assert.ok(at >= 1 && at <= 2, `light-1 went upstream at position ${at}: ${order.join(' ')}`);
    assert.equal(order.length, 12);
  });

  it('a full queue on the global cap answers 503 with Retry-After; Ollama never sees more than the cap', async () => {
    const k = (await s.createKey('many')).key;
    s.emu.reset();
    s.emu.fault({ chunks: 4, chunkDelayMs: 50, times: 50 });
    let maxInFlight = 0;
    const watch = setInterval(() => (maxInFlight = Math.max(maxInFlight, s.emu.inFlight())), 5);
    const rs = await Promise.all(Array.from({ length: 20 }, () => call(`${s.gw.url}/api/chat`, { method: 'POST', key: k, body: JSON.stringify({ model: 'llama3', messages: MSG() }) }).then(async (r) => ({ status: r.status, retry: r.headers.get('retry-after'), code: r.headers.get('x-gatehouse-error'), body: await r.text() }))));
    clearInterval(watch);
    const refused = rs.filter((r) => r.status !== 200);
    assert.ok(refused.length >= 9, `expected the queue (10 per key) to overflow: ${rs.map((r) => r.status).join(',')}`);
    // This key's own share of the queue (10) is full first: 429; the 503 path is checked below.
    assert.ok(refused.every((r) => r.status === 429 && r.code === 'GW_ERR_CONCURRENCY' && Number(r.retry) >= 1), JSON.stringify(refused[0]));
    assert.equal(maxInFlight, 1, 'the global cap is 1');
    // Several keys: the whole queue (12) overflows → 503 GW_ERR_QUEUE_FULL.
    const keys = await Promise.all([1, 2, 3].map((i) => s.createKey(`k${i}`)));
    s.emu.reset();
    s.emu.fault({ chunks: 4, chunkDelayMs: 50, times: 50 });
    const rs2 = await Promise.all(Array.from({ length: 18 }, (_, i) => call(`${s.gw.url}/api/chat`, { method: 'POST', key: keys[i % 3]!.key, body: JSON.stringify({ model: 'llama3', messages: MSG() }) }).then(async (r) => ({ status: r.status, retry: r.headers.get('retry-after'), code: r.headers.get('x-gatehouse-error'), body: await r.text() }))));
    const full = rs2.filter((r) => r.status === 503);
    assert.ok(full.length >= 1, rs2.map((r) => r.status).join(','));
    assert.ok(full.every((r) => r.code === 'GW_ERR_QUEUE_FULL' && Number(r.retry) >= 1));
    assert.match(JSON.parse(full[0]!.body).error, /busy/);
  });
});
