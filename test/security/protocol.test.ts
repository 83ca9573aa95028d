import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rawSocket } from '../helpers/http.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { BASE_CONFIG, hit, openRaw, sleep, statuses } from './support.js';

/**
 * Protocol-level attacks, sent as raw bytes: request smuggling (Content-Length / Transfer-Encoding
 * disagreements, duplicate or malformed lengths, obs-fold), header count and size limits,
 * pipelining, slow-header and slow-body clients (slowloris), oversized and deeply nested JSON and
 * prototype-pollution keys. Node's parser (insecureHTTPParser off) refuses most malformed framing;
 * these tests prove it for the listener Gatehouse actually runs, and that nothing reaches Ollama.
 */

const HOST = 'Host: 127.0.0.1\r\n';
const chat = JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: false });

describe('protocol: request smuggling and malformed framing', () => {
  let s: Stack;
  let auth: string;
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG } });
    auth = `Authorization: Bearer ${(await s.createKey('k', ['--scopes', 'inference,models:read'])).key}\r\n`;
  });
  after(() => s.close());

  /** A smuggled follow-up request that must never be executed. */
  const smuggled = () => `GET /api/tags HTTP/1.1\r\n${HOST}${auth}X-Smuggled: 1\r\n\r\n`;

  async function refusedRaw(bytes: string | Buffer, want: number[] = [400]): Promise<string> {
    s.emu.reset();
    const raw = await rawSocket(s.gw.url, bytes, 1500);
    const got = statuses(raw);
    assert.ok(got.length >= 1 && want.includes(got[0]!), `first status ${got[0]}, want ${want.join('/')}: ${raw.slice(0, 300)}`);
    assert.ok(!got.slice(1).some((x) => x < 400), `a second, smuggled request was answered: ${got.join(',')}`);
    assert.equal(s.emu.requests.length, 0, `reached Ollama: ${s.emu.requests.map((r) => r.method + ' ' + r.url).join(', ')}`);
    return raw;
  }

  const CASES: Array<[string, () => string]> = [
    ['CL.TE: Content-Length and Transfer-Encoding both present', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled()}`],
    ['TE.CL: Transfer-Encoding before Content-Length', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Transfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n${smuggled()}`],
    ['duplicate Content-Length with different values', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}${smuggled()}`],
    ['duplicate Content-Length with equal values', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}`],
    ['Content-Length as a list', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Content-Length: 2, 2\r\n\r\n{}`],
    ['Content-Length with a sign', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Content-Length: +2\r\n\r\n{}`],
    ['negative Content-Length', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Content-Length: -1\r\n\r\n{}`],
    ['hexadecimal Content-Length', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Content-Length: 0x2\r\n\r\n{}`],
    ['Content-Length with inner space', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Content-Length: 1 2\r\n\r\n{}`],
    ['Content-Length past 2^64', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Content-Length: 18446744073709551617\r\n\r\n{}`],
    ['Transfer-Encoding: xchunked', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${smuggled()}`],
    ['Transfer-Encoding: chunked, identity (chunked not last)', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${smuggled()}`],
    ['Transfer-Encoding: identity', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Transfer-Encoding: identity\r\n\r\n${smuggled()}`],
    ['two Transfer-Encoding headers', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n${smuggled()}`],
    ['space before the colon of Transfer-Encoding', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n${smuggled()}`],
    ['vertical tab before chunked', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n${smuggled()}`],
    ['obs-fold continuing Transfer-Encoding', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Transfer-Encoding: identity\r\n chunked\r\n\r\n0\r\n\r\n${smuggled()}`],
    ['obs-fold in any header', () => `GET /api/tags HTTP/1.1\r\n${HOST}${auth}X-Folded: a\r\n\tb\r\n\r\n`],
    ['bare LF line endings', () => `GET /api/tags HTTP/1.1\n${HOST.trimEnd()}\n${auth.trimEnd()}\n\n`],
    ['bare CR inside the header block', () => `GET /api/tags HTTP/1.1\r${HOST}${auth}\r\n`],
    ['NUL inside a header value', () => `GET /api/tags HTTP/1.1\r\n${HOST}${auth}X-A: a\x00b\r\n\r\n`],
    ['chunk size overflowing 64 bits', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF1\r\nx\r\n0\r\n\r\n`],
    ['garbage after the chunk size', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Transfer-Encoding: chunked\r\n\r\n2 x\r\n{}\r\n0\r\n\r\n`],
    ['chunk lines ending in bare LF', () => `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Transfer-Encoding: chunked\r\n\r\n2\n{}\n0\n\n${smuggled()}`],
    ['HTTP/2 preface on the HTTP/1.1 port', () => `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`],
    ['unknown protocol version HTTP/1.2', () => `GET /api/tags HTTP/1.2\r\n${HOST}${auth}\r\n`],
    ['lower-case method', () => `get /api/tags HTTP/1.1\r\n${HOST}${auth}\r\n`],
    ['non-ASCII bytes in the request-target', () => `GET /api/t\xd0\xb0gs HTTP/1.1\r\n${HOST}${auth}\r\n`],
    ['header name with a space', () => `GET /api/tags HTTP/1.1\r\n${HOST}${auth}Bad Header: x\r\n\r\n`],
  ];
  for (const [name, bytes] of CASES) {
    it(`smuggling: ${name} → 400, nothing reaches Ollama`, async () => {
      await refusedRaw(Buffer.from(bytes(), 'latin1'));
    });
  }

  it('smuggling: a request hidden in the body of a refused request is never executed', async () => {
    s.emu.reset();
    const hidden = smuggled();
    const raw = await rawSocket(s.gw.url, `POST /api/chat HTTP/1.1\r\n${HOST}Content-Length: ${hidden.length}\r\n\r\n${hidden}GET /api/version HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`, 1500);
    assert.deepEqual(statuses(raw), [401, 401], raw);
    assert.equal(s.emu.requests.length, 0);
  });

  it('smuggling: Ollama always receives an explicit Content-Length and no Transfer-Encoding, whatever the client framed', async () => {
    s.emu.reset();
    const hex = chat.length.toString(16);
    const raw = await rawSocket(s.gw.url, `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${hex}\r\n${chat}\r\n0\r\n\r\n`, 3000);
    assert.equal(statuses(raw)[0], 200, raw);
    assert.equal(s.emu.requests.length, 1);
    const h = s.emu.requests[0]!.headers;
    assert.equal(h['transfer-encoding'], undefined);
    assert.equal(Number(h['content-length']), s.emu.requests[0]!.bodyLength);
  });

  it('smuggling: absolute-form and CONNECT request-targets never turn Gatehouse into a forward proxy', async () => {
    await refusedRaw(`GET http://127.0.0.1:${s.emu.port}/api/tags HTTP/1.1\r\n${HOST}${auth}Connection: close\r\n\r\n`, [404]);
    s.emu.reset();
    const raw = await rawSocket(s.gw.url, `CONNECT 127.0.0.1:${s.emu.port} HTTP/1.1\r\n${HOST}${auth}\r\n`, 1000);
    assert.ok(!statuses(raw).some((x) => x < 300), raw);
    assert.equal(s.emu.requests.length, 0);
  });

  it('smuggling: Upgrade (websocket, h2c) requests are served as plain HTTP/1.1 and the upgrade headers are dropped', async () => {
    for (const up of ['Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n', 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n']) {
      s.emu.reset();
      const raw = await rawSocket(s.gw.url, `GET /api/tags HTTP/1.1\r\n${HOST}${auth}${up}\r\n`, 1000);
      assert.equal(statuses(raw)[0], 200, raw);
      assert.ok(!raw.includes('101 Switching'), raw);
      const h = s.emu.requests[0]!.headers;
      assert.equal(h.upgrade, undefined);
      assert.equal(h['http2-settings'], undefined);
      assert.ok(!/upgrade/i.test(String(h.connection ?? '')), `connection: ${h.connection}`);
    }
  });
});

