// The emulator's core contract: routing texts and methods, path handling, the Host check, Go-style
// body decoding, model names, and the native /api/* inference shapes and token accounting.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startEmulator, type Emulator } from './index.js';
import { ndjson, postJson, rawRequest } from './test-support.js';

let emu: Emulator;
before(async () => {
  emu = await startEmulator({ chunks: 4 });
});
after(async () => {
  await emu.close();
});
beforeEach(() => emu.reset());

describe('routing', () => {
  test('GET and HEAD / answer "Ollama is running"', async () => {
    const get = await fetch(emu.url + '/');
    assert.equal(get.status, 200);
    assert.equal(await get.text(), 'Ollama is running');
    const head = await fetch(emu.url + '/', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '17');
  });

  test('unknown path is 404 text/plain "404 page not found"', async () => {
    const res = await fetch(emu.url + '/api/tokenize', { method: 'POST', body: '{}' });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('content-type'), 'text/plain');
    assert.equal(await res.text(), '404 page not found');
  });

  test('known path with the wrong method is 405 text/plain', async () => {
    for (const [method, path] of [
      ['HEAD', '/api/ps'],
      ['HEAD', '/v1/models'],
      ['GET', '/api/chat'],
      ['POST', '/api/delete'],
      ['GET', '/api/blobs/sha256-' + 'a'.repeat(64)],
    ] as const) {
      const res = await rawRequest(emu.url, method, path);
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers['content-type'], 'text/plain');
      if (method !== 'HEAD') assert.equal(res.body, '405 method not allowed');
    }
  });

  test('HEAD is served where Ollama registers it', async () => {
    for (const path of ['/api/version', '/api/tags']) {
      const res = await rawRequest(emu.url, 'HEAD', path);
      assert.equal(res.status, 200, path);
    }
  });

  test('matching is case-sensitive and exact', async () => {
    assert.equal((await rawRequest(emu.url, 'GET', '/API/tags')).status, 404);
    assert.equal((await rawRequest(emu.url, 'GET', '/api/tags/x')).status, 404);
    // One path segment only: a slash in the model name cannot reach /v1/models/:model.
    assert.equal((await rawRequest(emu.url, 'GET', '/v1/models/hf.co/org/repo:q4')).status, 404);
  });

  test('the path is percent-decoded before routing', async () => {
    const res = await rawRequest(emu.url, 'GET', '/api/%74ags');
    assert.equal(res.status, 200);
    assert.ok(Array.isArray((JSON.parse(res.body) as { models: unknown[] }).models));
    assert.equal((await rawRequest(emu.url, 'GET', '/api/%zz')).status, 400);
  });

  test('unclean paths and trailing slashes redirect like net/http and gin', async () => {
    const dotdot = await rawRequest(emu.url, 'GET', '/api/x/../tags?a=1');
    assert.equal(dotdot.status, 301);
    assert.equal(dotdot.headers.location, '/api/tags?a=1');
    const doubled = await rawRequest(emu.url, 'POST', '//api/chat');
    assert.equal(doubled.status, 301);
    assert.equal(doubled.headers.location, '/api/chat');
    const slashGet = await rawRequest(emu.url, 'GET', '/api/tags/');
    assert.equal(slashGet.status, 301);
    const slashPost = await rawRequest(emu.url, 'POST', '/api/chat/');
    assert.equal(slashPost.status, 307);
    assert.equal(slashPost.headers.location, '/api/chat');
  });

  test('a repeated Host header is refused with 400, as net/http does', async () => {
    const res = await rawRequest(emu.url, 'GET', '/api/tags', { headers: { Host: 'localhost' }, rawHeaders: ['Host', 'evil.example'] });
    assert.equal(res.status, 400);
  });

  test('every request is recorded, including rejected ones, with raw target and body', async () => {
    await rawRequest(emu.url, 'POST', '/api/%70ull?ts=1', { body: '{"model":"!x"}', headers: { 'Content-Type': 'application/json' } });
    await rawRequest(emu.url, 'GET', '/nope');
    assert.equal(emu.requests.length, 2);
    const [pull, nope] = emu.requests;
    assert.equal(pull!.url, '/api/%70ull?ts=1');
    assert.equal(pull!.path, '/api/%70ull');
    assert.equal(pull!.query, 'ts=1');
    assert.deepEqual(pull!.json, { model: '!x' }); // an invalid name: answered 400, still recorded
    assert.equal(pull!.bodyLength, 14);
    assert.equal(pull!.body.toString(), '{"model":"!x"}');
    assert.equal(nope!.path, '/nope');
    assert.equal(nope!.query, '');
    assert.equal(nope!.finished, true);
    assert.equal(nope!.aborted, false);
  });
});

