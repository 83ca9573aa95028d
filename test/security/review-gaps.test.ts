import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { principalFromRecord } from '../../src/auth/principal.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { GatewayError } from '../../src/core/errors.js';
import { inspectJsonText } from '../../src/policy/inspect-request.js';
import { RequestPolicy } from '../../src/policy/request-policy.js';
import { ROUTES } from '../../src/routes/table.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { BASE_CONFIG, hit } from './support.js';

/**
 * Regression tests for the findings of the first adversarial review (each failed before its fix).
 * Named after the finding; the fix is described beside each.
 */

describe('finding 1 (high): duplicate JSON keys read differently by Go', () => {
  // Fix: the gateway forwards its own serialization of the body it checked, never the raw bytes.
  let s: Stack;
  let key: string;
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG, routes: { manage: true }, clamps: { max_num_ctx: 4096 }, manage: { remote_hosts: ['models.internal.example'] } } });
    key = (await s.createKey('llama3-only', ['--scopes', 'inference,models:read,models:manage', '--models', 'llama3,x'])).key;
  });
  after(() => s.close());

  const cases: Array<[string, string, string, (j: Record<string, unknown>) => void]> = [
    ['POST', '/api/show', '{"model":"mistral","model":null,"name":"llama3"}', (j) => assert.equal(j.model ?? null, null)],
    ['DELETE', '/api/delete', '{"model":"mistral","model":null,"name":"llama3"}', (j) => assert.equal(j.model ?? null, null)],
    ['POST', '/api/pull', '{"model":"evil.example/x/y","model":null,"name":"llama3","stream":false}', (j) => assert.equal(j.model ?? null, null)],
    ['POST', '/api/push', '{"model":"attacker.example/ns/leak","model":null,"name":"llama3","stream":false}', (j) => assert.equal(j.model ?? null, null)],
    ['POST', '/api/create', '{"model":"x","from":"evil.example/ns/m","from":null,"stream":false}', (j) => assert.equal(j.from ?? null, null)],
    ['POST', '/api/create', '{"model":"x","from":"llama3","remote_host":"http://169.254.169.254","remote_host":null,"stream":false}', (j) => assert.equal(j.remote_host ?? null, null)],
    ['POST', '/api/embed', '{"model":"llama3","input":"x","options":{"num_ctx":1000000,"num_gpu":0},"options":{"temperature":0}}', (j) => assert.deepEqual(j.options, { temperature: 0 })],
    ['POST', '/api/embeddings', '{"model":"llama3","prompt":"x","options":{"num_ctx":1000000},"options":{}}', (j) => assert.deepEqual(j.options, {})],
  ];
  for (const [method, path, body, check] of cases) {
    it(`${method} ${path} ${body}: Ollama gets exactly what was checked`, async () => {
      s.emu.reset();
      await hit(s.gw.url, method, path, { headers: { authorization: `Bearer ${key}` }, body });
      for (const r of s.emu.requests) {
        const text = r.body.toString('utf8');
        assert.ok(!/"(model|from|remote_host|options)":[^,}]*,[^}]*"\1":/.test(text), `duplicate key forwarded: ${text}`);
        check(JSON.parse(text) as Record<string, unknown>);
      }
    });
  }
});

