import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack } from '../helpers/stack.js';
import { haveOpenssl, serverCert } from '../tls/certs.js';
import { BASE_CONFIG, statuses } from './support.js';

/**
 * Issue #23, "authenticate before 100 Continue": a request with `Expect: 100-continue` gets its
 * 401/403/404/413 before any interim response; only an authorized request is invited to send its
 * body. Node's server used to answer `100 Continue` by itself as soon as the headers arrived, so an
 * anonymous client was invited to upload (a blob of gigabytes included) before its key had been
 * looked at. A refused request will not send its body, so its connection is closed after the
 * answer instead of waiting for bytes that never come.
 */

interface Conn {
  text(): string;
  write(b: string | Buffer): void;
  /** Resolves when the received text satisfies `pred`; rejects after `ms`. */
  until(pred: (t: string) => boolean, ms?: number): Promise<void>;
  /** Resolves with true once the server has closed the connection, false if still open after `ms`. */
  closedWithin(ms: number): Promise<boolean>;
  destroy(): void;
}

function open(url: string, ca?: Buffer): Promise<Conn> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock: Socket = u.protocol === 'https:'
      ? tlsConnect({ host: u.hostname, port: Number(u.port), ca, servername: 'localhost' })
      : tcpConnect({ host: u.hostname, port: Number(u.port) });
    const chunks: Buffer[] = [];
    let closed = false;
    const waiters = new Set<() => void>();
    const poke = () => waiters.forEach((w) => w());
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      poke();
    });
    sock.on('close', () => {
      closed = true;
      poke();
    });
    sock.on('error', () => {});
    const text = () => Buffer.concat(chunks).toString('latin1');
    const wait = (check: () => boolean, ms: number) =>
      new Promise<boolean>((res) => {
        if (check()) return res(true);
        const w = () => {
          if (!check()) return;
          clearTimeout(t);
          waiters.delete(w);
          res(true);
        };
        const t = setTimeout(() => {
          waiters.delete(w);
          res(false);
        }, ms);
        waiters.add(w);
      });
    sock.once(u.protocol === 'https:' ? 'secureConnect' : 'connect', () =>
      resolve({
        text,
        write: (b) => void sock.write(b),
        async until(pred, ms = 5000) {
          if (!(await wait(() => pred(text()), ms))) throw new Error(`not received within ${ms} ms; got: ${JSON.stringify(text().slice(0, 400))}`);
        },
        closedWithin: (ms) => wait(() => closed, ms),
        destroy: () => sock.destroy(),
      }),
    );
    sock.once('error', reject);
  });
}

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const chatBody = JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: false });
const blob = Buffer.from('weights that were never uploaded anywhere else '.repeat(20));
const blobDigest = 'sha256:' + createHash('sha256').update(blob).digest('hex');