describe('protocol: header count and size limits', () => {
  let s: Stack;
  let key: string;
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG } });
    key = (await s.createKey('k', ['--scopes', 'inference,models:read'])).key;
  });
  after(() => s.close());

  it('headers: more than 100 header fields → 431, nothing forwarded (Node alone would drop the excess silently)', async () => {
    s.emu.reset();
    const many = Array.from({ length: 150 }, (_, i) => `X-Pad-${i}: ${i}\r\n`).join('');
    const raw = await rawSocket(s.gw.url, `GET /api/tags HTTP/1.1\r\n${HOST}Authorization: Bearer ${key}\r\n${many}Connection: close\r\n\r\n`);
    assert.equal(statuses(raw)[0], 431, raw);
    assert.equal(s.emu.requests.length, 0);
  });

  it('headers: a credential hidden after 2,000 padding headers is not silently dropped and used as "no credential"', async () => {
    s.emu.reset();
    const many = Array.from({ length: 2100 }, (_, i) => `a${i}:\r\n`).join('');
    const raw = await rawSocket(s.gw.url, `GET /api/tags HTTP/1.1\r\n${HOST}${many}Authorization: Bearer ${key}\r\nConnection: close\r\n\r\n`);
    assert.equal(statuses(raw)[0], 431, raw);
    assert.equal(s.emu.requests.length, 0);
  });

  it('headers: a request within the limits (50 fields) is served', async () => {
    s.emu.reset();
    const some = Array.from({ length: 45 }, (_, i) => `X-Pad-${i}: ${i}\r\n`).join('');
    const raw = await rawSocket(s.gw.url, `GET /api/tags HTTP/1.1\r\n${HOST}Authorization: Bearer ${key}\r\n${some}Connection: close\r\n\r\n`);
    assert.equal(statuses(raw)[0], 200, raw);
  });

  it('headers: a header block over 16 KiB → 431, nothing forwarded', async () => {
    s.emu.reset();
    const raw = await rawSocket(s.gw.url, `GET /api/tags HTTP/1.1\r\n${HOST}Authorization: Bearer ${key}\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\nConnection: close\r\n\r\n`);
    assert.equal(statuses(raw)[0], 431, raw);
    assert.equal(s.emu.requests.length, 0);
  });

  it('headers: a single Authorization value of 15 KiB is refused as malformed, not parsed', async () => {
    s.emu.reset();
    const res = await hit(s.gw.url, 'GET', '/api/tags', { headers: { authorization: `Bearer ${'A'.repeat(15 * 1024)}` } });
    assert.equal(res.status, 401, res.body);
    assert.ok(res.body.length < 600, 'the refusal does not echo the header');
    assert.equal(s.emu.requests.length, 0);
  });

  it('headers: two Host headers → 400 (RFC 9112 §3.2), even when the first one is allowed', async () => {
    s.emu.reset();
    const raw = await rawSocket(s.gw.url, `GET /api/tags HTTP/1.1\r\n${HOST}Host: evil.example\r\nAuthorization: Bearer ${key}\r\nConnection: close\r\n\r\n`);
    assert.equal(statuses(raw)[0], 400, raw);
    assert.equal(s.emu.requests.length, 0);
  });

  it('headers: "__proto__" and "constructor" header names are inert', async () => {
    s.emu.reset();
    const raw = await rawSocket(s.gw.url, `GET /api/tags HTTP/1.1\r\n${HOST}Authorization: Bearer ${key}\r\n__proto__: {"admin":true}\r\nconstructor: x\r\nhasOwnProperty: x\r\nConnection: close\r\n\r\n`);
    assert.equal(statuses(raw)[0], 200, raw);
    const after = await hit(s.gw.url, 'GET', '/api/tags');
    assert.equal(after.status, 401, 'the next request without a key is still refused');
  });
});

