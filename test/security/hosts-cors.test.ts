import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rawSocket } from '../helpers/http.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { BASE_CONFIG, hit, statuses } from './support.js';

/**
 * docs/threat-model.md E1–E3 (DNS rebinding, empty Host, "same-origin" checks) and CORS preflight abuse.
 * A browser tricked by a rebinding domain still sends that domain as Host, so the Host allowlist
 * is the defence; and no Origin is trusted unless the operator listed it, same-origin or not.
 */

describe('threats E1/E2: DNS-rebinding Host values', () => {
  let s: Stack;
  let key: string;
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG, allowed_hosts: ['gw.example.com', '*.corp.example'] } });
    key = (await s.createKey('k', ['--scopes', 'inference,models:read'])).key;
  });
  after(() => s.close());

  const refusedHosts: Array<[string, number]> = [
    ['rebind.attacker.example', 403], ['127.0.0.1.nip.io', 403], ['localhost.attacker.example', 403], ['gw.example.com.attacker.example', 403],
    ['attacker-gw.example.com', 403], ['corp.example', 403], ['evil-corp.example', 403], ['0x7f000001', 403], ['2130706433', 403], ['127.1', 403],
    ['0177.0.0.1', 403], ['xn--gw-example-4b.com', 403], ['ollama', 403], ['gw', 403],
    ['gw.example.com:99999', 400], ['gw.example.com:-1', 400], ['gw.example.com:443:443', 400], ['gw.example.com:', 400], [':', 400], [':11435', 400],
    ['gw.example.com/', 400], ['gw.example.com/#@evil.example', 400], ['user@gw.example.com', 400], ['gw.example.com?x', 400], ['gw.example.com#x', 400],
    ['gw_example.com', 400], ['gw example.com', 400], ['%67w.example.com', 400], ['gw.example.com,evil.example', 400], ['[::1', 400], ['[::1]x', 400],
    ['[evil.example]', 400], ['[::1]:', 400], ['-gw.example.com', 400], ['gw..example.com', 400], ['.', 400], ['a'.repeat(300), 400],
  ];
  for (const [host, status] of refusedHosts) {
    it(`E1: Host ${JSON.stringify(host.length > 40 ? host.slice(0, 20) + '…' : host)} → ${status}, nothing forwarded`, async () => {
      s.emu.reset();
      const r = await hit(s.gw.url, 'GET', '/api/tags', { headers: { authorization: `Bearer ${key}`, host } });
      assert.equal(r.status, status, r.body);
      assert.equal(s.emu.requests.length, 0);
    });
  }

  it('E1: IP literals, localhost names and the listed names are accepted', async () => {
    for (const host of ['127.0.0.1', '127.0.0.1:11435', '[::1]', '[::ffff:127.0.0.1]:80', '10.0.0.5', 'localhost', 'LOCALHOST:1', 'app.localhost', 'gw.example.com', 'GW.Example.COM.', 'a.corp.example', 'x.y.corp.example:8443']) {
      const r = await hit(s.gw.url, 'GET', '/api/tags', { headers: { authorization: `Bearer ${key}`, host } });
      assert.equal(r.status, 200, `${host}: ${r.body}`);
    }
  });

  it('E2: empty, whitespace-only and missing Host headers → 400 (and HTTP/1.0 without Host too)', async () => {
    for (const line of ['Host: \r\n', 'Host:\r\n', 'Host: \t\r\n', '']) {
      s.emu.reset();
      const raw = await rawSocket(s.gw.url, `GET /api/tags HTTP/1.1\r\n${line}Authorization: Bearer ${key}\r\nConnection: close\r\n\r\n`);
      assert.equal(statuses(raw)[0], 400, `${JSON.stringify(line)}: ${raw.slice(0, 120)}`);
      assert.equal(s.emu.requests.length, 0);
    }
    const raw10 = await rawSocket(s.gw.url, `GET /api/tags HTTP/1.0\r\nAuthorization: Bearer ${key}\r\n\r\n`);
    assert.equal(statuses(raw10)[0], 400, raw10.slice(0, 120));
    assert.equal(s.emu.requests.length, 0);
  });

  it('E1: the public routes are behind the Host allowlist too (a rebinding page cannot even probe them)', async () => {
    for (const p of ['/', '/healthz', '/readyz']) {
      const r = await hit(s.gw.url, 'GET', p, { headers: { host: 'rebind.attacker.example' } });
      assert.equal(r.status, 403, p);
    }
  });
});

