/**
 * Open-loop load at a fixed rate: request i is due at t0 + i/rate and its latency is measured from
 * that due time, so a slow server cannot slow the sender down (no coordinated omission); requests
 * waiting for one of the --connections sockets count that wait as latency. --warmup s at the same
 * rate come first and are not recorded. Hard stop at warmup + duration + 30 s. One JSON line.
 *   node dist/bench/load/openloop.js --url … --path /api/chat --body '{…}' --rate 1000 --duration 5
 */
import { Pool } from 'undici';
import { num, parseArgs, str } from '../lib/args.js';
import { Samples } from '../lib/stats.js';

const a = parseArgs(process.argv.slice(2));
const url = str(a, 'url');
const path = str(a, 'path', '/api/chat');
const method = str(a, 'method', 'POST') as 'GET' | 'POST';
const body = a.values.has('body') ? str(a, 'body') : null;
const rate = num(a, 'rate', 1000);
const durMs = num(a, 'duration', 5) * 1000;
const warmMs = num(a, 'warmup', 1) * 1000;
const sampleHeader = a.values.has('sample-header') ? str(a, 'sample-header').toLowerCase() : null;
const headers: Record<string, string> = { ...(body ? { 'content-type': 'application/json' } : {}), ...a.headers };

const pool = new Pool(url, { connections: num(a, 'connections', 64), pipelining: 1, keepAliveTimeout: 300_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
const lat = new Samples();
const hdr = new Samples();
let sent = 0;
let ok = 0;
let non2xx = 0;
let errors = 0;
let inflight = 0;
let maxLag = 0;
const errorKinds: Record<string, number> = {};
const warmN = Math.round((rate * warmMs) / 1000);
const total = warmN + Math.round((rate * durMs) / 1000);
const t0 = performance.now() + 20;
const cpu0 = process.cpuUsage();

async function fire(due: number, record: boolean): Promise<void> {
  inflight++;
  try {
    const r = await pool.request({ path, method, headers, body });
    for await (const _ of r.body) {
      /* drain */
    }
    if (record) {
      lat.push(performance.now() - due);
      if (r.statusCode >= 200 && r.statusCode < 300) ok++;
      else non2xx++;
      if (sampleHeader) {
        const v = r.headers[sampleHeader];
        if (typeof v === 'string') hdr.push(Number(v));
      }
    }
  } catch (e) {
    if (record) {
      errors++;
      const k = (e as { code?: string }).code ?? (e as Error).name;
      errorKinds[k] = (errorKinds[k] ?? 0) + 1;
    }
  }
  inflight--;
}

const tick = setInterval(() => {
  const now = performance.now();
  while (sent < total) {
    const due = t0 + (sent * 1000) / rate;
    if (due > now) break;
    const record = sent >= warmN;
    if (record) maxLag = Math.max(maxLag, now - due);
    sent++;
    void fire(due, record);
  }
  if (sent >= total) {
    clearInterval(tick);
    const wait = setInterval(() => {
      if (inflight === 0) {
        clearInterval(wait);
        finish(false);
      }
    }, 5);
  }
}, 1);
const hard = setTimeout(() => finish(true), warmMs + durMs + 30_000);

function finish(timedOut: boolean): void {
  clearTimeout(hard);
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(
    JSON.stringify({
      tool: 'openloop', rate, timed_out: timedOut, sent: sent - warmN, sent_with_warmup: sent, ok, non2xx, errors, error_kinds: errorKinds,
      achieved_rps: Number((ok / (durMs / 1000)).toFixed(1)), latency_ms: lat.summary(), max_send_lag_ms: Number(maxLag.toFixed(2)),
      header: sampleHeader ? { name: sampleHeader, ms: hdr.summary() } : null,
      client_cpu_pct: Number((((cpu.user + cpu.system) / 1e3 / (performance.now() - t0)) * 100).toFixed(1)),
    }) + '\n',
  );
  void pool.destroy().finally(() => process.exit(timedOut ? 2 : 0));
}