describe('protocol: pipelining', () => {
  let s: Stack;
  let auth: string;
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG } });
    auth = `Authorization: Bearer ${(await s.createKey('k', ['--scopes', 'inference,models:read'])).key}\r\n`;
  });
  after(() => s.close());

  it('pipelining: each pipelined request is authenticated on its own, answered in order', async () => {
    s.emu.reset();
    const raw = await rawSocket(
      s.gw.url,
      `GET /api/tags HTTP/1.1\r\n${HOST}${auth}\r\n` + `GET /api/tags HTTP/1.1\r\n${HOST}X-Second: 1\r\n\r\n` + `POST /api/chat HTTP/1.1\r\n${HOST}${auth}Content-Length: ${chat.length}\r\nConnection: close\r\n\r\n${chat}`,
      3000,
    );
    assert.deepEqual(statuses(raw), [200, 401, 200], raw.slice(0, 400));
    assert.deepEqual(s.emu.requests.map((r) => r.url), ['/api/tags', '/api/chat']);
    assert.ok(!s.emu.requests.some((r) => r.headers['x-second'] !== undefined), 'the unauthenticated request did not ride on the first one');
  });

  it('pipelining: a request after an early-refused body (413, body still unread) is parsed at the right boundary', async () => {
    const small = await startStack({ config: { ...BASE_CONFIG, body_limits: { json: '1kb' } } });
    try {
      const k = (await small.createKey('k', ['--scopes', 'inference,models:read'])).key;
      const big = 'x'.repeat(4096);
      const raw = await rawSocket(small.gw.url, `POST /api/chat HTTP/1.1\r\n${HOST}Authorization: Bearer ${k}\r\nContent-Length: ${big.length}\r\n\r\n${big}GET /api/version HTTP/1.1\r\n${HOST}Authorization: Bearer ${k}\r\nConnection: close\r\n\r\n`, 3000);
      assert.deepEqual(statuses(raw), [413, 200], raw.slice(0, 400));
      assert.deepEqual(small.emu.requests.map((r) => r.url), ['/api/version']);
    } finally {
      await small.close();
    }
  });

  it('pipelining: 100 pipelined requests on one connection are all answered, in order', async () => {
    s.emu.reset();
    const one = `GET /api/version HTTP/1.1\r\n${HOST}${auth}\r\n`;
    const raw = await rawSocket(s.gw.url, one.repeat(99) + `GET /api/version HTTP/1.1\r\n${HOST}${auth}Connection: close\r\n\r\n`, 5000);
    assert.equal(statuses(raw).length, 100);
    assert.ok(statuses(raw).every((x) => x === 200));
    assert.equal(s.emu.requests.length, 100);
  });
});