describe('threats E3 and CORS preflight abuse', () => {
  let s: Stack;
  let off: Stack;
  let key: string;
  const APP = 'https://app.example.com';
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG, cors: { origins: [APP] } } });
    off = await startStack({ config: { ...BASE_CONFIG } });
    key = (await s.createKey('k', ['--scopes', 'inference,models:read'])).key;
  });
  after(async () => {
    await s.close();
    await off.close();
  });

  it('E3: with CORS off, an Origin equal to the gateway\'s own host ("same-origin") is still refused', async () => {
    const offKey = (await off.createKey('k', ['--scopes', 'inference,models:read'])).key;
    const self = new URL(off.gw.url);
    for (const origin of [`http://${self.host}`, `http://localhost:${self.port}`, `http://127.0.0.1`, 'null', `https://${self.host}`]) {
      off.emu.reset();
      const r = await hit(off.gw.url, 'POST', '/api/chat', { headers: { authorization: `Bearer ${offKey}`, origin }, body: '{"model":"llama3","messages":[]}' });
      assert.equal(r.status, 403, `${origin}: ${r.status}`);
      assert.equal(r.headers['access-control-allow-origin'], undefined);
      assert.equal(off.emu.requests.length, 0);
    }
  });

  it('E3: Gatehouse never sets a cookie and never grants credentialed CORS', async () => {
    const r = await hit(s.gw.url, 'POST', '/api/chat', { headers: { authorization: `Bearer ${key}`, origin: APP }, body: '{"model":"llama3","messages":[],"stream":false}' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['set-cookie'], undefined);
    assert.notEqual(r.headers['access-control-allow-credentials'], 'true');
    assert.equal(r.headers['access-control-allow-origin'], APP);
    assert.match(String(r.headers.vary), /origin/i);
  });

  const LOOKALIKES = [
    'https://app.example.com.evil.example', 'https://evilapp.example.com', 'https://app.example.com:8443', 'http://app.example.com', 'https://app.example.com/',
    'https://app.example.com@evil.example', 'https://evil.example#https://app.example.com', 'https://app.example.co', 'null', 'file://', `${APP} https://evil.example`,
    `${APP}, https://evil.example`, 'https://app%2Eexample.com', 'https://xn--app-example-7b.com', '*', '',
  ];
  for (const origin of LOOKALIKES) {
    it(`CORS: preflight from ${JSON.stringify(origin)} is refused, without any Access-Control grant`, async () => {
      s.emu.reset();
      const r = await hit(s.gw.url, 'OPTIONS', '/api/chat', { headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });
      assert.equal(r.status, 403, r.body);
      for (const h of Object.keys(r.headers)) assert.ok(!h.startsWith('access-control-'), `${h} granted`);
      assert.equal(s.emu.requests.length, 0);
    });
  }

  it('CORS: two Origin headers are not read as the allowed one', async () => {
    s.emu.reset();
    const r = await hit(s.gw.url, 'POST', '/api/chat', { headers: ['origin', APP, 'origin', 'https://evil.example', 'authorization', `Bearer ${key}`], body: '{"model":"llama3","messages":[]}' });
    assert.equal(r.status, 403, r.body);
    assert.equal(s.emu.requests.length, 0);
  });

  it('CORS: preflights are answered by Gatehouse only for real (method, route) pairs, and never forwarded or authenticated', async () => {
    const cases: Array<[string, string, number]> = [
      ['/api/chat', 'POST', 204], ['/api/chat', 'PUT', 404], ['/api/chat', 'GET', 404], ['/api/pull/', 'POST', 404], ['/admin', 'GET', 404], ['/api/tags', 'GET', 204], ['/api/tags', 'TRACE', 404],
    ];
    for (const [path, method, status] of cases) {
      s.emu.reset();
      const r = await hit(s.gw.url, 'OPTIONS', path, { headers: { origin: APP, 'access-control-request-method': method } });
      assert.equal(r.status, status, `${method} ${path}: ${r.body}`);
      assert.equal(s.emu.requests.length, 0);
      if (status === 204) {
        assert.equal(r.headers['access-control-allow-origin'], APP);
        assert.equal(r.headers['access-control-allow-credentials'], undefined);
        assert.equal(r.headers['access-control-allow-private-network'], undefined, 'no Private Network Access grant');
        assert.doesNotMatch(String(r.headers['access-control-allow-methods']), /PUT|PATCH|TRACE|CONNECT|\*/);
        assert.notEqual(r.headers['access-control-allow-headers'], '*');
      }
    }
  });

  it('CORS: a Private Network Access preflight gets no grant to reach a loopback gateway', async () => {
    const r = await hit(s.gw.url, 'OPTIONS', '/api/chat', { headers: { origin: APP, 'access-control-request-method': 'POST', 'access-control-request-private-network': 'true' } });
    assert.equal(r.headers['access-control-allow-private-network'], undefined);
  });

  it('CORS: a preflight flood is answered locally and costs Ollama nothing', async () => {
    s.emu.reset();
    const replies = await Promise.all(Array.from({ length: 200 }, () => hit(s.gw.url, 'OPTIONS', '/api/chat', { headers: { origin: APP, 'access-control-request-method': 'POST' } })));
    assert.ok(replies.every((r) => r.status === 204));
    assert.equal(s.emu.requests.length, 0);
  });

  it('CORS: an allowed origin still needs a key; the refusal is readable by the page but grants nothing else', async () => {
    s.emu.reset();
    const r = await hit(s.gw.url, 'POST', '/api/chat', { headers: { origin: APP }, body: '{"model":"llama3","messages":[]}' });
    assert.equal(r.status, 401);
    assert.equal(r.headers['access-control-allow-origin'], APP);
    assert.equal(s.emu.requests.length, 0);
  });
});
