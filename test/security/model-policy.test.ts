import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROUTES, type RouteDef } from '../../src/routes/table.js';
import { decodeStruct, type Spec } from '../emulator/go-decode.js';
import { parseFirstJsonValue } from '../emulator/go-json.js';
import * as Go from '../emulator/request-schemas.js';
import { multipartBody } from '../emulator/test-support.js';
import { sampleRequest } from '../helpers/route-samples.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { BASE_CONFIG, hit } from './support.js';

/**
 * docs/threat-model.md B6 (the model allowlist on every field of every route, not just /api/chat) and D4
 * (resource clamps), attacked through the gap between JavaScript and Go: Ollama decodes bodies
 * with Go's encoding/json (case-insensitive keys, Unicode folding, last duplicate wins), so every
 * spelling of a field that Go would read must be caught. What reached Ollama is decoded here the
 * way Go decodes it (test/emulator/go-decode.ts) and compared with what was authorized.
 */

/** The Go struct Ollama binds each JSON route's body to. */
const GO_SPEC: Record<string, Spec> = {
  generate: Go.GenerateRequest, chat: Go.ChatRequest, embed: Go.EmbedRequest, embeddings: Go.EmbeddingRequest, show: Go.ShowRequest,
  pull: Go.PullRequest, push: Go.PushRequest, create: Go.CreateRequest, copy: Go.CopyRequest, delete: Go.DeleteRequest,
  'openai.chat': Go.OpenAIChatRequest, 'openai.completions': Go.OpenAICompletionRequest, 'openai.embeddings': Go.OpenAIEmbedRequest,
  'openai.responses': Go.ResponsesRequest, 'anthropic.messages': Go.AnthropicMessagesRequest,
};

const JSON_MODEL_ROUTES = ROUTES.filter((r) => r.body === 'json' && r.modelFields.length > 0);
const ALLOWED = 'llama3';
const DENIED = 'mistral';

/** Spellings of a field name that Go's decoder matches to the field (and JavaScript does not). */
function goSpellings(field: string): string[] {
  const out = new Set([field.toUpperCase(), field[0]!.toUpperCase() + field.slice(1), [...field].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('')]);
  if (field.includes('s')) out.add(field.replace('s', '\u017f'));
  if (field.includes('k')) out.add(field.replace('k', '\u212a'));
  out.delete(field);
  return [...out];
}

/** Every model name Ollama would use for this (Go-decoded) body. */
function modelsOllamaUses(route: RouteDef, body: Buffer): string[] {
  const v = decodeStruct<Record<string, unknown>>(GO_SPEC[route.id]!, parseFirstJsonValue(body.toString('utf8')));
  return route.modelFields.map((f) => v[f]).filter((x): x is string => typeof x === 'string' && x !== '');
}

