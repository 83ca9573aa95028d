/**
 * Micro-benchmark of the limiter on the hot path (not a test: run it by hand).
 *   node dist/test/limits/bench.js [--redis]
 * Prints ns per admit+release for: a key with no limits; rpm + tpm + concurrency (memory); and,
 * with --redis, the same against the Redis at 127.0.0.1:6379 (latency per admission, sequential
 * and with 64 in flight).
 */
import { systemClock } from '../../src/core/clock.js';
import { build, deletePrefix, principal, request, uniquePrefix } from './helpers.js';

const usage = { prompt: 20, completion: 30, estimated: false };

async function memory(): Promise<void> {
  const { limiter } = await build('memory', {}, { clock: systemClock });
  const free = request(principal('free'), { tokens: 100 });
  const limited = request(principal('limited', { rpm: 1e9, tpm: 1e12, concurrency: 64 }), { tokens: 100 });
  const capped = await build('memory', { global: { concurrency: 64 }, models: { '*': { concurrency: 64 } } }, { clock: systemClock });
  for (const [name, l, req] of [
    ['no limits', limiter, free],
    ['rpm+tpm+concurrency', limiter, limited],
    ['rpm+tpm+concurrency+global+model', capped.limiter, limited],
  ] as const) {
    const N = 2_000_000;
    for (let i = 0; i < 100_000; i++) (l.admit(req) as { release(u: unknown): void }).release(usage);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) (l.admit(req) as { release(u: unknown): void }).release(usage);
    const ns = Number(process.hrtime.bigint() - t0) / N;
    console.log(`memory  ${name.padEnd(34)} ${ns.toFixed(0).padStart(6)} ns per admit+release (synchronous: ${!(l.admit(req) instanceof Promise)})`);
  }
  await limiter.close();
  await capped.limiter.close();
}

async function redis(): Promise<void> {
  const prefix = uniquePrefix('bench');
  const { limiter } = await build('redis', {}, { clock: systemClock, prefix });
  const req = request(principal('limited', { rpm: 1e9, tpm: 1e12, concurrency: 1000 }), { tokens: 100 });
  const run = async (inflight: number, total: number) => {
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next++ < total) (await limiter.admit(req)).release(usage);
    };
    await Promise.all(Array.from({ length: inflight }, worker));
    return (performance.now() - t0) / total;
  };
  await run(16, 2000);
  for (const inflight of [1, 64]) {
    const ms = await run(inflight, 20_000);
    console.log(`redis   rpm+tpm+concurrency, ${String(inflight).padStart(2)} in flight   ${(ms * 1000).toFixed(1).padStart(6)} µs per admission (${Math.round(1000 / ms)} admissions/s)`);
  }
  await limiter.close();
  await deletePrefix(prefix);
}

await memory();
if (process.argv.includes('--redis')) await redis();
