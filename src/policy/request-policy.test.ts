import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { principalFromRecord } from '../auth/principal.js';
import { GatewayError } from '../core/errors.js';
import { ROUTES } from '../routes/table.js';
import type { KeyRecord } from '../store/types.js';
import { parseRequestBody, type JsonObject } from './json-body.js';
import { RequestPolicy } from './request-policy.js';

const clamps = { max_num_ctx: 8192, max_num_predict: 1000, max_keep_alive: 600_000, max_images: 2, max_embed_inputs: 3 };
const policy = new RequestPolicy(clamps);
const route = (id: string) => ROUTES.find((r) => r.id === id)!;
function principal(over: Partial<KeyRecord> = {}) {
  return principalFromRecord({
    id: 'key_x', name: 'x', kind: 'api_key', hash: 'h', hint: null, fingerprint: null, publicKey: null, scopes: ['inference'], models: null,
    limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, policyId: null, createdAt: 0, expiresAt: null, revokedAt: null, lastUsedAt: null, updatedAt: 0, version: 1, ...over,
  });
}
/**
 * Applies the policy to `body` sent as JSON, then replaces `body`'s contents with what Gatehouse
 * would forward, so the assertions below read the forwarded request.
 */
function apply(id: string, body: JsonObject, p = principal()) {
  const rb = parseRequestBody(Buffer.from(JSON.stringify(body)));
  if ('code' in rb) throw new Error(rb.message);
  const r = policy.apply(route(id), rb, p, rb.bytes.length);
  const forwarded = JSON.parse(Buffer.concat(rb.forwardPieces()).toString('utf8')) as JsonObject;
  for (const k of Object.keys(body)) delete body[k];
  Object.assign(body, forwarded);
  return r;
}
const imagesIn = (body: JsonObject): number => {
  const rb = parseRequestBody(Buffer.from(JSON.stringify(body)));
  if ('code' in rb) throw new Error(rb.message);
  return rb.scan.images;
};

describe('resource clamps', () => {
  it('num_predict absent, negative or over the cap becomes the cap; reservation = prompt estimate + cap', () => {
    for (const options of [undefined, { num_predict: -1 }, { num_predict: 5000 }]) {
      const body: JsonObject = { model: 'm', prompt: 'hi', ...(options ? { options } : {}) };
      const r = apply('generate', body);
      assert.ok(!(r instanceof GatewayError));
      assert.equal((body.options as JsonObject).num_predict, 1000);
      assert.equal(r.reserveTokens, r.promptEstimate + 1000);
    }
    const body: JsonObject = { model: 'm', prompt: 'hi', options: { num_predict: 10 } };
    const r = apply('generate', body);
    assert.ok(!(r instanceof GatewayError) && r.reserveTokens === r.promptEstimate + 10);
  });
  it('max_tokens / max_output_tokens on the compatible routes', () => {
    const a: JsonObject = { model: 'm', messages: [] };
    apply('openai.chat', a);
    assert.equal(a.max_tokens, 1000);
    const b: JsonObject = { model: 'm', input: 'x', max_output_tokens: 99999 };
    apply('openai.responses', b);
    assert.equal(b.max_output_tokens, 1000);
    const c: JsonObject = { model: 'm', max_tokens: 50, messages: [] };
    const r = apply('anthropic.messages', c);
    assert.ok(!(r instanceof GatewayError) && c.max_tokens === 50 && r.reserveTokens === r.promptEstimate + 50);
  });
  it('num_ctx over the cap is refused with the limit in the message', () => {
    const r = apply('chat', { model: 'm', messages: [], options: { num_ctx: 100000 } });
    assert.ok(r instanceof GatewayError);
    assert.equal(r.status, 400);
    assert.match(r.message, /8192/);
  });
  it('keep_alive: longer is lowered, negative refused, 0 needs models:manage', () => {
    const body: JsonObject = { model: 'm', prompt: 'x', keep_alive: '24h' };
    apply('generate', body);
    assert.equal(body.keep_alive, '10m');
    for (const ka of [-1, '-1m', '-5s']) assert.ok(apply('generate', { model: 'm', prompt: 'x', keep_alive: ka }) instanceof GatewayError, String(ka));
    const unload = apply('generate', { model: 'm', prompt: '', keep_alive: 0 });
    assert.ok(unload instanceof GatewayError && unload.status === 403);
    assert.ok(!(apply('generate', { model: 'm', prompt: '', keep_alive: 0 }, principal({ scopes: ['inference', 'models:manage'] })) instanceof GatewayError));
    assert.ok(apply('generate', { model: 'm', prompt: 'x', keep_alive: '5 minutes' }) instanceof GatewayError);
  });
  it('runner options are stripped unless the key may set them', () => {
    const body: JsonObject = { model: 'm', prompt: 'x', options: { num_gpu: 0, main_gpu: 1, num_batch: 1, num_thread: 1, use_mmap: false, temperature: 0.1 } };
    apply('generate', body);
    assert.deepEqual(Object.keys(body.options as JsonObject).sort(), ['num_predict', 'temperature']);
    const kept: JsonObject = { model: 'm', prompt: 'x', options: { num_gpu: 0 } };
    apply('generate', kept, principal({ clamps: { allow_runner_options: true } }));
    assert.equal((kept.options as JsonObject).num_gpu, 0);
  });
  it('images and embedding batches are capped', () => {
    assert.equal(imagesIn({ images: ['a'], messages: [{ images: ['b'] }, { content: [{ type: 'image_url' }, { type: 'text' }] }] } as JsonObject), 3);
    assert.ok(apply('chat', { model: 'm', messages: [{ role: 'user', content: 'x', images: ['a', 'b', 'c'] }] }) instanceof GatewayError);
    assert.ok(apply('embed', { model: 'm', input: ['a', 'b', 'c', 'd'] }) instanceof GatewayError);
    assert.ok(!(apply('embed', { model: 'm', input: ['a', 'b', 'c'] }) instanceof GatewayError));
  });
  it('per-key clamps override the gateway\'s', () => {
    const body: JsonObject = { model: 'm', prompt: 'x' };
    apply('generate', body, principal({ clamps: { max_num_predict: 20 } }));
    assert.equal((body.options as JsonObject).num_predict, 20);
  });
});

describe('keep_alive is read in whole nanoseconds, as Go does', () => {
  it('values below one nanosecond are an unload (needs models:manage)', () => {
    for (const ka of [1e-10, 5e-10, '0.5ns', '0.9ns', '-0.5ns', '0s', '0']) {
      const r = apply('generate', { model: 'm', prompt: '', keep_alive: ka });
      assert.ok(r instanceof GatewayError && r.status === 403, `keep_alive ${JSON.stringify(ka)}`);
    }
  });
  it('ordinary values pass or are lowered', () => {
    const body: JsonObject = { model: 'm', prompt: 'x', keep_alive: '1ns' };
    assert.ok(!(apply('generate', body) instanceof GatewayError));
    assert.ok(!(apply('generate', { model: 'm', prompt: 'x', keep_alive: 300 }) instanceof GatewayError));
    assert.ok(!(apply('generate', { model: 'm', prompt: 'x', keep_alive: '1h30m' }) instanceof GatewayError));
    assert.ok(apply('generate', { model: 'm', prompt: 'x', keep_alive: '.s' }) instanceof GatewayError);
  });
});
