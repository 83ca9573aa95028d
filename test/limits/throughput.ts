/**
 * Throughput of a real gateway process with auth alone vs. rpm + tpm + concurrency (memory and
 * Redis backends). Not a test (the numbers depend on the machine): run it by hand.
 *   node dist/test/limits/throughput.js [seconds=5] [rounds=3]
 * Each round runs every configuration once, in turn, so drift on a shared machine hits all of
 * them; the median of the rounds is printed.
 */
import { Pool } from 'undici';
import { startStack, type Stack } from '../helpers/stack.js';
import { deletePrefix, redisAvailable, uniquePrefix } from './helpers.js';

const seconds = Number(process.argv[2] ?? 5);
const rounds = Number(process.argv[3] ?? 3);
const CONNECTIONS = 32;
const BODY = JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'hello there' }], stream: false });

async function load(url: string, key: string, ms: number): Promise<number> {
  const pool = new Pool(url, { connections: CONNECTIONS, pipelining: 1 });
  let ok = 0;
  let bad = 0;
  const end = performance.now() + ms;
  const worker = async () => {
    while (performance.now() < end) {
      const r = await pool.request({ method: 'POST', path: '/api/chat', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: BODY });
      await r.body.dump();
      if (r.statusCode === 200) ok++;
      else bad++;
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  await pool.close();
  if (bad) throw new Error(`${bad} requests failed`);
  return ok / (ms / 1000);
}

interface Setup {
  name: string;
  stack: Stack;
  key: string;
  prefix?: string;
}

const setups: Setup[] = [];
const limitArgs = ['--rpm', '100000000', '--tpm', '1000000000', '--concurrency', '1000'];
{
  const stack = await startStack({ config: { log: { level: 'info', format: 'json' } } });
  setups.push({ name: 'auth only', stack, key: (await stack.createKey('plain')).key });
}
{
  const stack = await startStack({ config: { log: { level: 'info', format: 'json' } } });
  setups.push({ name: 'memory: rpm+tpm+concurrency', stack, key: (await stack.createKey('limited', limitArgs)).key });
}
if (await redisAvailable()) {
  const prefix = uniquePrefix('tput');
  const stack = await startStack({ config: { log: { level: 'info', format: 'json' }, limits: { backend: 'redis' }, redis: { key_prefix: prefix } } });
  setups.push({ name: 'redis: rpm+tpm+concurrency', stack, key: (await stack.createKey('limited', limitArgs)).key, prefix });
}

const results = new Map<string, number[]>();
for (const s of setups) await load(s.stack.gw.url, s.key, 1000); // warm up
for (let r = 0; r < rounds; r++) {
  for (const s of setups) {
    const rps = await load(s.stack.gw.url, s.key, seconds * 1000);
    results.set(s.name, [...(results.get(s.name) ?? []), rps]);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(results.get('auth only')!);
for (const [name, xs] of results) {
  const m = median(xs);
  console.log(`${name.padEnd(30)} ${m.toFixed(0).padStart(6)} req/s  (${((m / base - 1) * 100).toFixed(1)}% vs auth only; rounds: ${xs.map((x) => x.toFixed(0)).join(', ')})`);
}
for (const s of setups) {
  await s.stack.close();
  if (s.prefix) await deletePrefix(s.prefix);
}