describe('protocol: slowloris (slow headers, slow bodies) with short timeouts', { concurrency: true }, () => {
  let s: Stack;
  let key: string;
  const HEADERS_MS = 1000;
  const BODY_MS = 1000;
  // Node checks header deadlines every second: allow the deadline + one check + scheduling slack.
  const HEADER_BOUND = HEADERS_MS + 1000 + 1500;
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG, routes: { manage: true }, timeouts: { client_headers: '1s', client_body: '1s', client_idle: '3s' } } });
    key = (await s.createKey('k', ['--scopes', 'inference,models:read,models:manage'])).key;
  });
  after(() => s.close());

  /** Writes `text` one byte every `everyMs` until the server closes the connection. */
  function trickle(c: Awaited<ReturnType<typeof openRaw>>, text: string, everyMs: number): void {
    let i = 0;
    const t = setInterval(() => {
      if (c.sock.destroyed || i >= text.length) return clearInterval(t);
      c.write(text[i++]!);
    }, everyMs);
    void c.closed.then(() => clearInterval(t));
  }

  it('slowloris: a connection that sends nothing is closed within client_headers', async () => {
    const c = await openRaw(s.gw.url);
    const ms = await c.closed;
    assert.ok(ms < HEADER_BOUND, `closed after ${Math.round(ms)} ms`);
  });

  it('slowloris: headers trickled a byte at a time are cut off at client_headers (408), however steadily they arrive', async () => {
    const c = await openRaw(s.gw.url);
    trickle(c, `GET /api/tags HTTP/1.1\r\n${HOST}X-Slow: ${'a'.repeat(500)}\r\n\r\n`, 50);
    const ms = await c.closed;
    assert.ok(ms < HEADER_BOUND, `closed after ${Math.round(ms)} ms`);
    assert.equal(statuses(c.received())[0], 408, c.received());
  });

  it('slowloris: slow headers on a kept-alive connection (second request) are cut off too', async () => {
    const c = await openRaw(s.gw.url);
    c.write(`GET /api/version HTTP/1.1\r\n${HOST}Authorization: Bearer ${key}\r\n\r\n`);
    await sleep(200);
    const t0 = performance.now();
    trickle(c, `GET /api/tags HTTP/1.1\r\n${HOST}X-Slow: ${'a'.repeat(500)}\r\n\r\n`, 50);
    await c.closed;
    const ms = performance.now() - t0;
    assert.ok(ms < HEADER_BOUND, `closed ${Math.round(ms)} ms after the slow request began`);
    assert.equal(statuses(c.received())[0], 200);
  });

  for (const [name, head] of [
    ['an authenticated JSON body', () => `POST /api/chat HTTP/1.1\r\n${HOST}Authorization: Bearer ${key}\r\nContent-Length: 1000\r\n\r\n{"model":`],
    ['the body of an unauthenticated request (refused 401 at once)', () => `POST /api/chat HTTP/1.1\r\n${HOST}Content-Length: 1000\r\n\r\n{"model":`],
    ['the body of a request to an unknown route (404 at once)', () => `POST /nope HTTP/1.1\r\n${HOST}Content-Length: 1000\r\n\r\n{"model":`],
    ['a body sent with a GET (the route reads none)', () => `GET /api/tags HTTP/1.1\r\n${HOST}Authorization: Bearer ${key}\r\nContent-Length: 1000\r\n\r\n{"model":`],
  ] as Array<[string, () => string]>) {
    it(`slowloris: ${name}, trickled, is dropped within the body deadline`, async () => {
      const c = await openRaw(s.gw.url);
      c.write(head());
      trickle(c, ' '.repeat(900), 100);
      const ms = await c.closed;
      // Body deadline before the answer (JSON routes) and the same again after it, plus slack.
      assert.ok(ms < 2 * BODY_MS + 2000, `still open after ${Math.round(ms)} ms`);
      assert.ok(statuses(c.received()).length >= 1, 'the client was told why');
    });
  }

  it('slowloris: a blob upload that stalls for longer than client_body is dropped (blob uploads have an idle deadline, not a total one)', async () => {
    s.emu.reset();
    const c = await openRaw(s.gw.url);
    c.write(`POST /api/blobs/sha256:${'a'.repeat(64)} HTTP/1.1\r\n${HOST}Authorization: Bearer ${key}\r\nContent-Length: 1000\r\n\r\nxx`);
    const ms = await c.closed;
    assert.ok(ms < 2 * BODY_MS + 2000, `still open after ${Math.round(ms)} ms`);
  });

  it('slowloris: 40 slow-header and slow-body connections do not starve a normal client', async () => {
    const conns = await Promise.all(Array.from({ length: 40 }, () => openRaw(s.gw.url)));
    conns.forEach((c, i) => {
      if (i % 2 === 0) trickle(c, `GET /api/tags HTTP/1.1\r\n${HOST}X-Slow: ${'a'.repeat(500)}\r\n\r\n`, 100);
      else {
        c.write(`POST /api/chat HTTP/1.1\r\n${HOST}Authorization: Bearer ${key}\r\nContent-Length: 1000\r\n\r\n{`);
        trickle(c, ' '.repeat(900), 100);
      }
    });
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await hit(s.gw.url, 'POST', '/api/chat', { headers: { authorization: `Bearer ${key}` }, body: chat });
      assert.equal(r.status, 200, r.body);
      times.push(r.ms);
      await sleep(100);
    }
    assert.ok(Math.max(...times) < 1000, `normal requests took ${times.map(Math.round).join(', ')} ms`);
    const closed = await Promise.all(conns.map((c) => c.closed));
    assert.ok(Math.max(...closed) < 2 * BODY_MS + 3000, `slow connections lived ${Math.round(Math.max(...closed))} ms`);
  });
});

