/**
 * Fake Ollama upstream for the benchmark, run as its own process:
 *   node dist/bench/upstream.js            (env PORT, default 0 = any; prints "listening <port>")
 *
 *   GET  /api/tags             ~1 KB model list (fixed)
 *   GET  /api/version, GET /   small fixed answers (health probes)
 *   POST /api/chat             "stream":false → ~600 B reply with done:true and token counts;
 *                              otherwise an NDJSON stream (like /api/generate)
 *   POST /api/generate         NDJSON stream of N lines {"response":"tok","done":false} + a final
 *                              done:true line with eval_count / prompt_eval_count
 *   POST /v1/chat/completions  "stream":true → SSE: N chunk events, a final chunk with usage,
 *                              then "data: [DONE]"; otherwise one ~500 B JSON completion
 *
 * N and the pacing come from the request body, because proxies may drop the query string:
 * N = options.num_predict (or max_tokens), else env STREAM_CHUNKS (256); the delay between chunks
 * is "delay_ms=D" anywhere in the body, else env STREAM_DELAY_MS (0). Delay 0 still writes every
 * chunk in its own event-loop turn (setImmediate), so chunks leave as separate TCP writes.
 *
 * It is a small HTTP/1.1 server on node:net with pre-built responses (keep-alive, Content-Length
 * or chunked request bodies, chunked streamed responses), so that the upstream costs far less
 * CPU per request than any proxy in front of it: the `direct` row is bounded by the load
 * generator, not by this process.
 */
import { createServer, type Socket } from 'node:net';

const PORT = Number(process.env.PORT ?? 0);
const DEF_N = Number(process.env.STREAM_CHUNKS ?? 256);
const DEF_DELAY = Number(process.env.STREAM_DELAY_MS ?? 0);
const MODEL = 'llama3.2:1b';
const CREATED = '2025-01-15T10:20:30.123456789Z';

const TAGS = JSON.stringify({
  models: [
    {
      name: 'llama3.2:1b', model: 'llama3.2:1b', modified_at: '2025-01-10T09:08:07.654321+00:00', size: 1321098329,
      digest: 'baf6a787fdffd633537aa2eb51cfd54cb93ff08e28040095462bb63daf552878',
      details: { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '1.2B', quantization_level: 'Q8_0' },
    },
    {
      name: 'qwen2.5:0.5b', model: 'qwen2.5:0.5b', modified_at: '2025-01-09T18:17:16.151413+00:00', size: 397821319,
      digest: 'a8b0c51577010a279d933d14c2a8ab4b268079d44c5c8830c0a93900f1827c67',
      details: { parent_model: '', format: 'gguf', family: 'qwen2', families: ['qwen2'], parameter_size: '494.03M', quantization_level: 'Q4_K_M' },
    },
    {
      name: 'nomic-embed-text:latest', model: 'nomic-embed-text:latest', modified_at: '2025-01-08T07:06:05.040302+00:00', size: 274302450,
      digest: '0a109f422b47e3a30ba2b10eca18548e944e8a23073ee3f3e947efcf3c45e59f',
      details: { parent_model: '', format: 'gguf', family: 'nomic-bert', families: ['nomic-bert'], parameter_size: '137M', quantization_level: 'F16' },
    },
  ],
});

