import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack } from '../helpers/stack.js';
import { BASE_CONFIG, hit } from './support.js';

/**
 * Issue #23 finding 4, with the request that showed it: four 32 MiB JSON bodies whose `context` is
 * an array of empty arrays raised the gateway from 118 MB to 1.14 GB and blocked /healthz for 6 s,
 * because each was parsed into ~11 million arrays and serialized again. The gateway now reads a
 * body without building it (src/policy/json-scan.ts), chunk by chunk as it arrives, and forwards
 * the untouched parts as views of the bytes it received. Measured here: the gateway process's peak
 * RSS while the four are in flight, and /healthz latency meanwhile. The bound asserted is the one
 * docs/request-bodies.md states: extra memory at most 2× the bytes of the bodies in flight.
 */

const BODY_BYTES = 32 * 1024 * 1024 - 64;
const BODIES = 4;

function adversarialBody(): Buffer {
  const head = Buffer.from('{"model":"llama3","prompt":"x","stream":false,"context":[');
  const tail = Buffer.from('[]]}');
  const n = Math.floor((BODY_BYTES - head.length - tail.length) / 3);
  const body = Buffer.allocUnsafe(head.length + n * 3 + tail.length);
  head.copy(body, 0);
  for (let i = 0, at = head.length; i < n; i++, at += 3) body.write('[],', at, 'latin1');
  tail.copy(body, head.length + n * 3);
  return body;
}

/** Probes GET /healthz every 10 ms on one keep-alive connection until stdin closes; prints the latencies. */
const PROBER = `
import { Agent, request } from 'node:http';
const u = new URL(process.argv[1]);
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const out = [];
let on = true;
process.stdin.on('end', () => (on = false)).resume();
while (on) {
  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: '/healthz', agent }, (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', reject);
    req.end();
  });
  out.push(performance.now() - t0);
  await new Promise((r) => setTimeout(r, 10));
}
agent.destroy();
process.stdout.write(JSON.stringify(out));
`;

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** An upstream that reads and drops request bodies: only the gateway's own memory is measured. */
function sink(): Promise<{ url: string; server: Server; received: number[] }> {
  const received: number[] = [];
  const server = createServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      received.push(n);
      const body = JSON.stringify({ model: 'llama3', created_at: new Date().toISOString(), response: '', done: true, done_reason: 'stop' });
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, received })));
}

describe('finding 4: a request costs memory by its size, not its shape', { skip: process.platform !== 'linux' ? 'reads /proc' : false }, () => {
  let s: Stack;
  let up: Awaited<ReturnType<typeof sink>>;
  let key: string;

  before(async () => {
    up = await sink();
    s = await startStack({ config: { ...BASE_CONFIG, upstream: up.url } });
    ({ key } = await s.createKey('big', ['--models', 'llama3']));
  });
  after(async () => {
    await s?.close();
    up?.server.close();
  });

  it('four 32 MiB bodies of empty arrays: peak RSS grows by at most 2× their bytes, /healthz p99 stays under 100 ms', async (t) => {
    const pid = s.gw.proc.pid!;
    const body = adversarialBody();
    // Warm up the paths involved, then take the baseline.
    for (let i = 0; i < 3; i++) await hit(s.gw.url, 'POST', '/api/generate', { headers: { authorization: `Bearer ${key}` }, body: '{"model":"llama3","prompt":"x","stream":false}' });
    const baseline = rssKiB(pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(pid))), 5);

    // /healthz is probed from a separate, otherwise idle process: this one is busy sending and
    // receiving 128 MiB, and its own event loop must not be what the latency measures.
    const prober = spawn(process.execPath, ['--input-type=module', '-e', PROBER, s.gw.url], { stdio: ['pipe', 'pipe', 'inherit'] });
    let proberOut = '';
    prober.stdout!.on('data', (d: Buffer) => (proberOut += d.toString()));
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    const replies = await Promise.all(Array.from({ length: BODIES }, () => hit(s.gw.url, 'POST', '/api/generate', { headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body, timeoutMs: 120_000 })));
    const wall = performance.now() - t0;
    prober.stdin!.end();
    await new Promise((r) => prober.once('exit', r));
    const health = JSON.parse(proberOut) as number[];
    clearInterval(sampler);
    peak = Math.max(peak, rssKiB(pid));

    for (const r of replies) assert.equal(r.status, 200, r.body.slice(0, 200));
    assert.equal(up.received.filter((n) => n >= body.length).length, BODIES, 'each body reached the upstream whole');
    const sorted = [...health].sort((a, b) => a - b);
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
    const growthMiB = (peak - baseline) / 1024;
    const inFlightMiB = (BODIES * body.length) / 1024 / 1024;
    t.diagnostic(`bodies: ${BODIES} × ${(body.length / 1024 / 1024).toFixed(1)} MiB in ${Math.round(wall)} ms; RSS ${Math.round(baseline / 1024)} MiB → peak ${Math.round(peak / 1024)} MiB (+${growthMiB.toFixed(0)} MiB = ${(growthMiB / inFlightMiB).toFixed(2)}× the bytes); /healthz ${health.length} probes, p50 ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${sorted[sorted.length - 1]!.toFixed(1)} ms`);
    assert.ok(health.length >= 5, `only ${health.length} /healthz probes ran`);
    assert.ok(p99 < 100, `/healthz p99 ${p99.toFixed(1)} ms`);
    assert.ok(growthMiB <= 2 * inFlightMiB, `RSS grew by ${growthMiB.toFixed(0)} MiB for ${inFlightMiB.toFixed(0)} MiB of bodies`);
  });
});