/** Short form of a model name: default registry, namespace and tag dropped. */
const norm = (m: string): string => m.toLowerCase().replace(/:local$/, '').replace(/^registry\.ollama\.ai\//, '').replace(/^library\//, '').replace(/:latest$/, '');

describe('threats B6: one model allowlist for every field of every route, read as Go reads it', () => {
  let s: Stack;
  let key: string;
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG, routes: { manage: true } } });
    key = (await s.createKey('llama3-only', ['--scopes', 'inference,models:read,models:manage', '--models', `${ALLOWED},${ALLOWED}-copy,${ALLOWED}-backup`])).key;
  });
  after(() => s.close());
  const headers = () => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

  /** Sends `body`; whatever reaches Ollama must only ever name allowed models, as Go reads them. */
  async function attempt(route: RouteDef, body: string): Promise<{ status: number; forwarded: boolean; text: string }> {
    s.emu.reset();
    const res = await hit(s.gw.url, route.method, route.path, { headers: headers(), body });
    for (const r of s.emu.requests) {
      for (const m of modelsOllamaUses(route, r.body)) {
        assert.ok([ALLOWED, `${ALLOWED}-copy`, `${ALLOWED}-backup`].includes(norm(m)), `${route.id}: Ollama was asked for "${m}" (sent ${body})`);
      }
    }
    return { status: res.status, forwarded: s.emu.requests.length > 0, text: res.body };
  }

  for (const route of JSON_MODEL_ROUTES) {
    const sample = JSON.parse(sampleRequest(route, ALLOWED).body as string) as Record<string, unknown>;
    it(`B6: ${route.id} — the sample request with allowed models gets through`, async () => {
      const r = await attempt(route, JSON.stringify(sample));
      assert.ok(r.forwarded, `${r.status} ${r.text}`);
    });
    for (const field of route.modelFields) {
      it(`B6: ${route.id} — a denied model in "${field}" is answered as a missing model`, async () => {
        const r = await attempt(route, JSON.stringify({ ...sample, [field]: DENIED }));
        assert.equal(r.status, 404, r.text);
        // Each route's own not-found text (test/security/missing-model-parity.test.ts).
        assert.match(r.text, new RegExp(`model \\\\?['"]${DENIED}(:latest)?\\\\?['"] not found`));
        assert.equal(r.forwarded, false);
      });
      it(`B6: ${route.id} — "${field}" spelled as Go would still read it (${goSpellings(field).length} spellings) is refused`, async () => {
        for (const spelling of goSpellings(field)) {
          const r = await attempt(route, JSON.stringify({ ...sample, [spelling]: DENIED }));
          assert.ok(r.status === 400 || r.status === 404, `${spelling}: ${r.status} ${r.text}`);
          assert.equal(r.forwarded, false, `${JSON.stringify(spelling)} reached Ollama`);
        }
      });
      it(`B6: ${route.id} — a duplicate "${field}" key: the last one (the one Go uses) is the one checked`, async () => {
        const text = JSON.stringify({ ...sample, [field]: ALLOWED });
        const denyLast = `${text.slice(0, -1)},"${field}":"${DENIED}"}`;
        const r1 = await attempt(route, denyLast);
        assert.equal(r1.forwarded, false, r1.text);
        const denyFirst = `{"${field}":"${DENIED}",${text.slice(1)}`;
        await attempt(route, denyFirst); // may be forwarded: Go then reads the allowed value (checked in attempt)
        const escaped = `${text.slice(0, -1)},"${field.replace(/^./, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}":"${DENIED}"}`;
        const r3 = await attempt(route, escaped);
        assert.equal(r3.forwarded, false, `escaped key: ${r3.text}`);
      });
    }
  }

  it('B6: GET /v1/models/:model applies the allowlist to the path, however the name is spelled', async () => {
    for (const p of [`/v1/models/${DENIED}`, `/v1/models/${DENIED}:latest`, `/v1/models/${DENIED.toUpperCase()}`, `/v1/models/${DENIED}%3Alatest`, `/v1/models/library%2F${DENIED}`, `/v1/models/registry.ollama.ai%2Flibrary%2F${DENIED}`]) {
      s.emu.reset();
      const r = await hit(s.gw.url, 'GET', p, { headers: headers() });
      assert.equal(r.status, 404, `${p}: ${r.body}`);
      assert.equal(s.emu.requests.length, 0, p);
    }
    s.emu.reset();
    await hit(s.gw.url, 'GET', `/v1/models/${ALLOWED.toUpperCase()}%3ALATEST`, { headers: headers() });
    assert.deepEqual(s.emu.requests.map((r) => r.url), [`/v1/models/${ALLOWED.toUpperCase()}:LATEST`], 'an allowed name in any case is forwarded, decoded');
  });

  it('B6: the multipart model field of /v1/audio/transcriptions is checked, and must be sent once', async () => {
    const boundary = 'b0undary';
    for (const [parts, want] of [
      [[{ name: 'model', value: DENIED }], 404],
      [[{ name: 'model', value: ALLOWED }, { name: 'model', value: DENIED }], 400],
      [[{ name: 'model', value: DENIED }, { name: 'model', value: ALLOWED }], 400],
    ] as Array<[Array<{ name: string; value: string }>, number]>) {
      s.emu.reset();
      const body = multipartBody(boundary, [...parts, { name: 'file', filename: 'a.wav', value: Buffer.from('RIFF0000WAVE') } as never]);
      const r = await hit(s.gw.url, 'POST', '/v1/audio/transcriptions', { headers: { authorization: `Bearer ${key}`, 'content-type': `multipart/form-data; boundary=${boundary}` }, body });
      assert.equal(r.status, want, r.body);
      assert.equal(s.emu.requests.length, 0);
    }
  });

  it('B6: names that normalize to a denied model, or to another registry, are not the allowed model', async () => {
    const route = ROUTES.find((r) => r.id === 'chat')!;
    for (const name of [`${ALLOWED}:70b`, `${ALLOWED}.1`, `hf.co/library/${ALLOWED}`, `registry.ollama.ai:443/library/${ALLOWED}`, `other/${ALLOWED}`, `${ALLOWED}:cloud`, `${ALLOWED}:latest-cloud`, `${DENIED}:local`]) {
      const r = await attempt(route, JSON.stringify({ model: name, messages: [{ role: 'user', content: 'x' }], stream: false }));
      assert.ok([400, 403, 404].includes(r.status), `${name}: ${r.status}`);
      assert.equal(r.forwarded, false, name);
    }
    for (const name of [ALLOWED.toUpperCase(), `${ALLOWED}:latest`, `library/${ALLOWED}`, `registry.ollama.ai/library/${ALLOWED}:latest`, `${ALLOWED}:local`]) {
      const r = await attempt(route, JSON.stringify({ model: name, messages: [{ role: 'user', content: 'x' }], stream: false }));
      assert.ok(r.forwarded, `${name}: ${r.status} ${r.text}`);
    }
  });

  it('B6: /api/tags, /api/ps and /v1/models list only allowed models', async () => {
    const all = (await s.createKey('all-models', ['--scopes', 'inference,models:read'])).key;
    for (const m of [ALLOWED, DENIED]) {
      await hit(s.gw.url, 'POST', '/api/generate', { headers: { authorization: `Bearer ${all}` }, body: JSON.stringify({ model: m, prompt: 'x', stream: false }) });
    }
    const allowed = new Set([ALLOWED, `${ALLOWED}-copy`, `${ALLOWED}-backup`]);
    const names = async (k: string): Promise<Record<string, string[]>> => {
      const get = async (p: string) => JSON.parse((await hit(s.gw.url, 'GET', p, { headers: { authorization: `Bearer ${k}` } })).body) as { models?: Array<{ name: string }>; data?: Array<{ id: string }> };
      return {
        tags: (await get('/api/tags')).models!.map((m) => norm(m.name)),
        ps: (await get('/api/ps')).models!.map((m) => norm(m.name)),
        v1: (await get('/v1/models')).data!.map((m) => norm(m.id)),
      };
    };
    const mine = await names(key);
    const everything = await names(all);
    for (const list of ['tags', 'ps', 'v1']) {
      assert.ok(everything[list]!.includes(DENIED), `${list}: the unrestricted key sees ${DENIED}`);
      assert.ok(mine[list]!.every((m) => allowed.has(m)), `${list}: ${mine[list]!.join(', ')}`);
    }
  });

  it('B6: nested message fields Go reads case-insensitively (images) cannot be smuggled by spelling', async () => {
    const route = ROUTES.find((r) => r.id === 'chat')!;
    for (const k of ['IMAGES', 'Images', 'imageS']) {
      const r = await attempt(route, JSON.stringify({ model: ALLOWED, messages: [{ role: 'user', content: 'x', [k]: ['aGk='] }], stream: false }));
      assert.equal(r.status, 400, r.text);
      assert.equal(r.forwarded, false);
    }
  });
});