describe('host check (listening on loopback)', () => {
  test('public names get 403 with an empty body', async () => {
    for (const host of ['gw.example.com', 'gw.example.com:443', 'localhost.evil.com', '8.8.8.8', '[2001:db8::1]:80']) {
      const res = await rawRequest(emu.url, 'GET', '/api/tags', { headers: { Host: host } });
      assert.equal(res.status, 403, host);
      assert.equal(res.body, '', host);
    }
  });

  test('loopback and private IPs, localhost and local TLDs pass', async () => {
    for (const host of ['127.0.0.1:11434', 'localhost', 'LOCALHOST:1', 'app.localhost', 'nas.local', 'svc.internal', '10.1.2.3', '192.168.0.9:80', '[::1]:11434', '[fd00::1]:1', '0.0.0.0']) {
      const res = await rawRequest(emu.url, 'GET', '/api/version', { headers: { Host: host } });
      assert.equal(res.status, 200, host);
    }
  });

  test('the check also guards unknown paths, and OPTIONS on an allowed name is 204', async () => {
    assert.equal((await rawRequest(emu.url, 'GET', '/nope', { headers: { Host: 'evil.example' } })).status, 403);
    assert.equal((await rawRequest(emu.url, 'OPTIONS', '/api/tags', { headers: { Host: 'localhost' } })).status, 204);
    assert.equal((await rawRequest(emu.url, 'OPTIONS', '/api/tags', { headers: { Host: '127.0.0.1' } })).status, 405);
  });

  test('a disallowed Origin is an empty 403, an allowed one is echoed', async () => {
    const bad = await rawRequest(emu.url, 'GET', '/api/tags', { headers: { Origin: 'https://evil.example' } });
    assert.equal(bad.status, 403);
    assert.equal(bad.body, '');
    const good = await rawRequest(emu.url, 'GET', '/api/tags', { headers: { Origin: 'http://localhost:3000' } });
    assert.equal(good.status, 200);
    assert.equal(good.headers['access-control-allow-origin'], 'http://localhost:3000');
  });
});

describe('Go-style JSON binding', () => {
  test('keys match case-insensitively and the last variant wins', async () => {
    const res = await postJson(emu.url, '/api/generate', '{"model":"nope","MODEL":"llama3","prompt":"hi","Stream":false}');
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body['model'], 'llama3');
    assert.equal(body['response'], 'Hello from the Ollama');
  });

  test('an exact duplicate after a case variant still wins (order, not spelling)', async () => {
    const res = await postJson(emu.url, '/api/show', '{"model":"nope","Model":"nope2","model":"mistral"}');
    assert.equal(res.status, 200);
  });

  test('Go folds KELVIN SIGN to k and LONG S to s', async () => {
    const res = await postJson(emu.url, '/api/generate', '{"model":"llama3","prompt":"hi","\u017ftream":false,"\u212aeep_alive":"5m"}');
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(((await res.json()) as { done: boolean }).done, true);
  });

  test('null leaves a string unchanged but resets *bool', async () => {
    const kept = await postJson(emu.url, '/api/show', '{"model":"llama3","model":null}');
    assert.equal(kept.status, 200);
    const streamed = await postJson(emu.url, '/api/generate', '{"model":"llama3","prompt":"hi","stream":false,"stream":null}');
    assert.equal(streamed.headers.get('content-type'), 'application/x-ndjson');
    await streamed.text();
  });

  test('missing body, bad JSON and wrong types are 400', async () => {
    const missing = await postJson(emu.url, '/api/chat', '');
    assert.equal(missing.status, 400);
    assert.deepEqual(await missing.json(), { error: 'missing request body' });
    const bad = await postJson(emu.url, '/api/chat', '{"model":');
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { error: 'unexpected EOF' });
    const syntax = await postJson(emu.url, '/api/chat', '{model:1}');
    assert.match(((await syntax.json()) as { error: string }).error, /invalid character 'm'/);
    const typed = await postJson(emu.url, '/api/chat', '{"model":"llama3","messages":"hi"}');
    assert.equal(typed.status, 400);
    assert.match(((await typed.json()) as { error: string }).error, /cannot unmarshal string into Go struct field ChatRequest.messages/);
    const opt = await postJson(emu.url, '/api/generate', { model: 'llama3', prompt: 'x', options: { num_predict: 'many' } });
    assert.equal(opt.status, 400);
  });

  test('anything after the first JSON value is ignored, like json.Decoder', async () => {
    const res = await postJson(emu.url, '/api/show', '{"model":"llama3"} trailing garbage');
    assert.equal(res.status, 200);
  });
});