const finalCounts = (n: number) => ({
  done_reason: 'stop', done: true, total_duration: 4883583458, load_duration: 1334875, prompt_eval_count: 26,
  prompt_eval_duration: 342546000, eval_count: n, eval_duration: 4535599000,
});
const CHAT = JSON.stringify({
  model: MODEL, created_at: CREATED,
  message: { role: 'assistant', content: 'The sky appears blue because molecules in the air scatter short (blue) wavelengths of sunlight much more than long (red) ones; this is Rayleigh scattering, and it is strongest at noon. At sunrise and sunset the light crosses more air, so more blue is scattered away and reds remain.' },
  ...finalCounts(42),
});
const OPENAI = JSON.stringify({
  id: 'chatcmpl-417', object: 'chat.completion', created: 1736936430, model: MODEL, system_fingerprint: 'fp_ollama',
  choices: [{ index: 0, message: { role: 'assistant', content: 'The sky appears blue because air molecules scatter short wavelengths of sunlight more than long ones (Rayleigh scattering).' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 26, completion_tokens: 42, total_tokens: 68 },
});

const GEN_LINE = JSON.stringify({ model: MODEL, created_at: CREATED, response: 'tok', done: false }) + '\n';
const CHAT_LINE = JSON.stringify({ model: MODEL, created_at: CREATED, message: { role: 'assistant', content: 'tok' }, done: false }) + '\n';
const genFinal = (n: number) => JSON.stringify({ model: MODEL, created_at: CREATED, response: '', ...finalCounts(n) }) + '\n';
const chatFinal = (n: number) => JSON.stringify({ model: MODEL, created_at: CREATED, message: { role: 'assistant', content: '' }, ...finalCounts(n) }) + '\n';
const sseChunk = (content: string, finish: string | null) => ({
  id: 'chatcmpl-417', object: 'chat.completion.chunk', created: 1736936430, model: MODEL, system_fingerprint: 'fp_ollama',
  choices: [{ index: 0, delta: { role: 'assistant', content }, finish_reason: finish }],
});
const SSE_LINE = `data: ${JSON.stringify(sseChunk('tok', null))}\n\n`;
const sseFinal = (n: number, usage: boolean) =>
  `data: ${JSON.stringify(sseChunk('', 'stop'))}\n\n` +
  (usage ? `data: ${JSON.stringify({ ...sseChunk('', null), choices: [], usage: { prompt_tokens: 26, completion_tokens: n, total_tokens: 26 + n } })}\n\n` : '') +
  'data: [DONE]\n\n';

/** One HTTP chunk of chunked transfer-encoding. */
const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
const GEN_CHUNK = Buffer.from(chunk(GEN_LINE), 'latin1');
const CHAT_CHUNK = Buffer.from(chunk(CHAT_LINE), 'latin1');
const SSE_CHUNK = Buffer.from(chunk(SSE_LINE), 'latin1');

let date = new Date().toUTCString();
setInterval(() => (date = new Date().toUTCString()), 1000).unref();

function fixed(status: string, type: string, body: string): string {
  return `HTTP/1.1 ${status}\r\nContent-Type: ${type}\r\nDate: ${date}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

interface Req {
  method: string;
  path: string;
  body: string;
  close: boolean;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);
const MAX_HEAD = 64 * 1024;

/** Parses one request from the front of buf: the request and its byte length, null (need more), or 'bad'. */
function parse(buf: Buffer): { req: Req; used: number } | null | 'bad' {
  const end = buf.indexOf(CRLFCRLF);
  if (end === -1) return buf.length > MAX_HEAD ? 'bad' : null;
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const [method, target, version] = (lines[0] ?? '').split(' ');
  if (!method || !target || !version?.startsWith('HTTP/1.')) return 'bad';
  let length = 0;
  let chunked = false;
  let close = version === 'HTTP/1.0';
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i] as string;
    const c = l.indexOf(':');
    if (c < 1) return 'bad';
    const name = l.slice(0, c).toLowerCase();
    const value = l.slice(c + 1).trim();
    if (name === 'content-length') length = Number(value);
    else if (name === 'transfer-encoding') chunked = value.toLowerCase().includes('chunked');
    else if (name === 'connection') close = value.toLowerCase() === 'close';
  }
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  let at = end + 4;
  if (!chunked) {
    if (!Number.isSafeInteger(length) || length < 0) return 'bad';
    if (buf.length < at + length) return null;
    return { req: { method, path, body: buf.toString('utf8', at, at + length), close }, used: at + length };
  }
  const parts: Buffer[] = [];
  for (;;) {
    const eol = buf.indexOf('\r\n', at, 'latin1');
    if (eol === -1) return null;
    const size = parseInt(buf.toString('latin1', at, eol), 16);
    if (!Number.isFinite(size) || size < 0) return 'bad';
    if (size === 0) {
      // last chunk, then optional trailers, then an empty line
      const fin = buf.indexOf(CRLFCRLF, eol);
      const direct = buf.length >= eol + 4 && buf[eol + 2] === 13 && buf[eol + 3] === 10;
      if (direct) return { req: { method, path, body: Buffer.concat(parts).toString('utf8'), close }, used: eol + 4 };
      if (fin === -1) return null;
      return { req: { method, path, body: Buffer.concat(parts).toString('utf8'), close }, used: fin + 4 };
    }
    if (buf.length < eol + 2 + size + 2) return null;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

function streamOut(sock: Socket, head: string, line: Buffer, final: string, n: number, delay: number, done: () => void): void {
  // Paced chunks are due at start + i × delay (not "delay after the previous one"), so timer lateness
  // does not add up over a long stream.
  const t0 = performance.now();
  let i = 0;
  const next = delay > 0 ? (f: () => void) => setTimeout(f, Math.max(0, t0 + i * delay - performance.now())) : (f: () => void) => setImmediate(f);
  const step = (): void => {
    if (sock.destroyed || !sock.writable) return;
    if (i >= n) {
      sock.write((i === 0 ? head : '') + chunk(final) + '0\r\n\r\n', 'latin1');
      done();
      return;
    }
    // the status line and headers leave with the first chunk, as Ollama's Go server does
    const ok = i === 0 ? sock.write(Buffer.concat([Buffer.from(head, 'latin1'), line])) : sock.write(line);
    i++;
    if (ok) next(step);
    else sock.once('drain', () => next(step));
  };
  step();
}

const streamHead = (type: string) => `HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nDate: ${date}\r\nTransfer-Encoding: chunked\r\n\r\n`;

/** Answers one request; calls done() when the socket may carry the next one. */
function answer(sock: Socket, r: Req, done: () => void): void {
  const json = 'application/json; charset=utf-8';
  if (r.method === 'GET') {
    if (r.path === '/api/tags') sock.write(fixed('200 OK', json, TAGS), 'latin1');
    else if (r.path === '/api/version') sock.write(fixed('200 OK', json, '{"version":"0.12.6"}'), 'latin1');
    else if (r.path === '/api/ps') sock.write(fixed('200 OK', json, '{"models":[]}'), 'latin1');
    else if (r.path === '/') sock.write(fixed('200 OK', 'text/plain; charset=utf-8', 'Ollama is running'), 'latin1');
    else sock.write(fixed('404 Not Found', json, '{"error":"not found"}'), 'latin1');
    return done();
  }
  if (r.method !== 'POST') {
    sock.write(fixed('405 Method Not Allowed', json, '{"error":"method not allowed"}'), 'latin1');
    return done();
  }
  const stream = !/"stream"\s*:\s*false/.test(r.body);
  const m = /"(?:num_predict|max_tokens|max_completion_tokens)"\s*:\s*(\d+)/.exec(r.body);
  const n = m ? Number(m[1]) : DEF_N;
  const d = /delay_ms=(\d+)/.exec(r.body);
  const delay = d ? Number(d[1]) : DEF_DELAY;
  if (r.path === '/api/chat' || r.path === '/api/generate') {
    const chat = r.path === '/api/chat';
    if (!stream) {
      sock.write(fixed('200 OK', json, chat ? CHAT : genFinal(n).slice(0, -1)), 'latin1');
      return done();
    }
    return streamOut(sock, streamHead('application/x-ndjson'), chat ? CHAT_CHUNK : GEN_CHUNK, chat ? chatFinal(n) : genFinal(n), n, delay, done);
  }
  if (r.path === '/v1/chat/completions') {
    if (!/"stream"\s*:\s*true/.test(r.body)) {
      sock.write(fixed('200 OK', json, OPENAI), 'latin1');
      return done();
    }
    const usage = /"include_usage"\s*:\s*true/.test(r.body);
    return streamOut(sock, streamHead('text/event-stream'), SSE_CHUNK, sseFinal(n, usage), n, delay, done);
  }
  sock.write(fixed('404 Not Found', json, '{"error":"not found"}'), 'latin1');
  done();
}

const server = createServer({ noDelay: true }, (sock) => {
  let buf: Buffer = EMPTY;
  let busy = false;
  let closing = false;
  const pump = (): void => {
    while (!busy && !closing) {
      const p = parse(buf);
      if (p === null) return;
      if (p === 'bad') {
        closing = true;
        sock.end(fixed('400 Bad Request', 'text/plain', 'bad request'), 'latin1');
        return;
      }
      buf = p.used === buf.length ? EMPTY : buf.subarray(p.used);
      busy = true;
      const req = p.req;
      answer(sock, req, () => {
        busy = false;
        if (req.close) {
          closing = true;
          sock.end();
        } else if (buf.length) setImmediate(pump);
      });
    }
  };
  sock.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    if (!busy) pump();
  });
  sock.on('error', () => sock.destroy());
});
server.maxConnections = 100_000;
server.listen({ port: PORT, host: '127.0.0.1', backlog: 4096 }, () => {
  const a = server.address();
  process.stdout.write(`listening ${typeof a === 'object' && a ? a.port : PORT}\n`);
});
const stop = (): void => {
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
