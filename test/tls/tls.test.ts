import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startStack, settle, type Stack } from '../helpers/stack.js';
import { clientCa, clientCert, haveOpenssl, serverCert, type Pair } from './certs.js';
import { pinnedRequest, pinnedStart } from './client.js';

/**
 * TLS as deployed: a real `gatehouse serve` process with certificates made by openssl at test time.
 * Every connection goes to 127.0.0.1.
 */

const skip = haveOpenssl() ? false : 'openssl is not installed';

async function waitForLog(s: Stack, text: string, count: number, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (s.gw.logs().split(text).length - 1 >= count) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no "${text}" (x${count}) in the gateway log:\n${s.gw.logs().slice(-3000)}`);
}

/** The request log line for a response, by its x-request-id (written when the response has closed). */
async function logLine(s: Stack, requestId: string, ms = 3000): Promise<Record<string, unknown>> {
  const end = Date.now() + ms;
  do {
    for (const line of s.gw.logs().split('\n')) {
      if (!line.includes(requestId)) continue;
      try {
        const j = JSON.parse(line) as Record<string, unknown>;
        if (j.request_id === requestId) return j;
      } catch {
        /* not a JSON line */
      }
    }
    await new Promise((r) => setTimeout(r, 25));
  } while (Date.now() < end);
  throw new Error(`no log line for request ${requestId}`);
}

describe('TLS certificate reload on SIGHUP', { skip }, () => {
  let dir: string;
  let s: Stack;
  let a: Pair;
  let b: Pair;
  let key: string;
  let served: { cert: string; key: string };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-tls-'));
    a = serverCert(dir, 'a');
    b = serverCert(dir, 'b');
    served = { cert: join(dir, 'served.pem'), key: join(dir, 'served.key') };
    copyFileSync(a.cert, served.cert);
    copyFileSync(a.key, served.key);
    s = await startStack({ config: { tls: { cert: served.cert, key: served.key } } });
    assert.match(s.gw.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    key = (await s.createKey('tls')).key;
  });
  after(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a client pinned to the served certificate connects; one pinned to another certificate is refused', async () => {
    const r = await pinnedRequest(`${s.gw.url}/api/tags`, { pin: a.pem, pinFingerprint: a.fingerprint256, headers: { authorization: `Bearer ${key}` } });
    assert.equal(r.status, 200);
    assert.equal(r.served, a.fingerprint256);
    await assert.rejects(pinnedRequest(`${s.gw.url}/api/tags`, { pin: b.pem, pinFingerprint: b.fingerprint256 }));
  });

  it('after SIGHUP with a new certificate, new connections get it and an in-flight stream survives', async () => {
    s.emu.fault({ match: (r) => r.path === '/api/generate', chunks: 30, chunkDelayMs: 60 });
    let reloadedAt = 0;
    const stream = new Promise<{ lines: Array<{ done?: boolean }>; served: string; endedAt: number }>((resolve, reject) => {
      let started = false;
      const req = pinnedStart(
        `${s.gw.url}/api/generate`,
        { pin: a.pem, pinFingerprint: a.fingerprint256, method: 'POST', headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ model: 'llama3', prompt: 'a long answer', stream: true }) },
        (res, servedFp) => {
          assert.equal(res.statusCode, 200);
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
            if (!started) {
              started = true;
              // Mid-stream: swap the files in place and signal the gateway.
              copyFileSync(b.cert, served.cert);
              copyFileSync(b.key, served.key);
              s.gw.proc.kill('SIGHUP');
              void waitForLog(s, 'tls certificate reloaded', 1).then(() => (reloadedAt = Date.now()), reject);
            }
          });
          res.on('end', () => resolve({ lines: text.trim().split('\n').map((l) => JSON.parse(l) as { done?: boolean }), served: servedFp, endedAt: Date.now() }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
    });

    await waitForLog(s, 'tls certificate reloaded', 1);
    const fresh = await pinnedRequest(`${s.gw.url}/api/tags`, { pin: b.pem, pinFingerprint: b.fingerprint256, headers: { authorization: `Bearer ${key}` } });
    assert.equal(fresh.status, 200);
    assert.equal(fresh.served, b.fingerprint256, 'a new connection sees the new certificate');
    await assert.rejects(pinnedRequest(`${s.gw.url}/api/tags`, { pin: a.pem, pinFingerprint: a.fingerprint256 }), 'the old certificate is no longer served');

    const done = await stream;
    assert.ok(reloadedAt > 0 && done.endedAt > reloadedAt, 'the stream was still running when the certificate changed');
    assert.equal(done.served, a.fingerprint256, 'the in-flight stream kept its connection (and certificate)');
    assert.ok(done.lines.length >= 30, `every chunk arrived (${done.lines.length})`);
    assert.equal(done.lines.at(-1)?.done, true, 'the stream finished normally');
    assert.equal(s.gw.proc.exitCode, null, 'SIGHUP did not stop the process');
  });

  it('a broken pair on SIGHUP is refused and the previous certificate stays', async () => {
    copyFileSync(a.key, served.key); // b's certificate with a's key: does not match
    s.gw.proc.kill('SIGHUP');
    await waitForLog(s, 'tls reload failed', 1);
    const r = await pinnedRequest(`${s.gw.url}/api/tags`, { pin: b.pem, pinFingerprint: b.fingerprint256, headers: { authorization: `Bearer ${key}` } });
    assert.equal(r.status, 200);
    assert.equal(r.served, b.fingerprint256);
    copyFileSync(b.key, served.key);
  });
});

describe('mTLS: client certificates as principals (client_auth: optional)', { skip }, () => {
  let dir: string;
  let s: Stack;
  let srv: Pair;
  let alice: Pair, carol: Pair, bob: Pair, bobFake: Pair, mallory: Pair;
  const ids: Record<string, string> = {};
  let apiKey: { id: string; key: string };

  const get = (c: Pair | null, headers: Record<string, string> = {}) =>
    pinnedRequest(`${s.gw.url}/api/tags`, { pin: srv.pem, pinFingerprint: srv.fingerprint256, headers, ...(c ? { clientCert: c.pem, clientKey: c.keyPem } : {}) });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-mtls-'));
    srv = serverCert(dir, 'server');
    const ca = clientCa(dir);
    alice = clientCert(dir, 'alice', '/O=Example/CN=alice', ca);
    carol = clientCert(dir, 'carol', '/CN=carol', null);
    bob = clientCert(dir, 'bob', '/O=Example/CN=bob', ca);
    bobFake = clientCert(dir, 'bob-fake', '/O=Example/CN=bob', null);
    mallory = clientCert(dir, 'mallory', '/CN=mallory', ca);
    s = await startStack({ config: { tls: { cert: srv.cert, key: srv.key, client_auth: 'optional', client_ca: ca.cert }, log: { level: 'debug', format: 'json' } } });
    const add = (name: string, args: string[]) => {
      const r = s.cli(['keys', 'add-cert', '--name', name, ...args, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout) as { id: string; fingerprint: string; notes: string[] };
      assert.deepEqual(j.notes, [], `no configuration notes for ${name}`);
      ids[name] = j.id;
      return j;
    };
    assert.equal(add('alice', ['--cert-file', alice.cert]).fingerprint, `cert:sha256:${alice.fingerprint256}`);
    add('carol', ['--cert-file', carol.cert]);
    assert.equal(add('bob', ['--subject', 'O=Example, CN=bob']).fingerprint, 'cert:subject:O=Example, CN=bob');
    apiKey = await s.createKey('api');
  });
  after(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a registered certificate is a principal: no API key needed', async () => {
    const r = await get(alice);
    assert.equal(r.status, 200, r.body);
    assert.equal((await logLine(s, String(r.headers['x-request-id']))).principal_id, ids.alice);
  });

  it('a self-signed certificate pinned by fingerprint needs no CA', async () => {
    const r = await get(carol);
    assert.equal(r.status, 200, r.body);
    assert.equal((await logLine(s, String(r.headers['x-request-id']))).principal_id, ids.carol);
  });

  it('a subject mapping accepts a certificate from the client CA, not a self-made one with the same subject', async () => {
    const ok = await get(bob);
    assert.equal(ok.status, 200, ok.body);
    assert.equal((await logLine(s, String(ok.headers['x-request-id']))).principal_id, ids.bob);
    const fake = await get(bobFake);
    assert.equal(fake.status, 401);
    assert.match(fake.body, /not registered/);
  });

  it('mTLS principals are refused without a certificate', async () => {
    const r = await get(null);
    assert.equal(r.status, 401);
    assert.match(r.body, /requires an API key/);
    assert.equal((await logLine(s, String(r.headers['x-request-id']))).principal_id, null);
  });

  it('an unregistered certificate, even from the client CA, is refused', async () => {
    const r = await get(mallory);
    assert.equal(r.status, 401);
    assert.match(r.body, /client certificate .* is not registered/);
    assert.match(r.body, /gatehouse keys add-cert/);
  });

  it('an API key still works over TLS, and wins over a certificate', async () => {
    const plain = await get(null, { authorization: `Bearer ${apiKey.key}` });
    assert.equal(plain.status, 200);
    const both = await get(alice, { authorization: `Bearer ${apiKey.key}` });
    assert.equal(both.status, 200);
    assert.equal((await logLine(s, String(both.headers['x-request-id']))).principal_id, apiKey.id);
  });

  it('a revoked certificate principal is refused within a second', async () => {
    assert.equal(s.cli(['keys', 'revoke', ids.carol!]).code, 0);
    await settle();
    const r = await get(carol);
    assert.equal(r.status, 401);
    assert.match(r.body, /revoked/);
  });

  it('keys list shows certificate principals', () => {
    const r = s.cli(['keys', 'list']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /alice\s+cert\s+cert:sha256:/);
    assert.match(r.stdout, /bob\s+cert\s+cert:subject:O=Example, CN=bob/);
  });
});

describe('mTLS: client_auth: require', { skip }, () => {
  let dir: string;
  let s: Stack;
  let srv: Pair, alice: Pair, mallory: Pair, carol: Pair;
  let apiKey: string;
  const get = (c: Pair | null, headers: Record<string, string> = {}) =>
    pinnedRequest(`${s.gw.url}/api/tags`, { pin: srv.pem, pinFingerprint: srv.fingerprint256, headers, ...(c ? { clientCert: c.pem, clientKey: c.keyPem } : {}) });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-mtls-req-'));
    srv = serverCert(dir, 'server');
    const ca = clientCa(dir);
    alice = clientCert(dir, 'alice', '/CN=alice', ca);
    mallory = clientCert(dir, 'mallory', '/CN=mallory', ca);
    carol = clientCert(dir, 'carol', '/CN=carol', null);
    s = await startStack({ config: { tls: { cert: srv.cert, key: srv.key, client_auth: 'require', client_ca: ca.cert } } });
    assert.equal(s.cli(['keys', 'add-cert', '--name', 'alice', '--cert-file', alice.cert]).code, 0);
    assert.equal(s.cli(['keys', 'add-cert', '--name', 'carol', '--cert-file', carol.cert]).code, 0);
    apiKey = (await s.createKey('api')).key;
  });
  after(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a connection without a certificate is refused in the handshake, even with an API key', async () => {
    await assert.rejects(get(null, { authorization: `Bearer ${apiKey}` }), /certificate required/i);
  });

  it('a certificate not issued by tls.client_ca is refused in the handshake, even when pinned', async () => {
    // TLS 1.3: the client has sent its Finished before the server checks the chain, so it sees the reset (or the alert).
    await assert.rejects(get(carol), (err: NodeJS.ErrnoException) => /ECONNRESET|unknown ca|bad certificate|certificate unknown/i.test(`${err.code} ${err.message}`));
  });

  it('a registered certificate from the CA is a principal', async () => {
    assert.equal((await get(alice)).status, 200);
  });

  it('a CA certificate that is not registered opens the connection but is no principal; an API key then identifies the caller', async () => {
    assert.equal((await get(mallory)).status, 401);
    assert.equal((await get(mallory, { authorization: `Bearer ${apiKey}` })).status, 200);
  });
});
