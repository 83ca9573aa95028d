/**
 * Closed-loop HTTP load (the fallback when wrk is not installed, and the sampler for response
 * headers): --connections workers each send a request as soon as their previous one has ended,
 * for --duration seconds. Prints one JSON line. Latencies are closed-loop (coordinated omission:
 * a stalled connection sends nothing), like wrk's.
 *   node dist/bench/load/closed.js --url http://127.0.0.1:P --path /api/chat --method POST
 *     --body '{…}' --header 'authorization: Bearer …' --connections 64 --duration 10
 *     [--sample-header x-gatehouse-overhead-ms]
 */
import { Pool } from 'undici';
import { num, parseArgs, str } from '../lib/args.js';
import { Samples } from '../lib/stats.js';

const a = parseArgs(process.argv.slice(2));
const url = str(a, 'url');
const path = str(a, 'path', '/');
const method = str(a, 'method', 'GET') as 'GET' | 'POST';
const body = a.values.has('body') ? str(a, 'body') : null;
const conns = num(a, 'connections', 64);
const durMs = num(a, 'duration', 10) * 1000;
const sampleHeader = a.values.has('sample-header') ? str(a, 'sample-header').toLowerCase() : null;
const headers: Record<string, string> = { ...(body ? { 'content-type': 'application/json' } : {}), ...a.headers };

const pool = new Pool(url, { connections: conns, pipelining: 1, keepAliveTimeout: 300_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
const lat = new Samples();
const hdr = new Samples();
let ok = 0;
let non2xx = 0;
let errors = 0;
let bytes = 0;
const errorKinds: Record<string, number> = {};
const t0 = performance.now();
let tEnd = t0;
const cpu0 = process.cpuUsage();

async function worker(): Promise<void> {
  while (performance.now() - t0 < durMs) {
    const start = performance.now();
    try {
      const r = await pool.request({ path, method, headers, body });
      for await (const c of r.body) bytes += (c as Buffer).length;
      const end = performance.now();
      if (r.statusCode >= 200 && r.statusCode < 300) ok++;
      else non2xx++;
      lat.push(end - start);
      tEnd = end;
      if (sampleHeader) {
        const v = r.headers[sampleHeader];
        if (typeof v === 'string') hdr.push(Number(v));
      }
    } catch (e) {
      errors++;
      const k = (e as { code?: string }).code ?? (e as Error).name;
      errorKinds[k] = (errorKinds[k] ?? 0) + 1;
    }
  }
}

const hard = setTimeout(() => finish(true), durMs + 30_000);
void Promise.all(Array.from({ length: conns }, worker)).then(() => finish(false));

function finish(timedOut: boolean): void {
  clearTimeout(hard);
  const wall = (tEnd - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(
    JSON.stringify({
      tool: 'closed', connections: conns, timed_out: timedOut, requests: ok + non2xx, ok, non2xx, errors, error_kinds: errorKinds, bytes,
      duration_s: Number(wall.toFixed(3)), rps: Number(((ok + non2xx) / wall).toFixed(1)), latency_ms: lat.summary(),
      header: sampleHeader ? { name: sampleHeader, ms: hdr.summary() } : null,
      client_cpu_pct: Number((((cpu.user + cpu.system) / 1e3 / (performance.now() - t0)) * 100).toFixed(1)),
    }) + '\n',
  );
  void pool.destroy().finally(() => process.exit(timedOut ? 2 : 0));
}
