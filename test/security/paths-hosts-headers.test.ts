import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rawSocket, send, statusOf } from '../helpers/http.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * Route, Host and header tricks from docs/threat-model.md (B3, B4, B7, E1, E2), each as a
 * named test. The gateway runs with management routes ON and the caller holds every scope, so
 * the only thing between these requests and Ollama is exact route matching and header hygiene.
 */
describe('threats: paths, hosts and headers', () => {
  let s: Stack;
  let key: string;
  const auth = () => ({ authorization: `Bearer ${key}` });

  before(async () => {
    s = await startStack({ config: { routes: { manage: true, cloud: true }, allowed_hosts: ['gw.example.com'], cors: { origins: ['https://app.example.com'] } } });
    key = (await s.createKey('all-scopes', ['--scopes', 'inference,models:read,models:manage,cloud'])).key;
  });
  after(() => s.close());

  async function refusedUnforwarded(method: string, path: string, status: number | number[], headers: Record<string, string> = auth(), body?: string) {
    s.emu.reset();
    const res = await send(s.gw.url, method, path, { headers, body });
    const want = Array.isArray(status) ? status : [status];
    assert.ok(want.includes(res.status), `${method} ${path}: got ${res.status} ${res.body}`);
    assert.equal(s.emu.requests.length, 0, `${method} ${path} reached Ollama`);
    return res;
  }

  describe('B3: public routes match exact paths only', () => {
    for (const p of ['/healthz/detailed', '/healthzevil', '/healthz/', '//healthz', '/HEALTHZ', '/healthz;x', '/readyz/../api/tags', '/%68ealthz', '/api/tags/../../healthz']) {
      it(`${p} is not public and never forwarded`, async () => {
        await refusedUnforwarded('GET', p, 404, {});
      });
    }
    it('a credential sent to a public route is ignored and not forwarded', async () => {
      s.emu.reset();
      const res = await send(s.gw.url, 'GET', '/', { headers: { authorization: 'Bearer nonsense', cookie: 'a=b' } });
      assert.equal(res.status, 200);
      assert.equal(s.emu.requests.length, 1);
      assert.equal(s.emu.requests[0]!.headers.authorization, undefined);
      assert.equal(s.emu.requests[0]!.headers.cookie, undefined);
    });
  });

  describe('B7: an allowlist of (method, exact path), not a denylist of strings', () => {
    const spellings = ['/api/pull/', '/api//pull', '//api/pull', '/API/pull', '/api/Pull', '/api/%70ull', '/api/pul%6c', '/api/%2e%2e/api/pull', '/api/./pull', '/api/x/../pull', '/api/pull;x', '/api/pull%00', '/api/pull%2F', '/api\\pull', '/./api/pull'];
    for (const p of spellings) {
      it(`POST ${p} → 404, nothing forwarded`, async () => {
        await refusedUnforwarded('POST', p, 404, auth(), JSON.stringify({ model: 'llama3' }));
      });
    }
    for (const m of ['HEAD', 'PUT', 'PATCH', 'GET', 'OPTIONS']) {
      it(`${m} /api/pull → 405 (or 403 preflight without an allowed origin), nothing forwarded`, async () => {
        await refusedUnforwarded(m, '/api/pull', 405);
      });
    }
    it('the query string is stripped: Ollama sees the matched route only', async () => {
      s.emu.reset();
      const res = await send(s.gw.url, 'GET', '/api/tags?insecure=true&name=../../x', { headers: auth() });
      assert.equal(res.status, 200);
      assert.equal(s.emu.requests.length, 1);
      assert.equal(s.emu.requests[0]!.url, '/api/tags');
    });
    it('percent-encoding is accepted only inside the /v1/models/:model segment, and forwarded canonically', async () => {
      s.emu.reset();
      const res = await send(s.gw.url, 'GET', '/v1/models/llama3%3Alatest', { headers: auth() });
      assert.equal(res.status, 200, res.body);
      assert.equal(s.emu.requests[0]!.url, '/v1/models/llama3:latest');
      await refusedUnforwarded('GET', '/v1/models/llama3%2F..%2Fx', 404);
    });
  });

  describe('B4 / E1 / E2: the Host header', () => {
    const bad: Array<[string, number]> = [
      ['localhost:4000/#@attacker.example', 400],
      ['gw.example.com@evil.example', 400],
      [':11435', 400],
      ['evil.example', 403],
      ['attacker.rebind.example:11435', 403],
      ['gw.example.com.evil.example', 403],
    ];
    for (const [host, status] of bad) {
      it(`Host ${JSON.stringify(host)} → ${status}, nothing forwarded`, async () => {
        await refusedUnforwarded('GET', '/api/tags', status, { ...auth(), host });
      });
    }
    it('an empty Host header (E2) → 400, nothing forwarded', async () => {
      s.emu.reset();
      const raw = await rawSocket(s.gw.url, `GET /api/tags HTTP/1.1\r\nHost: \r\nAuthorization: Bearer ${key}\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(raw), 400, raw);
      assert.equal(s.emu.requests.length, 0);
    });
    it('HTTP/1.1 without any Host header → 400, nothing forwarded', async () => {
      s.emu.reset();
      const raw = await rawSocket(s.gw.url, `GET /api/tags HTTP/1.1\r\nAuthorization: Bearer ${key}\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(raw), 400, raw);
      assert.equal(s.emu.requests.length, 0);
    });
    it('allowed host names and IP literals pass, and Ollama gets its own Host, not the client\'s', async () => {
      for (const host of ['gw.example.com', 'GW.EXAMPLE.COM:443', '127.0.0.1:1', '[::1]:8080', 'localhost']) {
        s.emu.reset();
        const res = await send(s.gw.url, 'GET', '/api/tags', { headers: { ...auth(), host } });
        assert.equal(res.status, 200, `${host}: ${res.body}`);
        assert.equal(s.emu.requests[0]!.headers.host, new URL(s.emu.url).host);
      }
    });
  });

  describe('header hygiene', () => {
    it('credentials, cookies, Origin and forwarding headers never reach Ollama', async () => {
      s.emu.reset();
      const res = await send(s.gw.url, 'POST', '/api/chat', {
        headers: {
          'x-api-key': key, authorization: `Bearer ${key}`, cookie: 'session=1', origin: 'https://app.example.com', 'x-forwarded-for': '1.2.3.4',
          'proxy-authorization': 'Basic eA==', connection: 'x-secret', 'x-secret': 'hop-by-hop', 'content-type': 'application/json',
        },
        body: JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: false }),
      });
      assert.equal(res.status, 200, res.body);
      const h = s.emu.requests[0]!.headers;
      for (const name of ['authorization', 'x-api-key', 'cookie', 'origin', 'x-forwarded-for', 'proxy-authorization', 'x-secret']) assert.equal(h[name], undefined, name);
      assert.match(String(h['x-request-id']), /^req_/);
      assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
    });
    it('a browser origin that is not allowed is refused before anything else', async () => {
      await refusedUnforwarded('POST', '/api/chat', 403, { ...auth(), origin: 'https://evil.example' }, '{}');
    });
    it('CORS preflights are answered by Gatehouse, never forwarded', async () => {
      s.emu.reset();
      const res = await send(s.gw.url, 'OPTIONS', '/api/chat', { headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
      assert.equal(res.status, 204);
      assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
      assert.match(String(res.headers['access-control-allow-headers']), /authorization/);
      assert.equal(s.emu.requests.length, 0);
      await refusedUnforwarded('OPTIONS', '/api/chat', 403, { origin: 'https://evil.example', 'access-control-request-method': 'POST' });
    });
  });
});