describe('threats D4: resource clamps, including spellings Go would read', () => {
  let s: Stack;
  let key: string;
  let manager: string;
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG, clamps: { max_num_ctx: 4096, max_num_predict: 256, max_keep_alive: '10m', max_images: 2, max_embed_inputs: 4 } } });
    key = (await s.createKey('user', ['--scopes', 'inference,models:read'])).key;
    manager = (await s.createKey('ops', ['--scopes', 'inference,models:read,models:manage'])).key;
  });
  after(() => s.close());

  async function send(path: string, body: unknown, k = key) {
    s.emu.reset();
    const r = await hit(s.gw.url, 'POST', path, { headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    const seen = s.emu.requests[0]?.body;
    return { status: r.status, text: r.body, seen: seen ? (JSON.parse(seen.toString('utf8')) as Record<string, any>) : null };
  }
  const gen = (extra: Record<string, unknown>) => ({ model: 'llama3', prompt: 'hi', stream: false, ...extra });

  it('D4: num_ctx above the cap is refused; num_predict absent, negative or huge is set to the cap', async () => {
    assert.equal((await send('/api/generate', gen({ options: { num_ctx: 1_000_000 } }))).status, 400);
    assert.equal((await send('/api/generate', gen({ options: { num_ctx: 4097.5 } }))).status, 400);
    for (const np of [undefined, -1, -2, 1e12, 257]) {
      const r = await send('/api/generate', gen(np === undefined ? {} : { options: { num_predict: np } }));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.seen!.options.num_predict, 256, `num_predict ${np}`);
    }
  });

  it('D4: keep_alive forever (negative) is refused, 0 (unload) needs models:manage, long values are lowered', async () => {
    for (const ka of [-1, '-1m', '-0.5s', -1e-9]) assert.equal((await send('/api/generate', gen({ keep_alive: ka }))).status, 400, `keep_alive ${ka}`);
    for (const ka of [0, '0', '0s', '0m', '0h0m0s', -0]) assert.equal((await send('/api/generate', gen({ keep_alive: ka }))).status, 403, `keep_alive ${ka}`);
    assert.equal((await send('/api/generate', gen({ keep_alive: 0 }), manager)).status, 200);
    for (const ka of ['24h', 86400, '10m1s', '1h', 1e300]) {
      const r = await send('/api/chat', { model: 'llama3', messages: [{ role: 'user', content: 'x' }], stream: false, keep_alive: ka });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.seen!.keep_alive, '10m', `keep_alive ${ka}`);
    }
  });

  it('D4: runner options that force a reload are stripped (num_gpu, main_gpu, num_batch, num_thread, use_mmap)', async () => {
    const r = await send('/api/chat', { model: 'llama3', messages: [{ role: 'user', content: 'x' }], stream: false, options: { num_gpu: 0, main_gpu: 1, num_batch: 1, num_thread: 1, use_mmap: false, temperature: 0.5 } });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.seen!.options).sort(), ['num_predict', 'temperature']);
  });

  it('D4: case and Unicode spellings of clamped fields are refused, not passed to Go to read', async () => {
    for (const body of [
      `{"model":"llama3","prompt":"hi","stream":false,"Options":{"num_ctx":1000000}}`,
      `{"model":"llama3","prompt":"hi","stream":false,"KEEP_ALIVE":-1}`,
      `{"model":"llama3","prompt":"hi","stream":false,"\u212aeep_alive":-1}`,
      `{"model":"llama3","prompt":"hi","stream":false,"keep_alive":"5m","keep_alivE":0}`,
      `{"model":"llama3","prompt":"hi","stream":false,"IMAGES":["a","b","c"]}`,
      `{"model":"llama3","messages":[{"role":"user","content":"x","Images":["a","b","c"]}],"stream":false}`,
      `{"model":"llama3","input":["a","b","c","d","e"],"Input":"x"}`,
    ]) {
      const r = await send(body.includes('"messages"') ? '/api/chat' : body.includes('"input"') ? '/api/embed' : '/api/generate', body);
      assert.equal(r.status, 400, `${body}: ${r.status} ${r.text}`);
      assert.equal(r.seen, null, `${body} reached Ollama`);
    }
  });

  it('D4: option names are case-sensitive to Ollama (api.Options.FromMap), so NUM_CTX is an ignored unknown option, not a bypass', async () => {
    const r = await send('/api/generate', gen({ options: { NUM_CTX: 1_000_000 } }));
    assert.equal(r.status, 200);
    assert.equal(r.seen!.options.num_ctx, undefined);
  });

  it('D4: OpenAI and Anthropic output caps are clamped (max_tokens, max_completion_tokens, max_output_tokens)', async () => {
    const c = await send('/v1/chat/completions', { model: 'llama3', messages: [{ role: 'user', content: 'x' }], max_tokens: 100000, max_completion_tokens: 1e9 });
    assert.equal(c.seen!.max_tokens, 256);
    assert.equal(c.seen!.max_completion_tokens, 256);
    const a = await send('/v1/messages', { model: 'llama3', messages: [{ role: 'user', content: 'x' }], max_tokens: 1e9 });
    assert.equal(a.seen!.max_tokens, 256);
    const rs = await send('/v1/responses', { model: 'llama3', input: 'x' });
    assert.equal(rs.seen!.max_output_tokens, 256);
  });

  it('D4: image and embedding batch caps hold on every route shape', async () => {
    const img = 'aGk=';
    for (const [path, body] of [
      ['/api/generate', gen({ images: [img, img, img] })],
      ['/api/chat', { model: 'llama3', stream: false, messages: [{ role: 'user', content: 'x', images: [img, img] }, { role: 'user', content: 'y', images: [img] }] }],
      ['/v1/chat/completions', { model: 'llama3', messages: [{ role: 'user', content: [1, 2, 3].map(() => ({ type: 'image_url', image_url: { url: `data:image/png;base64,${img}` } })) }] }],
      ['/v1/messages', { model: 'llama3', max_tokens: 5, messages: [{ role: 'user', content: [1, 2, 3].map(() => ({ type: 'image', source: { type: 'base64', media_type: 'image/png', data: img } })) }] }],
      ['/api/embed', { model: 'llama3', input: ['a', 'b', 'c', 'd', 'e'] }],
      ['/v1/embeddings', { model: 'llama3', input: ['a', 'b', 'c', 'd', 'e'] }],
    ] as Array<[string, unknown]>) {
      const r = await send(path, body);
      assert.equal(r.status, 400, `${path}: ${r.status} ${r.text}`);
      assert.equal(r.seen, null);
    }
  });
});