describe('model names', () => {
  test('defaults and case-insensitive matching resolve installed models', async () => {
    for (const name of ['llama3', 'LLAMA3:Latest', 'library/llama3', 'registry.ollama.ai/library/llama3:latest', 'HF.CO/org/repo:Q4', 'qwen2.5:7b']) {
      const res = await postJson(emu.url, '/api/show', { model: name });
      assert.equal(res.status, 200, name);
    }
  });

  test('unknown model: 404 with each handler\'s own text (server/routes.go)', async () => {
    const native = async (path: string, model: string): Promise<string> => {
      const res = await postJson(emu.url, path, { model, prompt: 'x', messages: [{ role: 'user', content: 'x' }] });
      assert.equal(res.status, 404, path);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      return ((await res.json()) as { error: string }).error;
    };
    assert.equal(await native('/api/generate', 'qwen2.5:72b'), "model 'qwen2.5:72b' not found");
    assert.equal(await native('/api/chat', 'qwen2.5:72b'), "model 'qwen2.5:72b' not found");
    // EmbedHandler/EmbeddingsHandler: getModel fails, handleScheduleError answers (%q quoting).
    assert.equal(await native('/api/embed', 'qwen2.5:72b'), 'model "qwen2.5:72b" not found, try pulling it first');
    assert.equal(await native('/api/embeddings', 'qwen2.5:72b'), 'model "qwen2.5:72b" not found, try pulling it first');
    // EmbeddingsHandler has no case-insensitive getExistingName: another spelling is not found.
    assert.equal(await native('/api/embeddings', 'NOMIC-EMBED-TEXT'), 'model "NOMIC-EMBED-TEXT" not found, try pulling it first');
    assert.equal((await postJson(emu.url, '/api/embed', { model: 'NOMIC-EMBED-TEXT', input: 'x' })).status, 200);
    // ShowHandler names the model as resolved: getExistingName (parts take an installed model's
    // spelling), then DisplayShortest.
    assert.equal(await native('/api/show', 'nosuch'), "model 'nosuch:latest' not found");
    assert.equal(await native('/api/show', 'NoSuch:LATEST'), "model 'NoSuch:latest' not found");
    assert.equal(await native('/api/show', 'Library/nosuch'), "model 'nosuch:latest' not found");
    const del = await fetch(emu.url + '/api/delete', { method: 'DELETE', body: JSON.stringify({ model: 'ghost' }) });
    assert.equal(del.status, 404);
    assert.deepEqual(await del.json(), { error: "model 'ghost' not found" });
  });

  test('unknown model on /v1: the middleware re-encodes the handler\'s error (application/json, json.Encoder\'s newline)', async () => {
    const raw = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(emu.url + path, { method, ...(body ? { body: JSON.stringify(body) } : {}) });
      return { status: res.status, type: res.headers.get('content-type'), cache: res.headers.get('cache-control'), text: await res.text() };
    };
    const openaiNotFound = (message: string) => JSON.stringify({ error: { message, type: 'not_found_error', param: null, code: null } }) + '\n';
    const msgs = [{ role: 'user', content: 'x' }];
    for (const [path, body, message] of [
      ['/v1/chat/completions', { model: 'ghost', messages: msgs }, "model 'ghost' not found"],
      ['/v1/completions', { model: 'ghost', prompt: 'x' }, "model 'ghost' not found"],
      ['/v1/embeddings', { model: 'ghost', input: 'x' }, 'model "ghost" not found, try pulling it first'],
      ['/v1/responses', { model: 'ghost', input: 'x' }, "model 'ghost' not found"],
    ] as const) {
      const r = await raw('POST', path, body);
      assert.deepEqual(r, { status: 404, type: 'application/json', cache: null, text: openaiNotFound(message) }, path);
    }
    assert.equal((await raw('GET', '/v1/models/ghost')).text, openaiNotFound("model 'ghost:latest' not found"));
    // A streamed Responses or Messages request gets the headers its middleware set first.
    const streamed = await raw('POST', '/v1/responses', { model: 'ghost', input: 'x', stream: true });
    assert.deepEqual(streamed, { status: 404, type: 'application/json', cache: 'no-cache', text: openaiNotFound("model 'ghost' not found") });
    for (const stream of [false, true]) {
      const r = await raw('POST', '/v1/messages', { model: 'ghost', max_tokens: 5, messages: msgs, stream });
      assert.equal(r.status, 404);
      assert.equal(r.type, 'application/json');
      assert.equal(r.cache, stream ? 'no-cache' : null);
      assert.match(r.text, /^\{"type":"error","error":\{"type":"not_found_error","message":"model 'ghost' not found"\},"request_id":"req_[0-9a-f]{24}"\}\n$/);
    }
    // The middlewares' own checks are plain c.JSON: charset, no newline.
    const early = await raw('POST', '/v1/messages', { model: 'ghost', messages: msgs });
    assert.equal(early.type, 'application/json; charset=utf-8');
    assert.match(early.text, /"message":"max_tokens is required and must be positive"\},"request_id":"req_[0-9a-f]{24}"\}$/);
  });

  test('cloud references are refused with 403 (OLLAMA_NO_CLOUD)', async () => {
    for (const model of ['gpt-oss:cloud', 'gpt-oss:120b-cloud', 'llama3:latest:cloud']) {
      const res = await postJson(emu.url, '/api/chat', { model, messages: [{ role: 'user', content: 'x' }] });
      assert.equal(res.status, 403, model);
      assert.match(((await res.json()) as { error: string }).error, /^ollama cloud is disabled: /);
    }
    assert.equal((await postJson(emu.url, '/api/show', { model: 'llama3:local' })).status, 200);
  });
});

