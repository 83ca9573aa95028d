import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { send } from '../helpers/http.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * docs/threat-model.md C3 (Probllama, registry SSRF and token theft via /api/pull), D1 (Bleeding Llama via
 * blobs + create + push), D2/D3 (create reading server files): with management switched on, each
 * dangerous request shape is refused with its reason, and nothing reaches Ollama.
 */
describe('management routes, switched on, stay safe', () => {
  let s: Stack;
  let admin: string;
  let limited: string;

  before(async () => {
    s = await startStack({ config: { routes: { manage: true }, manage: { remote_hosts: ['models.internal.example'] } } });
    admin = (await s.createKey('admin', ['--scopes', 'models:manage,models:read'])).key;
    limited = (await s.createKey('ops', ['--scopes', 'models:manage', '--models', 'qwen2.5:*'])).key;
  });
  after(() => s.close());

  async function refused(path: string, body: unknown, pattern: RegExp, key = admin, status = 400) {
    s.emu.reset();
    const res = await send(s.gw.url, path === '/api/delete' ? 'DELETE' : 'POST', path, { headers: { authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
    assert.equal(res.status, status, res.body);
    assert.match(JSON.parse(res.body).error, pattern);
    assert.equal(s.emu.requests.length, 0, 'nothing may reach Ollama');
  }

  it('C3: pull from a registry that is not allowlisted', () => refused('/api/pull', { model: 'evil.example.com/x/y:latest' }, /registry "evil\.example\.com" is not allowed/));
  it('C3: hf.co is opt-in', () => refused('/api/pull', { model: 'hf.co/org/repo:q4' }, /hf\.co/));
  it('C3: insecure pulls', () => refused('/api/pull', { model: 'llama3', insecure: true }, /insecure/));
  it('C3: model names with a scheme, @, .., backslash or control characters', async () => {
    for (const model of ['http://evil.example/x/y', 'llama3@sha256:abcd', '../../../etc/passwd', 'a\\b', 'llama3\u0000']) {
      await refused('/api/pull', { model }, /invalid model name/);
    }
  });
  it('C3: the name field is checked as well as model', () => refused('/api/pull', { name: 'evil.example.com/x/y' }, /not allowed/));
  it('D1: push to a registry that is not allowlisted', () => refused('/api/push', { model: 'attacker.example/ns/leak:latest' }, /pushing to registry/));
  it('D3: create naming server files (path, modelfile)', async () => {
    await refused('/api/create', { model: 'x', path: '/etc/passwd' }, /may not name files/);
    await refused('/api/create', { model: 'x', modelfile: 'FROM /etc/shadow' }, /may not name files/);
  });
  it('D1: create with files that are not blob digests, or with directory names', async () => {
    await refused('/api/create', { model: 'x', files: { 'm.gguf': '/etc/passwd' } }, /must be a blob digest/);
    await refused('/api/create', { model: 'x', files: { '../m.gguf': `sha256:${'a'.repeat(64)}` } }, /plain name/);
  });
  it('create from a model in a foreign registry would pull it: refused', () => refused('/api/create', { model: 'x', from: 'evil.example/ns/m' }, /creating from a model in registry/));
  it('create with a remote_host outside manage.remote_hosts', async () => {
    await refused('/api/create', { model: 'x', from: 'llama3', remote_host: 'http://169.254.169.254' }, /remote_host .* is not allowed/);
    s.emu.reset();
    const ok = await send(s.gw.url, 'POST', '/api/create', { headers: { authorization: `Bearer ${admin}` }, body: JSON.stringify({ model: 'x', from: 'llama3', remote_host: 'https://models.internal.example', stream: false }) });
    assert.ok(s.emu.requests.length === 1, ok.body);
  });
  it('invalid blob digests never reach Ollama', async () => {
    s.emu.reset();
    for (const d of ['sha256:xyz', `sha256:${'a'.repeat(63)}`, `sha512:${'a'.repeat(64)}`, `sha256:${'a'.repeat(64)}/../x`]) {
      const res = await send(s.gw.url, 'POST', `/api/blobs/${d}`, { headers: { authorization: `Bearer ${admin}` }, body: 'x' });
      assert.ok(res.status === 400 || res.status === 404, `${d}: ${res.status}`);
    }
    assert.equal(s.emu.requests.length, 0);
  });
  it('a models:manage key may pull or delete only models on its own allowlist', async () => {
    await refused('/api/pull', { model: 'llama3' }, /not found/, limited, 404);
    await refused('/api/delete', { model: 'llama3' }, /not found/, limited, 404);
    s.emu.reset();
    const ok = await send(s.gw.url, 'POST', '/api/pull', { headers: { authorization: `Bearer ${limited}` }, body: JSON.stringify({ model: 'qwen2.5:7b', stream: false }) });
    assert.equal(ok.status, 200, ok.body);
  });
  it('C3: insecure in any spelling Go reads (Insecure, INSECURE, in\u017fecure) or any non-false value is refused', async () => {
    for (const body of [{ Insecure: true }, { INSECURE: true }, { 'in\u017fecure': true }, { insecure: null }, { insecure: 'true' }, { insecure: 1 }]) {
      await refused('/api/pull', { model: 'llama3', ...body }, /insecure|Insecure|INSECURE|\u017f/);
    }
  });
  it('C3: registry hosts are compared exactly: ports, trailing dots, IPs and metadata addresses are other registries', async () => {
    for (const model of ['registry.ollama.ai:443/library/llama3', 'registry.ollama.ai./library/llama3', '127.0.0.1:11434/x/y', '169.254.169.254/latest/meta-data', '[::1]/x/y', 'localhost/x/y']) {
      s.emu.reset();
      const res = await send(s.gw.url, 'POST', '/api/pull', { headers: { authorization: `Bearer ${admin}` }, body: JSON.stringify({ model }) });
      assert.equal(res.status, 400, `${model}: ${res.body}`);
      assert.equal(s.emu.requests.length, 0, model);
    }
  });
  it('C3: with both model and name, the registry Ollama will use (cmp.Or: model first) is the one checked', async () => {
    await refused('/api/pull', { model: '', name: 'evil.example/x/y' }, /evil\.example/);
    s.emu.reset();
    const ok = await send(s.gw.url, 'POST', '/api/pull', { headers: { authorization: `Bearer ${admin}` }, body: JSON.stringify({ model: 'llama3', name: 'evil.example/x/y', stream: false }) });
    assert.equal(ok.status, 200, ok.body);
    assert.equal((s.emu.requests[0]!.json as { model: string }).model, 'llama3', 'Ollama pulls the model field');
  });
  it('D3: create "from" a file path or URL is refused as an invalid model name', async () => {
    for (const from of ['/etc/passwd', './model.gguf', '../x', 'file:///etc/passwd', 'C:\\models\\x.gguf', '~/.ollama/id_ed25519']) {
      await refused('/api/create', { model: 'x', from }, /invalid model name/);
    }
  });
  it('D1: create file maps: backslashes, NUL, array instead of map, upper-case digests are refused', async () => {
    const d = `sha256:${'a'.repeat(64)}`;
    await refused('/api/create', { model: 'x', files: { 'C:\\x.gguf': d } }, /plain name/);
    await refused('/api/create', { model: 'x', files: { 'a\u0000.gguf': d } }, /plain name/);
    await refused('/api/create', { model: 'x', files: [d] }, /must map file names/);
    await refused('/api/create', { model: 'x', files: { 'm.gguf': d.toUpperCase() } }, /blob digest/);
    await refused('/api/create', { model: 'x', Files: { '../m.gguf': d } }, /must be spelled "files"/);
  });
  it('create remote_host: the URL\'s real host is checked (userinfo, fragments and suffixes do not fool it)', async () => {
    for (const remote of ['https://models.internal.example@evil.example', 'https://evil.example#@models.internal.example', 'https://models.internal.example.evil.example', 'file:///models.internal.example', 'http://[::1]', 'models.internal.example']) {
      await refused('/api/create', { model: 'x', from: 'llama3', remote_host: remote }, /remote_host/);
    }
    await refused('/api/create', { model: 'x', from: 'llama3', REMOTE_HOST: 'http://evil.example' }, /must be spelled "remote_host"/);
    await refused('/api/create', { model: 'x', from: 'llama3', remote_host: ['http://evil.example'] }, /must be a string/);
  });
  it('an allowed pull streams its progress through', async () => {
    s.emu.reset();
    const res = await send(s.gw.url, 'POST', '/api/pull', { headers: { authorization: `Bearer ${admin}` }, body: JSON.stringify({ model: 'llama3' }) });
    assert.equal(res.status, 200);
    assert.match(res.body.trim().split('\n').at(-1)!, /"status":"success"/);
  });
});