describe('protocol: oversized and deeply nested JSON, prototype pollution', () => {
  let s: Stack;
  let key: string;
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG, body_limits: { json: '256kb' } } });
    key = (await s.createKey('k', ['--scopes', 'inference,models:read', '--models', 'llama3'])).key;
  });
  after(() => s.close());
  const auth = () => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

  it('oversized JSON: a declared Content-Length over the limit is refused 413 before the body is sent', async () => {
    s.emu.reset();
    const c = await openRaw(s.gw.url);
    c.write(`POST /api/chat HTTP/1.1\r\n${HOST}Authorization: Bearer ${key}\r\nContent-Length: 1000000000\r\n\r\n`);
    for (let i = 0; i < 50 && statuses(c.received()).length === 0; i++) await sleep(20);
    assert.equal(statuses(c.received())[0], 413, c.received());
    c.sock.destroy();
    assert.equal(s.emu.requests.length, 0);
  });

  it('oversized JSON: a chunked body is cut off with 413 as soon as it passes the limit', async () => {
    s.emu.reset();
    const c = await openRaw(s.gw.url);
    c.write(`POST /api/chat HTTP/1.1\r\n${HOST}Authorization: Bearer ${key}\r\nTransfer-Encoding: chunked\r\n\r\n`);
    // A valid start, so the body is cut for its size, not refused as soon as it stops being JSON.
    const start = '{"model":"llama3","messages":[{"role":"user","content":"';
    c.write(`${start.length.toString(16)}\r\n${start}\r\n`);
    const piece = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 8 && statuses(c.received()).length === 0; i++) {
      c.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
      await sleep(20);
    }
    for (let i = 0; i < 50 && statuses(c.received()).length === 0; i++) await sleep(20);
    assert.equal(statuses(c.received())[0], 413, c.received().slice(0, 200));
    c.sock.destroy();
    assert.equal(s.emu.requests.length, 0);
  });

  it('deeply nested JSON: 100,000 levels of [ are refused quickly (400) and the gateway stays healthy', async () => {
    s.emu.reset();
    const deep = `{"model":"llama3","prompt":"x","format":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const res = await hit(s.gw.url, 'POST', '/api/generate', { headers: auth(), body: deep });
    assert.equal(res.status, 400, res.body);
    assert.ok(res.ms < 2000, `took ${Math.round(res.ms)} ms`);
    assert.equal(s.emu.requests.length, 0);
    const ok = await hit(s.gw.url, 'POST', '/api/chat', { headers: auth(), body: chat });
    assert.equal(ok.status, 200);
  });

  it('deeply nested JSON: 70 levels of objects inside a message are refused before anything is forwarded', async () => {
    const nest = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
    s.emu.reset();
    const bad = await hit(s.gw.url, 'POST', '/api/chat', { headers: auth(), body: `{"model":"llama3","messages":[{"role":"user","content":"x","tool_calls":${nest(70)}}]}` });
    assert.equal(bad.status, 400, bad.body);
    assert.match(bad.body, /nested deeper/);
    assert.equal(s.emu.requests.length, 0);
  });

  it('wide JSON: a 30,000-element array within the size limit does not stall other clients', async () => {
    const wide = JSON.stringify({ model: 'llama3', prompt: 'x', stream: false, context: Array.from({ length: 30_000 }, (_, i) => i) });
    const [a, b] = await Promise.all([
      hit(s.gw.url, 'POST', '/api/generate', { headers: auth(), body: wide }),
      hit(s.gw.url, 'POST', '/api/chat', { headers: auth(), body: chat }),
    ]);
    assert.ok(a.status < 500, a.body);
    assert.equal(b.status, 200);
    assert.ok(b.ms < 2000);
  });

  const POLLUTION: Array<[string, string]> = [
    ['__proto__ at the top level', `{"model":"llama3","prompt":"x","stream":false,"__proto__":{"model":"secret","admin":true,"scopes":["models:manage"]}}`],
    ['constructor.prototype', `{"model":"llama3","prompt":"x","stream":false,"constructor":{"prototype":{"admin":true,"model":"secret"}}}`],
    ['__proto__ inside options (runner options hidden in the prototype)', `{"model":"llama3","prompt":"x","stream":false,"options":{"__proto__":{"num_gpu":99,"num_ctx":999999}}}`],
    ['__proto__ inside stream_options', `{"model":"llama3","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"__proto__":{"include_usage":false}}}`],
    ['__proto__ inside a message', `{"model":"llama3","messages":[{"role":"user","content":"x","__proto__":{"images":["a","b"]}}],"stream":false}`],
  ];
  for (const [name, body] of POLLUTION) {
    it(`prototype pollution: ${name} is harmless data`, async () => {
      s.emu.reset();
      const path = body.includes('"messages"') ? (body.includes('stream_options') ? '/v1/chat/completions' : '/api/chat') : '/api/generate';
      const res = await hit(s.gw.url, 'POST', path, { headers: auth(), body });
      assert.ok(res.status < 500, res.body);
      for (const r of s.emu.requests) {
        const seen = r.json as Record<string, unknown>;
        assert.equal(seen.model, 'llama3', 'Ollama runs the model that was authorized');
        const opts = seen.options as Record<string, unknown> | undefined;
        if (opts) {
          assert.ok(!Object.hasOwn(opts, 'num_gpu'), 'no runner option appeared as a real option');
          assert.ok(!Object.hasOwn(opts, 'num_ctx'), 'no num_ctx appeared as a real option');
        }
      }
      // The gateway process is unchanged: authorization still holds for the next requests.
      const anon = await hit(s.gw.url, 'POST', '/api/generate', { headers: { 'content-type': 'application/json' }, body: `{"model":"llama3","prompt":"x"}` });
      assert.equal(anon.status, 401);
      const other = await hit(s.gw.url, 'POST', '/api/generate', { headers: auth(), body: `{"model":"mistral","prompt":"x","stream":false}` });
      assert.equal(other.status, 404, 'the allowlist still applies');
    });
  }
});