describe('findings 2, 5, 6, 7, 8: request shapes that slipped past policy', () => {
  let s: Stack;
  let key: string;
  let manage: string;
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG, routes: { manage: true } } });
    key = (await s.createKey('llama3-only', ['--scopes', 'inference', '--models', 'llama3'])).key;
    manage = (await s.createKey('manage', ['--scopes', 'models:manage'])).key;
  });
  after(() => s.close());

  for (const disp of ['name=model', "name*=UTF-8''model", 'NAME=model']) {
    it(`finding 2: multipart "${disp}" (read by Go's FormValue) is not a way around the allowlist`, async () => {
      const B = 'xYz';
      const body = Buffer.from(
        `--${B}\r\nContent-Disposition: form-data; ${disp}\r\n\r\nmistral\r\n--${B}\r\nContent-Disposition: form-data; name="model"\r\n\r\nllama3\r\n--${B}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF0000WAVE\r\n--${B}--\r\n`,
      );
      s.emu.reset();
      const r = await hit(s.gw.url, 'POST', '/v1/audio/transcriptions', { headers: { authorization: `Bearer ${key}`, 'content-type': `multipart/form-data; boundary=${B}` }, body });
      assert.ok(r.status >= 400, `${r.status} ${r.body}`);
      assert.equal(s.emu.requests.length, 0);
    });
  }

  for (const body of [{ model: 'x', draft_files: { '../m.gguf': '/etc/passwd' } }, { model: 'x', Path: '/etc/passwd' }, { model: 'x', MODELFILE: 'FROM /etc/shadow' }, { model: 'x', 'quantization_\u017fource': '/etc/passwd' }]) {
    it(`findings 5/6: create ${JSON.stringify(body)} is refused`, async () => {
      s.emu.reset();
      const r = await hit(s.gw.url, 'POST', '/api/create', { headers: { authorization: `Bearer ${manage}` }, body: JSON.stringify(body) });
      assert.equal(r.status, 400, r.body);
      assert.equal(s.emu.requests.length, 0);
    });
  }

  it('finding 7: a key pasted into the URL path is not written to the log', async () => {
    await hit(s.gw.url, 'GET', `/${key}/api/tags`);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!s.gw.logs().includes(key));
  });

  it('finding 8: two Authorization headers are refused, not first-wins', async () => {
    s.emu.reset();
    const r = await hit(s.gw.url, 'POST', '/api/chat', { headers: ['authorization', `Bearer ${key}`, 'authorization', 'Bearer other'], body: '{"model":"llama3","messages":[],"stream":false}' });
    assert.equal(r.status, 401);
    assert.equal(s.emu.requests.length, 0);
  });
});

describe('findings 3 and 4: clamps read values the way Go does', () => {
  const policy = new RequestPolicy(ConfigSchema.parse({}).clamps);
  const user = principalFromRecord({
    id: 'u', name: 'u', kind: 'api_key', hash: 'h', hint: null, fingerprint: null, publicKey: null, scopes: ['inference'], models: null,
    limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, policyId: null, createdAt: 0, expiresAt: null, revokedAt: null, lastUsedAt: null, updatedAt: 0, version: 1,
  });
  const route = (id: string) => ROUTES.find((r) => r.id === id)!;
  const apply = (id: string, text: string) => {
    const i = inspectJsonText(route(id), text);
    if (i instanceof GatewayError) return i;
    const r = policy.apply(route(id), i.body, user, text.length);
    return r instanceof GatewayError ? r : 'ok';
  };

  for (const ka of ['1e-10', '"0.5ns"', '"0.9ns"', '5e-10']) {
    it(`finding 3: keep_alive ${ka} truncates to 0 ns in Go (unload) and needs models:manage`, () => {
      const r = apply('generate', `{"model":"llama3","prompt":"","keep_alive":${ka}}`);
      assert.ok(r instanceof GatewayError && r.status === 403);
    });
  }
  it('finding 4: an Anthropic image block with "Type" is refused (Go reads it as type)', () => {
    const img = { Type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'aGk=' } };
    assert.ok(apply('anthropic.messages', JSON.stringify({ model: 'llama3', max_tokens: 5, messages: [{ role: 'user', content: Array.from({ length: 40 }, () => img) }] })) instanceof GatewayError);
  });
  it('finding 4: Responses image parts with "TYPE" are refused, and plain ones are counted', () => {
    const odd = '{"TYPE":"input_image","image_url":"data:image/png;base64,aGk="}';
    assert.ok(apply('openai.responses', `{"model":"llama3","input":[{"type":"message","role":"user","content":[${Array(40).fill(odd).join(',')}]}]}`) instanceof GatewayError);
    const plain = '{"type":"input_image","image_url":"data:image/png;base64,aGk="}';
    assert.ok(apply('openai.responses', `{"model":"llama3","input":[{"type":"message","role":"user","content":[${Array(40).fill(plain).join(',')}]}]}`) instanceof GatewayError);
    assert.ok(apply('openai.responses', `{"model":"llama3","input":[${Array(40).fill(plain).join(',')}]}`) instanceof GatewayError);
  });
});