describe('/api/generate and /api/chat', () => {
  test('stream by default: NDJSON, one token per line, counts only on the final chunk', async () => {
    const res = await postJson(emu.url, '/api/generate', { model: 'llama3', prompt: 'why is the sky blue' });
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const lines = ndjson(await res.text());
    assert.equal(lines.length, 5);
    for (const l of lines.slice(0, 4)) {
      assert.equal(l['done'], false);
      assert.equal(l['eval_count'], undefined);
    }
    const last = lines[4]!;
    assert.equal(last['done'], true);
    assert.equal(last['done_reason'], 'stop');
    assert.equal(last['prompt_eval_count'], 6); // 5 words + 1
    assert.equal(last['eval_count'], 4);
    for (const k of ['total_duration', 'load_duration', 'prompt_eval_duration', 'eval_duration']) assert.ok((last[k] as number) > 0, k);
    assert.equal((last['context'] as number[]).length, 10);
    assert.deepEqual(emu.tokensSent, { prompt: 6, completion: 4 });
  });

  test('chat chunks carry messages; num_predict caps tokens with done_reason length', async () => {
    const res = await postJson(emu.url, '/api/chat', {
      model: 'mistral',
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }],
      options: { num_predict: 2 },
    });
    const lines = ndjson(await res.text());
    assert.equal(lines.length, 3);
    assert.deepEqual(lines[0]!['message'], { role: 'assistant', content: 'Hello' });
    const last = lines[2]!;
    assert.equal(last['done_reason'], 'length');
    assert.equal(last['eval_count'], 2);
    assert.equal(last['prompt_eval_count'], 4);
    assert.equal(last['context'], undefined);
  });

  test('"stream": false returns one JSON object with the accumulated text and counts', async () => {
    const res = await postJson(emu.url, '/api/chat', { model: 'llama3', stream: false, messages: [{ role: 'user', content: 'one two' }] });
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(body['message'], { role: 'assistant', content: 'Hello from the Ollama' });
    assert.equal(body['done'], true);
    assert.equal(body['prompt_eval_count'], 3);
    assert.equal(body['eval_count'], 4);
    assert.deepEqual(emu.tokensSent, { prompt: 3, completion: 4 });
  });

  test('empty prompt loads, keep_alive 0 unloads; neither reports counts', async () => {
    const load = (await (await postJson(emu.url, '/api/generate', { model: 'llama3' })).json()) as Record<string, unknown>;
    assert.equal(load['done'], true);
    assert.equal(load['done_reason'], 'load');
    const ps = (await (await fetch(emu.url + '/api/ps')).json()) as { models: Array<{ name: string }> };
    assert.ok(ps.models.some((m) => m.name === 'llama3:latest'));
    const unload = (await (await postJson(emu.url, '/api/chat', { model: 'llama3', messages: [], keep_alive: 0 })).json()) as Record<string, unknown>;
    assert.equal(unload['done_reason'], 'unload');
    const unloadStr = (await (await postJson(emu.url, '/api/generate', { model: 'llama3', keep_alive: '0s' })).json()) as Record<string, unknown>;
    assert.equal(unloadStr['done_reason'], 'unload');
    assert.deepEqual(emu.tokensSent, { prompt: 0, completion: 0 });
  });

  test('metrics are omitempty: with zero tokens eval_count is absent', async () => {
    emu.fault({ chunks: 0 });
    const lines = ndjson(await (await postJson(emu.url, '/api/generate', { model: 'llama3', prompt: 'x' })).text());
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!['done'], true);
    assert.equal(lines[0]!['eval_count'], undefined);
    assert.equal(lines[0]!['prompt_eval_count'], 2);
  });

  test('an embedding-only model cannot chat', async () => {
    const res = await postJson(emu.url, '/api/chat', { model: 'nomic-embed-text', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(res.status, 400);
  });
});

