import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack } from '../helpers/stack.js';
import { BASE_CONFIG, hit } from './support.js';

/**
 * docs/threat-model.md C1 (client-chosen upstream: `api_base`, custom host headers) and C2 (SSRF through
 * redirects), plus response-header hygiene: Gatehouse talks only to the configured upstream,
 * never follows its redirects, and never lets it set cookies or CORS grants on the client.
 */

interface Recorder {
  server: Server;
  url: string;
  seen: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }>;
}

async function listen(handler: (req: IncomingMessage, res: import('node:http').ServerResponse, rec: Recorder) => void): Promise<Recorder> {
  const rec = { seen: [] } as unknown as Recorder;
  rec.server = createServer((req, res) => {
    rec.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => handler(req, res, rec));
  });
  await new Promise<void>((r) => rec.server.listen(0, '127.0.0.1', r));
  rec.url = `http://127.0.0.1:${(rec.server.address() as AddressInfo).port}`;
  return rec;
}

describe('threats C1/C2: Gatehouse only ever talks to the configured upstream', () => {
  let attacker: Recorder;
  let upstream: Recorder;
  let s: Stack;
  let key: string;

  before(async () => {
    attacker = await listen((_req, res) => res.end('stolen'));
    // A misbehaving (or compromised) upstream: redirects, cookies, CORS grants, hop-by-hop tricks.
    upstream = await listen((req, res) => {
      const to = `${attacker.url}/steal${req.url}`;
      switch (req.url) {
        case '/api/tags': res.writeHead(302, { location: to }); return res.end();
        case '/api/version': res.writeHead(307, { location: to }); return res.end();
        case '/api/ps': res.writeHead(308, { location: to }); return res.end();
        case '/api/show': res.writeHead(301, { location: to, 'content-type': 'application/json' }); return res.end('{}');
        default:
          res.writeHead(200, {
            'content-type': 'application/json', 'set-cookie': 'session=upstream; Path=/', 'access-control-allow-origin': '*', 'access-control-allow-credentials': 'true',
            'access-control-allow-headers': '*', server: 'ollama-internal/1.2.3', connection: 'x-internal', 'x-internal': 'topology',
            'proxy-authenticate': 'Basic realm="internal"',
          });
          return res.end('{"model":"llama3","message":{"role":"assistant","content":"hi"},"done":true}');
      }
    });
    s = await startStack({ config: { ...BASE_CONFIG, upstream: upstream.url, cors: { origins: ['https://app.example.com'] } } });
    key = (await s.createKey('k', ['--scopes', 'inference,models:read'])).key;
  });
  after(async () => {
    await s.close();
    await new Promise((r) => attacker.server.close(r));
    await new Promise((r) => upstream.server.close(r));
  });

  it('C2: upstream redirects (301/302/307/308) are never followed', async () => {
    for (const [m, p, body] of [['GET', '/api/tags'], ['GET', '/api/version'], ['GET', '/api/ps'], ['POST', '/api/show', '{"model":"llama3"}']] as Array<[string, string, string?]>) {
      const r = await hit(s.gw.url, m, p, { headers: { authorization: `Bearer ${key}` }, body });
      assert.ok(r.status >= 300 && r.status < 600, `${p}: ${r.status}`);
      assert.notEqual(r.body, 'stolen');
    }
    assert.equal(attacker.seen.length, 0, `the attacker's server was contacted: ${JSON.stringify(attacker.seen.map((x) => x.url))}`);
  });

  it('C1: api_base, base_url and custom host headers cannot choose the upstream', async () => {
    upstream.seen.length = 0;
    const r = await hit(s.gw.url, 'POST', '/api/chat', {
      headers: {
        authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-forwarded-host': new URL(attacker.url).host, forwarded: `host=${new URL(attacker.url).host}`,
        'x-ollama-host': attacker.url, 'x-upstream': attacker.url, 'x-target-url': attacker.url, 'x-original-url': `${attacker.url}/api/chat`, 'x-rewrite-url': '/api/pull',
      },
      body: JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'x' }], stream: false, api_base: attacker.url, base_url: attacker.url, host: attacker.url }),
    });
    assert.equal(r.status, 200, r.body);
    assert.equal(attacker.seen.length, 0);
    assert.equal(upstream.seen.length, 1);
    const h = upstream.seen[0]!.headers;
    assert.equal(upstream.seen[0]!.url, '/api/chat');
    assert.equal(h.host, new URL(upstream.url).host, 'Ollama gets its own Host');
    for (const name of ['x-forwarded-host', 'forwarded']) assert.equal(h[name], undefined, `${name} was forwarded`);
  });

  it('C1: a Host naming another server is refused, not proxied to it', async () => {
    upstream.seen.length = 0;
    const r = await hit(s.gw.url, 'POST', '/api/chat', { headers: { authorization: `Bearer ${key}`, host: new URL(attacker.url).host }, body: JSON.stringify({ model: 'llama3', messages: [], stream: false }) });
    assert.equal(r.status, 200, 'an IP literal Host is accepted (rebinding cannot forge it) …');
    assert.equal(upstream.seen.length, 1);
    assert.equal(attacker.seen.length, 0, '… but never used as a destination');
  });

  it('response hygiene: upstream cookies, CORS grants, Server and Connection-listed headers never reach the client', async () => {
    for (const origin of [undefined, 'https://app.example.com']) {
      const r = await hit(s.gw.url, 'POST', '/api/chat', { headers: { authorization: `Bearer ${key}`, ...(origin ? { origin } : {}) }, body: JSON.stringify({ model: 'llama3', messages: [], stream: false }) });
      assert.equal(r.status, 200, r.body);
      for (const name of ['set-cookie', 'access-control-allow-credentials', 'access-control-allow-headers', 'x-internal', 'proxy-authenticate']) {
        assert.equal(r.headers[name], undefined, `${name} reached the client`);
      }
      assert.ok(!String(r.headers.server ?? '').includes('ollama-internal'), 'the upstream Server header leaked');
      assert.equal(r.headers['access-control-allow-origin'], origin, 'CORS grants come from Gatehouse alone');
    }
  });
});
