/**
 * Streaming load: --concurrency K workers POST a streaming request and read it to the end.
 *   closed loop (default): each worker starts its next stream when the previous one ended, for
 *                          --duration s (streams in flight then finish)
 *   --once:                each worker sends exactly one stream, started evenly over --ramp s
 * Counts chunks as non-empty lines (NDJSON lines, SSE "data:" events), time to first body byte
 * (TTFB) and stream duration; a stream is complete if it is 200 and its tail holds --done-marker
 * and, with --deadline S, if it ended within S seconds. Hard stop at --timeout s. One JSON line.
 */
import { Pool } from 'undici';
import { flag, num, parseArgs, str } from '../lib/args.js';
import { Samples } from '../lib/stats.js';

const a = parseArgs(process.argv.slice(2));
const url = str(a, 'url');
const path = str(a, 'path', '/api/generate');
const body = str(a, 'body');
const K = num(a, 'concurrency', 32);
const once = flag(a, 'once');
const durMs = num(a, 'duration', 10) * 1000;
const rampMs = num(a, 'ramp', 0) * 1000;
const hardMs = num(a, 'timeout', durMs / 1000 + 60) * 1000;
const deadlineMs = num(a, 'deadline', 0) * 1000;
const marker = str(a, 'done-marker', '"done":true');
const sampleHeader = a.values.has('sample-header') ? str(a, 'sample-header').toLowerCase() : null;
const headers: Record<string, string> = { 'content-type': 'application/json', ...a.headers };

const pool = new Pool(url, { connections: K, pipelining: 1, keepAliveTimeout: 300_000, headersTimeout: hardMs, bodyTimeout: hardMs, connect: { timeout: 30_000 } });
const ttfb = new Samples();
const total = new Samples();
const hdr = new Samples();
let streams = 0;
let complete = 0;
let late = 0;
let non2xx = 0;
let errors = 0;
let chunks = 0;
let bytes = 0;
const errorKinds: Record<string, number> = {};
const t0 = performance.now();
let tEnd = t0;
const cpu0 = process.cpuUsage();

async function one(): Promise<void> {
  const start = performance.now();
  let first = 0;
  let lines = 0;
  let prev = 10;
  let tail = '';
  try {
    const r = await pool.request({ path, method: 'POST', headers, body });
    if (sampleHeader) {
      const v = r.headers[sampleHeader];
      if (typeof v === 'string') hdr.push(Number(v));
    }
    for await (const part of r.body) {
      const c = part as Buffer;
      if (!first) first = performance.now();
      bytes += c.length;
      for (let i = 0; i < c.length; i++) {
        const b = c[i];
        if (b === 10 && prev !== 10) lines++;
        prev = b as number;
      }
      tail = (tail + c.toString('latin1', Math.max(0, c.length - 256))).slice(-256);
    }
    const end = performance.now();
    streams++;
    chunks += lines;
    tEnd = end;
    if (r.statusCode < 200 || r.statusCode > 299) non2xx++;
    const inTime = !deadlineMs || end - start <= deadlineMs;
    if (!inTime) late++;
    if (r.statusCode === 200 && tail.includes(marker) && inTime) complete++;
    ttfb.push((first || end) - start);
    total.push(end - start);
  } catch (e) {
    errors++;
    const k = (e as { code?: string }).code ?? (e as Error).name;
    errorKinds[k] = (errorKinds[k] ?? 0) + 1;
  }
}

async function worker(i: number): Promise<void> {
  if (rampMs) await new Promise((r) => setTimeout(r, (i * rampMs) / K));
  if (once) return one();
  while (performance.now() - t0 < durMs) await one();
}

const hard = setTimeout(() => finish(true), hardMs);
void Promise.all(Array.from({ length: K }, (_, i) => worker(i))).then(() => finish(false));

function finish(timedOut: boolean): void {
  clearTimeout(hard);
  const wall = (tEnd - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(
    JSON.stringify({
      tool: 'stream', mode: once ? 'once' : 'closed', concurrency: K, timed_out: timedOut, opened: once ? K : null,
      streams, complete, late, non2xx, errors, error_kinds: errorKinds, chunks, bytes, duration_s: Number(wall.toFixed(3)),
      streams_per_s: Number((streams / wall).toFixed(2)), chunks_per_s: Math.round(chunks / wall),
      ttfb_ms: ttfb.summary(2), stream_ms: total.summary(1),
      header: sampleHeader ? { name: sampleHeader, ms: hdr.summary() } : null,
      client_cpu_pct: Number((((cpu.user + cpu.system) / 1e3 / (performance.now() - t0)) * 100).toFixed(1)),
    }) + '\n',
  );
  void pool.destroy().finally(() => process.exit(timedOut ? 2 : 0));
}