describe('/api/embed and /api/embeddings', () => {
  test('embed sums prompt_eval_count over inputs', async () => {
    const res = await postJson(emu.url, '/api/embed', { model: 'nomic-embed-text', input: ['a b', 'c'] });
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body['model'], 'nomic-embed-text');
    assert.equal((body['embeddings'] as number[][]).length, 2);
    assert.equal((body['embeddings'] as number[][])[0]!.length, 16);
    assert.equal(body['prompt_eval_count'], 5);
    assert.ok((body['total_duration'] as number) > 0);
    assert.ok((body['load_duration'] as number) > 0);
    assert.deepEqual(emu.tokensSent, { prompt: 5, completion: 0 });
    const single = (await (await postJson(emu.url, '/api/embed', { model: 'nomic-embed-text', input: 'x' })).json()) as Record<string, unknown>;
    assert.equal(single['prompt_eval_count'], 2);
  });

  test('legacy embeddings returns only the vector', async () => {
    const body = (await (await postJson(emu.url, '/api/embeddings', { model: 'nomic-embed-text', prompt: 'hello' })).json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['embedding']);
    assert.equal((body['embedding'] as number[]).length, 16);
    assert.deepEqual(emu.tokensSent, { prompt: 0, completion: 0 });
  });
});

describe('meta routes', () => {
  test('tags, version, status, show, recommendations', async () => {
    const tags = (await (await fetch(emu.url + '/api/tags')).json()) as { models: Array<Record<string, unknown>> };
    assert.deepEqual(
      tags.models.map((m) => m['name']),
      ['llama3:latest', 'qwen2.5:7b', 'nomic-embed-text:latest', 'mistral:latest', 'hf.co/org/repo:q4'],
    );
    for (const k of ['model', 'modified_at', 'size', 'digest', 'details', 'capabilities']) assert.ok(k in tags.models[0]!, k);
    assert.deepEqual(await (await fetch(emu.url + '/api/version')).json(), { version: '0.33.0-rc2' });
    assert.deepEqual(await (await fetch(emu.url + '/api/status')).json(), { cloud: { disabled: true, source: 'env' } });
    const show = (await (await postJson(emu.url, '/api/show', { name: 'qwen2.5:7b' })).json()) as Record<string, unknown>;
    assert.ok(Array.isArray(show['capabilities']));
    const rec = await fetch(emu.url + '/api/experimental/model-recommendations');
    assert.equal(rec.status, 200);
  });
});
