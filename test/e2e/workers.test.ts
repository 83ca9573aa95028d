import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { call, cli, startStack, type Stack } from '../helpers/stack.js';
import { deletePrefix, eventually, redisAvailable, REDIS_URL, SKIP_REDIS, uniquePrefix } from '../limits/helpers.js';

/**
 * `gatehouse serve --workers N`: refused unless limits live in Redis (so they stay exact across
 * the worker processes); with Redis, N workers serve one port, share one limit exactly, sum
 * their metrics on the primary's metrics listener, replace a worker that dies, and all stop on
 * SIGTERM.
 */

/** Direct children of a process (the workers of the primary). */
function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

// Asked before any test runs: the refusal tests below block the event loop (spawnSync), which
// would time the probe out.
const up = await redisAvailable();

const listening = (logs: string) => logs.split('\n').filter((l) => l.includes('"msg":"gatehouse listening"')).length;

describe('serve --workers: refused where limits could not stay exact', () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => cli(['serve', '--data-dir', '/nonexistent-never-created', '--listen', '127.0.0.1:0', ...args], { GATEHOUSE_METRICS__LISTEN: 'off', ...env });

  it('the memory limits backend (the default): exit 2, saying what to set', () => {
    const r = run(['--workers', '2']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--workers needs limits\.backend: redis/);
  });

  it('metrics on the main listener: exit 2 (a scrape would see one worker)', () => {
    const r = run(['--workers', '2'], { GATEHOUSE_LIMITS__BACKEND: 'redis', GATEHOUSE_METRICS__LISTEN: 'main' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /metrics\.listen: main/);
  });

  it('a worker count that is not a whole number from 1 to 64: exit 2', () => {
    for (const n of ['0', '-1', 'two', '1.5', '65']) {
      const r = run([`--workers=${n}`], { GATEHOUSE_LIMITS__BACKEND: 'redis' });
      assert.equal(r.code, 2, n);
      assert.match(r.stderr, /--workers must be a whole number/);
    }
  });
});

describe('serve --workers 2 with limits on Redis', { skip: up ? false : SKIP_REDIS }, () => {
  let s: Stack;
  let metricsUrl: string;
  const prefix = uniquePrefix('workers');
  before(async () => {
    s = await startStack({
      config: { limits: { backend: 'redis' }, redis: { url: REDIS_URL, key_prefix: prefix }, metrics: { listen: '127.0.0.1:0' } },
      serveArgs: ['--workers', '2'],
    });
    await eventually(() => listening(s.gw.logs()) === 2, 10_000, 'both workers to listen');
    metricsUrl = /"metrics_url":"([^"]+)"/.exec(s.gw.logs())![1]!;
  });
  after(async () => {
    await s?.close();
    await deletePrefix(prefix);
  });

  it('two workers serve one port, and one rpm limit holds across them exactly', async () => {
    assert.equal(children(s.gw.proc.pid!).length, 2);
    const { key } = await s.createKey('w-rpm', ['--rpm', '20']);
    const t0 = Date.now();
    const rs = await Promise.all(Array.from({ length: 60 }, () => call(`${s.gw.url}/api/version`, { key }).then((r) => r.status)));
    const refill = Math.floor(((Date.now() - t0) * 20) / 60_000);
    const ok = rs.filter((x) => x === 200).length;
    assert.ok(ok >= 20 && ok <= 20 + refill, `${ok} admitted`);
    assert.equal(rs.filter((x) => x === 429).length, 60 - ok);
  });

  it('the metrics listener sums both workers', async () => {
    const { key } = await s.createKey('w-metrics');
    const before = await requestsTotal(metricsUrl);
    const n = 40;
    const rs = await Promise.all(Array.from({ length: n }, () => call(`${s.gw.url}/api/tags`, { key }).then(async (r) => (await r.text(), r.status))));
    assert.ok(rs.every((x) => x === 200));
    await eventually(async () => (await requestsTotal(metricsUrl)) - before === n, 3000, 'every request to be counted once');
  });

  it('a worker that dies is replaced, and serving goes on', async () => {
    const [victim] = children(s.gw.proc.pid!);
    assert.ok(victim);
    process.kill(victim, 'SIGKILL');
    await eventually(() => listening(s.gw.logs()) === 3, 10_000, 'a replacement worker');
    await eventually(() => children(s.gw.proc.pid!).length === 2 && !children(s.gw.proc.pid!).includes(victim), 5000, 'two workers again');
    assert.match(s.gw.logs(), /a worker died: starting another/);
    const { key } = await s.createKey('w-after');
    for (let i = 0; i < 10; i++) assert.equal((await call(`${s.gw.url}/api/tags`, { key })).status, 200);
  });

  it('SIGTERM stops the primary and every worker, exit 0', async () => {
    const workers = children(s.gw.proc.pid!);
    assert.equal(workers.length, 2);
    assert.equal(await s.gw.stop('SIGTERM'), 0);
    for (const w of workers) {
      await eventually(() => {
        try {
          process.kill(w, 0);
          return false;
        } catch {
          return true;
        }
      }, 5000, `worker ${w} to exit`);
    }
  });
});

async function requestsTotal(url: string): Promise<number> {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith('gatehouse_requests_total{')) sum += Number(line.split(' ').pop());
  return sum;
}