function head(method: string, path: string, headers: Record<string, string | number>): string {
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** A complete first response head has arrived. */
const answered = (t: string) => /^HTTP\/1\.1 (?!100 )\d{3} [^\r]*\r\n[\s\S]*?\r\n\r\n/.test(t.replace(CONTINUE, ''));

/**
 * Sends the headers only, as a client waiting for 100 Continue does, and checks the refusal: the
 * final status with no interim response before it, `Connection: close`, the connection closed by
 * the server at once (not left waiting for a body), nothing forwarded.
 */
async function refusedBeforeContinue(s: Stack, url: string, method: string, path: string, headers: Record<string, string | number>, want: number, ca?: Buffer): Promise<void> {
  s.emu.reset();
  const c = await open(url, ca);
  try {
    c.write(head(method, path, { 'content-type': 'application/json', expect: '100-continue', ...headers }));
    await c.until(answered);
    const t = c.text();
    assert.ok(!t.includes('100 Continue'), `an interim 100 was sent before the refusal: ${t.slice(0, 300)}`);
    assert.deepEqual(statuses(t), [want], t.slice(0, 300));
    assert.match(t.split('\r\n\r\n')[0]!, /\r\nconnection: close(\r\n|$)/i, 'the refusal says the connection ends');
    assert.ok(await c.closedWithin(2000), 'the server closed the connection instead of waiting for a body that will not come');
    assert.equal(s.emu.requests.length, 0, 'nothing reached Ollama');
  } finally {
    c.destroy();
  }
}

describe('authenticate before 100 Continue', () => {
  let s: Stack;
  let user: string;
  let narrow: string;
  let admin: string;
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG, routes: { manage: true }, body_limits: { json: '64kb', blob: '1mb' } } });
    user = (await s.createKey('user', ['--scopes', 'inference,models:read'])).key;
    narrow = (await s.createKey('narrow', ['--scopes', 'inference,models:read', '--models', 'llama3'])).key;
    admin = (await s.createKey('admin', ['--scopes', 'models:manage,models:read'])).key;
  });
  after(() => s.close());

  const bearer = (k: string) => ({ authorization: `Bearer ${k}` });

  it('Expect: 100-continue without a key gets its 401 before any interim response, and the connection closes', async () => {
    await refusedBeforeContinue(s, s.gw.url, 'POST', '/api/chat', { 'content-length': chatBody.length }, 401);
  });

  it('Expect: 100-continue on a blob upload without a key: 401, never invited to upload', async () => {
    await refusedBeforeContinue(s, s.gw.url, 'POST', `/api/blobs/${blobDigest}`, { 'content-length': blob.length }, 401);
  });

  it('Expect: 100-continue with a key that lacks the route\'s scope: 403 before any interim response', async () => {
    await refusedBeforeContinue(s, s.gw.url, 'POST', `/api/blobs/${blobDigest}`, { ...bearer(user), 'content-length': blob.length }, 403);
    await refusedBeforeContinue(s, s.gw.url, 'POST', '/api/pull', { ...bearer(user), 'content-length': 20 }, 403);
  });

  it('Expect: 100-continue on an unknown route, or for a model the key may not use: 404 before any interim response', async () => {
    await refusedBeforeContinue(s, s.gw.url, 'POST', '/api/nothing', { ...bearer(user), 'content-length': 2 }, 404);
    await refusedBeforeContinue(s, s.gw.url, 'GET', '/v1/models/mistral', { ...bearer(narrow), 'content-length': 2 }, 404);
  });

  it('Expect: 100-continue with a declared body over the route\'s limit: 413, never invited to send it', async () => {
    await refusedBeforeContinue(s, s.gw.url, 'POST', '/api/chat', { ...bearer(user), 'content-length': 1024 * 1024 }, 413);
    await refusedBeforeContinue(s, s.gw.url, 'POST', `/api/blobs/${blobDigest}`, { ...bearer(admin), 'content-length': 2 * 1024 * 1024 }, 413);
  });

  it('Expect: 100-continue on an authorized request: 100 Continue, then the answer once the body is sent; the connection stays usable', async () => {
    s.emu.reset();
    const c = await open(s.gw.url);
    try {
      c.write(head('POST', '/api/chat', { ...bearer(user), 'content-type': 'application/json', 'content-length': chatBody.length, expect: '100-continue' }));
      await c.until((t) => t.includes(CONTINUE));
      assert.equal(c.text(), CONTINUE, 'the interim response comes alone, before any body was sent');
      assert.equal(s.emu.requests.length, 0);
      c.write(chatBody);
      await c.until((t) => statuses(t).length === 2 && /"done":true/.test(t));
      assert.deepEqual(statuses(c.text()), [100, 200]);
      assert.doesNotMatch(c.text(), /connection: close/i);
      // Keep-alive restored once the body was invited: a second request on the same connection.
      c.write(head('GET', '/api/version', { ...bearer(user), connection: 'close' }));
      assert.ok(await c.closedWithin(3000));
      assert.deepEqual(statuses(c.text()), [100, 200, 200]);
      assert.equal(s.emu.requests.filter((r) => r.path === '/api/chat').length, 1);
    } finally {
      c.destroy();
    }
  });

  it('Expect: 100-continue on an authorized blob upload: 100 Continue, then the upload is streamed and answered', async () => {
    s.emu.reset();
    const c = await open(s.gw.url);
    try {
      c.write(head('POST', `/api/blobs/${blobDigest}`, { ...bearer(admin), 'content-length': blob.length, expect: '100-continue', connection: 'close' }));
      await c.until((t) => t.includes(CONTINUE));
      assert.equal(c.text(), CONTINUE);
      c.write(blob);
      assert.ok(await c.closedWithin(5000));
      const codes = statuses(c.text());
      assert.equal(codes[0], 100);
      assert.ok(codes[1] === 201 || codes[1] === 200, c.text());
      assert.equal(s.emu.requests.find((r) => r.path === `/api/blobs/${blobDigest}`)?.bodyLength, blob.length);
    } finally {
      c.destroy();
    }
  });

  it('Expect: values other than 100-continue get 417 and nothing is forwarded', async () => {
    s.emu.reset();
    const c = await open(s.gw.url);
    try {
      c.write(head('POST', '/api/chat', { ...bearer(user), 'content-length': chatBody.length, expect: 'something-else' }));
      await c.until(answered);
      assert.deepEqual(statuses(c.text()), [417]);
      assert.equal(s.emu.requests.length, 0);
    } finally {
      c.destroy();
    }
  });
});

describe('authenticate before 100 Continue, over TLS', { skip: haveOpenssl() ? false : 'openssl is not installed' }, () => {
  let dir: string;
  let s: Stack;
  let ca: Buffer;
  let user: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-expect-'));
    const pair = serverCert(dir, 'server');
    ca = pair.pem;
    s = await startStack({ config: { ...BASE_CONFIG, tls: { cert: pair.cert, key: pair.key } } });
    user = (await s.createKey('user', ['--scopes', 'inference,models:read'])).key;
  });
  after(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Expect: 100-continue over HTTPS without a key: 401 before any interim response', async () => {
    await refusedBeforeContinue(s, s.gw.url, 'POST', '/api/chat', { 'content-length': chatBody.length }, 401, ca);
  });

  it('Expect: 100-continue over HTTPS with a valid key: 100 Continue, then the answer', async () => {
    const c = await open(s.gw.url, ca);
    try {
      c.write(head('POST', '/api/chat', { authorization: `Bearer ${user}`, 'content-type': 'application/json', 'content-length': chatBody.length, expect: '100-continue' }));
      await c.until((t) => t.includes(CONTINUE));
      assert.equal(c.text(), CONTINUE);
      c.write(chatBody);
      await c.until((t) => statuses(t).length === 2 && /"done":true/.test(t));
      assert.deepEqual(statuses(c.text()), [100, 200]);
    } finally {
      c.destroy();
    }
  });
});
