import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Pool, type Dispatcher } from 'undici';
import { UpstreamSet, type UpstreamSpec, type UpstreamTarget } from './upstream-set.js';

const timeouts = { connectMs: 1000, headersMs: 1000, bodyMs: 1000 };
const spec = (name: string, port: number): UpstreamSpec => ({ name, url: `http://127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}` });

describe('UpstreamSet.pick', () => {
  it('one target: always the same object, with its name, address, Host and pool', async () => {
    const set = new UpstreamSet([{ name: 'default', url: 'http://[::1]:11434/', origin: 'http://[::1]:11434', host: '[::1]:11434' }], { timeouts });
    try {
      const a = set.pick({ route: 'chat' });
      const b = set.pick({ route: 'generate' });
      assert.equal(a, b, 'no allocation per request');
      assert.equal(a, set.targets[0]);
      assert.equal(a.name, 'default');
      assert.equal(a.url, 'http://[::1]:11434/', 'the URL as configured (the audit log records it)');
      assert.equal(a.origin, 'http://[::1]:11434');
      assert.equal(a.host, '[::1]:11434');
      assert.ok(a.dispatcher instanceof Pool);
      assert.deepEqual({ up: a.health.up, checkedAt: a.health.checkedAt }, { up: false, checkedAt: 0 }, 'not up until probed');
    } finally {
      await set.close();
    }
  });

  it('several targets are a list of specs; today pick answers the first', async () => {
    const set = new UpstreamSet([spec('a', 1), spec('b', 2)], { timeouts });
    try {
      assert.deepEqual(set.targets.map((t) => t.name), ['a', 'b']);
      assert.equal(set.pick(), set.targets[0]);
    } finally {
      await set.close();
    }
  });

  it('refuses an empty list', () => {
    assert.throws(() => new UpstreamSet([], { timeouts }), /at least one upstream/);
  });
});

describe('UpstreamSet health: from the probe, cached, shared', () => {
  const fakeDispatcher = (): Dispatcher => ({ close: async () => {} }) as unknown as Dispatcher;

  it('ready() probes, caches for maxAge, and reflects the answer in target.health', async () => {
    let now = 1_000_000;
    let answer = false;
    const probed: string[] = [];
    const set = new UpstreamSet([spec('default', 1)], {
      timeouts, dispatcher: fakeDispatcher, now: () => now,
      probe: async (t: UpstreamTarget) => {
        probed.push(t.name);
        return answer;
      },
    });
    assert.equal(await set.ready(2000), false);
    assert.equal(probed.length, 1);
    assert.equal(set.targets[0]!.health.checkedAt, now);
    answer = true;
    now += 1999;
    assert.equal(await set.ready(2000), false, 'cached: not probed again within maxAge');
    assert.equal(probed.length, 1);
    now += 1;
    assert.equal(await set.ready(2000), true, 'probed again once the answer is maxAge old');
    assert.equal(probed.length, 2);
    assert.equal(set.targets[0]!.health.up, true);
    now += 3000;
    assert.equal(await set.ready(5000), true, 'a longer maxAge (the metric) takes the same answer');
    assert.equal(probed.length, 2);
    await set.close();
  });

  it('a probe that throws counts as down; concurrent askers share one probe in flight', async () => {
    let calls = 0;
    let release!: () => void;
    const set = new UpstreamSet([spec('default', 1)], {
      timeouts, dispatcher: fakeDispatcher,
      probe: () => {
        calls++;
        return new Promise<boolean>((_, reject) => (release = () => reject(new Error('boom'))));
      },
    });
    const both = Promise.all([set.ready(2000), set.ready(5000)]);
    release();
    assert.deepEqual(await both, [false, false]);
    assert.equal(calls, 1);
    await set.close();
  });

  it('several targets: ready only when every one answers', async () => {
    const set = new UpstreamSet([spec('a', 1), spec('b', 2)], { timeouts, dispatcher: fakeDispatcher, probe: async (t) => t.name === 'a' });
    assert.equal(await set.ready(2000), false);
    assert.deepEqual(set.targets.map((t) => t.health.up), [true, false]);
    await set.close();
  });
});

describe('UpstreamSet: the HEAD / probe against a real server', () => {
  let server: Server;
  let port = 0;
  let status = 200;
  const seen: Array<{ method: string; url: string; host: string }> = [];
  before(async () => {
    server = createServer((req, res) => {
      seen.push({ method: req.method!, url: req.url!, host: req.headers.host! });
      res.writeHead(status).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('sends HEAD / with the target Host; below 500 is up, 500 and above down, no answer down', async () => {
    let now = 1_000_000;
    const set = new UpstreamSet([spec('default', port)], { timeouts, now: () => now });
    try {
      assert.equal(await set.ready(1), true);
      assert.deepEqual(seen.at(-1), { method: 'HEAD', url: '/', host: `127.0.0.1:${port}` });
      status = 404;
      now += 10;
      assert.equal(await set.ready(1), true, '404 is an answer');
      status = 503;
      now += 10;
      assert.equal(await set.ready(1), false);
    } finally {
      await set.close();
    }
    const closed = new UpstreamSet([spec('default', 1)], { timeouts });
    assert.equal(await closed.ready(1), false, 'nothing listens on port 1');
    await closed.close();
  });
});
