/**
 * The "bare Node" floor: node:http server + undici Pool, a static bearer check and nothing else.
 *   PORT=… UPSTREAM=http://127.0.0.1:… TOKEN=… node dist/bench/node-undici.js
 * Streams both ways (request body piped, response written chunk by chunk with backpressure),
 * strips hop-by-hop headers and Authorization. Any Node gateway does at least this much work.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';

const expected = `Bearer ${process.env.TOKEN ?? ''}`;
// connections: null = no cap; over HTTP/1.1 each open stream holds one upstream connection.
const pool = new Pool(process.env.UPSTREAM ?? 'http://127.0.0.1:11434', {
  connections: null, keepAliveTimeout: 300_000, headersTimeout: 600_000, bodyTimeout: 600_000,
});
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'authorization']);
const clean = (h: IncomingHttpHeaders | Record<string, string | string[] | undefined>) => {
  const out: Record<string, string | string[]> = {};
  for (const k in h) if (!HOP.has(k) && h[k] !== undefined) out[k] = h[k]!;
  return out;
};

const server = createServer((req, res) => {
  if (req.headers.authorization !== expected) {
    req.resume();
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
    return;
  }
  const body = req.method === 'GET' || req.method === 'HEAD' ? null : req;
  pool.stream(
    { path: req.url ?? '/', method: req.method as 'GET', headers: clean(req.headers), body },
    ({ statusCode, headers }) => res.writeHead(statusCode, clean(headers)),
    (err) => {
      if (!err) return;
      if (res.headersSent) res.destroy(err);
      else res.writeHead(502, { 'content-type': 'application/json' }).end('{"error":"bad gateway"}');
    },
  );
});
server.keepAliveTimeout = 300_000;
server.requestTimeout = 0;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', 4096, () => {
  const a = server.address();
  process.stdout.write(`listening ${typeof a === 'object' && a ? a.port : ''}\n`);
});
const stop = () => void pool.destroy().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
