/**
 * The baselines of `npm run bench:fleet`: what a plain load balancer in front of several Ollama
 * nodes does. node:http + one undici Pool per node; a request's body is read to find its model,
 * and it goes to a node that has the model installed (learnt from each node's /api/tags at
 * start; a model no node lists goes to any node):
 *   POLICY=least-connections   the node with the fewest requests open through this proxy
 *                              (ties: the next node after the last one chosen)
 *   POLICY=random              a seeded random choice (SEED)
 * It knows nothing of slots, residency or load times: that is the point of the comparison.
 * Env: PORT, NODES (comma-separated URLs), POLICY, SEED. Listens on 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';
import { prng } from './scenario.js';

interface Node {
  url: string;
  pool: Pool;
  open: number;
  models: Set<string>;
}

const POLICY = process.env.POLICY ?? 'least-connections';
if (POLICY !== 'least-connections' && POLICY !== 'random') throw new Error(`POLICY must be least-connections or random, got ${POLICY}`);
const rnd = prng(Number(process.env.SEED ?? 1));
const TIMEOUT_MS = 120_000;

/** Ollama's default tag: "m1" is "m1:latest". */
const fullName = (m: string): string => (m.includes(':') ? m : `${m}:latest`).toLowerCase();

const nodes: Node[] = (process.env.NODES ?? '').split(',').filter(Boolean).map((url) => ({
  url,
  pool: new Pool(url, { connections: 256, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS }),
  open: 0,
  models: new Set<string>(),
}));
if (nodes.length === 0) throw new Error('NODES is empty');
for (const n of nodes) {
  const r = await n.pool.request({ path: '/api/tags', method: 'GET' });
  const tags = (await r.body.json()) as { models: Array<{ name: string }> };
  for (const m of tags.models) n.models.add(m.name.toLowerCase());
}

let last = -1;
function choose(model: string | undefined): Node {
  const want = model ? fullName(model) : undefined;
  const having = want ? nodes.filter((n) => n.models.has(want)) : [];
  const pool = having.length > 0 ? having : nodes;
  if (POLICY === 'random') return pool[Math.floor(rnd() * pool.length)]!;
  let best: Node | undefined;
  // Scan from after the last choice so ties rotate instead of always hitting the first node.
  for (let i = 1; i <= nodes.length; i++) {
    const n = nodes[(last + i) % nodes.length]!;
    if (pool.includes(n) && (!best || n.open < best.open)) best = n;
  }
  last = nodes.indexOf(best!);
  return best!;
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  let model: string | undefined;
  try {
    const m = (JSON.parse(body.toString('utf8')) as { model?: unknown }).model;
    if (typeof m === 'string') model = m;
  } catch {
    // not JSON (a GET): any node
  }
  const node = choose(model);
  node.open++;
  const ac = new AbortController();
  res.once('close', () => ac.abort());
  try {
    const up = await node.pool.request({
      path: req.url ?? '/',
      method: (req.method ?? 'GET') as 'GET',
      headers: req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {},
      body: body.length > 0 ? body : null,
      signal: ac.signal,
    });
    const type = up.headers['content-type'];
    res.writeHead(up.statusCode, typeof type === 'string' ? { 'content-type': type } : {});
    await pipeline(up.body, res);
  } catch (e) {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `baseline router: ${(e as Error).message}` }));
    } else {
      res.destroy();
    }
  } finally {
    node.open--;
  }
}

const server = createServer((req, res) => void handle(req, res));
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const a = server.address();
  console.log(JSON.stringify({ router: POLICY, port: typeof a === 'object' && a ? a.port : 0, nodes: nodes.map((n) => ({ url: n.url, models: [...n.models] })) }));
});
for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => process.exit(0));
