import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack } from '../helpers/stack.js';
import { BASE_CONFIG, hit } from './support.js';

/**
 * Issue #23, "no side channel on filtered lists": `HEAD` on a filtered list route answers with the
 * headers of the filtered body, never the upstream's. Ollama answers `HEAD /api/tags` with the
 * Content-Length of its whole model list; forwarded as is, it told a key whose allowlist hides
 * models how large the list it may not see is (and, watched over time, when models were added).
 */
describe('no side channel on filtered lists', () => {
  let s: Stack;
  let narrow: string;
  let wide: string;
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG } });
    narrow = (await s.createKey('narrow', ['--scopes', 'models:read', '--models', 'llama3'])).key;
    wide = (await s.createKey('wide', ['--scopes', 'models:read'])).key;
  });
  after(() => s.close());

  const auth = (k: string) => ({ authorization: `Bearer ${k}` });

  it('HEAD /api/tags does not reveal the unfiltered list\'s size', async () => {
    const direct = await hit(s.emu.url, 'HEAD', '/api/tags');
    const unfiltered = Number(direct.headers['content-length']);
    assert.ok(unfiltered > 0, 'the emulator, like Ollama, sends the length of the whole list on HEAD');

    const get = await hit(s.gw.url, 'GET', '/api/tags', { headers: auth(narrow) });
    assert.equal(get.status, 200, get.body);
    const names = (JSON.parse(get.body) as { models: Array<{ name: string }> }).models.map((m) => m.name);
    assert.deepEqual(names, ['llama3:latest'], 'the allowlist hides the other models');

    s.emu.reset();
    const head = await hit(s.gw.url, 'HEAD', '/api/tags', { headers: auth(narrow) });
    assert.equal(head.status, 200);
    assert.equal(head.body, '', 'HEAD has no body');
    assert.equal(Number(head.headers['content-length']), Buffer.byteLength(get.body), 'the Content-Length of the filtered GET body');
    assert.notEqual(Number(head.headers['content-length']), unfiltered, 'not the Content-Length of Ollama\'s whole list');
    assert.equal(head.headers['content-type'], get.headers['content-type']);
    // Answered from a GET that Gatehouse filtered, not from Ollama's HEAD.
    assert.deepEqual(s.emu.requests.map((r) => `${r.method} ${r.path}`), ['GET /api/tags']);
  });

  it('HEAD /api/tags for a key that may see every model matches its GET', async () => {
    const get = await hit(s.gw.url, 'GET', '/api/tags', { headers: auth(wide) });
    const head = await hit(s.gw.url, 'HEAD', '/api/tags', { headers: auth(wide) });
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers['content-length']), Buffer.byteLength(get.body));
  });

  it('the other filtered lists have no HEAD for Gatehouse to forward (405, as in Ollama)', async () => {
    s.emu.reset();
    for (const path of ['/api/ps', '/v1/models']) {
      const r = await hit(s.gw.url, 'HEAD', path, { headers: auth(narrow) });
      assert.equal(r.status, 405, path);
    }
    assert.equal(s.emu.requests.length, 0);
  });
});

/**
 * The same class through another door: a model list that arrives compressed (an upstream or proxy
 * that gzips; Ollama itself never does) cannot be filtered, and used to be passed on whole.
 */
describe('a filtered list Gatehouse cannot read is not passed on', () => {
  let upstream: Server;
  let s: Stack;
  let narrow: string;
  const list = JSON.stringify({ models: ['llama3:latest', 'secret-model:latest', 'other:7b'].map((name) => ({ name, model: name, size: 1 })) });
  before(async () => {
    upstream = createServer((req, res) => {
      const gz = gzipSync(list);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-encoding': 'gzip', 'content-length': String(gz.length) });
      res.end(req.method === 'HEAD' ? undefined : gz);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    s = await startStack({ config: { ...BASE_CONFIG, upstream: `http://127.0.0.1:${port}` } });
    narrow = (await s.createKey('narrow', ['--scopes', 'models:read', '--models', 'llama3'])).key;
  });
  after(async () => {
    await s.close();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it('a compressed /api/tags answer is refused (502), not passed on unfiltered', async () => {
    for (const method of ['GET', 'HEAD']) {
      const r = await hit(s.gw.url, method, '/api/tags', { headers: { authorization: `Bearer ${narrow}`, 'accept-encoding': 'gzip' } });
      assert.equal(r.status, 502, `${method}: ${r.body}`);
      assert.equal(r.headers['content-encoding'], undefined, method);
      assert.equal(r.headers['x-gatehouse-error'], 'GW_ERR_UPSTREAM_BAD_RESPONSE', method);
      if (method === 'GET') assert.match(JSON.parse(r.body).error, /compressed/);
    }
  });
});
