// Model management, blobs and account routes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startEmulator, type Emulator } from './index.js';
import { ndjson, postJson, rawRequest } from './test-support.js';

let emu: Emulator;
before(async () => {
  emu = await startEmulator();
});
after(async () => {
  await emu.close();
});

async function installed(): Promise<string[]> {
  const tags = (await (await fetch(emu.url + '/api/tags')).json()) as { models: Array<{ name: string }> };
  return tags.models.map((m) => m.name);
}

describe('pull, push, copy, delete', () => {
  test('pull streams progress ending in success and installs the model', async () => {
    const lines = ndjson(await (await postJson(emu.url, '/api/pull', { model: 'phi3:mini' })).text());
    assert.equal(lines[0]!['status'], 'pulling manifest');
    assert.ok(lines.some((l) => typeof l['total'] === 'number' && typeof l['completed'] === 'number' && typeof l['digest'] === 'string'));
    assert.deepEqual(lines.at(-1), { status: 'success' });
    assert.ok((await installed()).includes('phi3:mini'));
  });

  test('pull with stream:false returns only the last object; `name` works too', async () => {
    const res = await postJson(emu.url, '/api/pull', { name: 'gemma:2b', stream: false });
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.deepEqual(await res.json(), { status: 'success' });
    assert.ok((await installed()).includes('gemma:2b'));
  });

  test('push streams progress for an installed model and an in-band error otherwise', async () => {
    const ok = ndjson(await (await postJson(emu.url, '/api/push', { model: 'llama3' })).text());
    assert.deepEqual(ok.at(-1), { status: 'success' });
    const res = await postJson(emu.url, '/api/push', { model: 'ghost' });
    assert.equal(res.status, 200);
    const lines = ndjson(await res.text());
    assert.deepEqual(lines.slice(-2), [
      { status: "couldn't retrieve manifest" },
      { error: 'open /usr/share/ollama/.ollama/models/manifests/registry.ollama.ai/library/ghost/latest: no such file or directory' },
    ]);
  });

  test('copy adds the destination; a missing source is 404', async () => {
    const res = await postJson(emu.url, '/api/copy', { source: 'llama3', destination: 'me/llama-copy:v1' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
    assert.ok((await installed()).includes('me/llama-copy:v1'));
    assert.equal((await postJson(emu.url, '/api/copy', { source: 'ghost', destination: 'x' })).status, 404);
  });

  test('DELETE /api/delete with a JSON body removes the model', async () => {
    await postJson(emu.url, '/api/copy', { source: 'llama3', destination: 'doomed' });
    const res = await fetch(emu.url + '/api/delete', { method: 'DELETE', body: JSON.stringify({ model: 'doomed' }) });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
    assert.ok(!(await installed()).includes('doomed:latest'));
  });
});

describe('blobs and create', () => {
  const content = Buffer.from('GGUF fake model weights');
  const digest = 'sha256:' + createHash('sha256').update(content).digest('hex');

  test('digest format is checked', async () => {
    assert.equal((await rawRequest(emu.url, 'HEAD', '/api/blobs/sha256:abc')).status, 400);
    assert.equal((await rawRequest(emu.url, 'POST', '/api/blobs/md5:' + 'a'.repeat(64), { body: 'x' })).status, 400);
  });

  test('upload: mismatch is 400, match is 201, repeat is 200, HEAD then finds it', async () => {
    assert.equal((await rawRequest(emu.url, 'HEAD', `/api/blobs/${digest}`)).status, 404);
    const wrong = await rawRequest(emu.url, 'POST', `/api/blobs/${digest}`, { body: 'other bytes' });
    assert.equal(wrong.status, 400);
    assert.match(wrong.body, /digest mismatch/);
    assert.equal((await rawRequest(emu.url, 'POST', `/api/blobs/${digest}`, { body: content })).status, 201);
    assert.equal((await rawRequest(emu.url, 'POST', `/api/blobs/${digest}`, { body: content })).status, 200);
    assert.equal((await rawRequest(emu.url, 'HEAD', `/api/blobs/${digest.replace(':', '-')}`)).status, 200);
    // Like Ollama, the 200 for an existing blob goes out before the body is read; the record
    // still receives the whole body.
    const rec = emu.requests.findLast((r) => r.method === 'POST' && r.path.startsWith('/api/blobs/'))!;
    await emu.waitFor(() => rec.bodyLength === content.length);
    assert.deepEqual(rec.body, content);
  });

  test('a large upload is hashed as it streams and recorded only up to 1 MiB', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const d = 'sha256:' + createHash('sha256').update(big).digest('hex');
    assert.equal((await rawRequest(emu.url, 'POST', `/api/blobs/${d}`, { body: big })).status, 201);
    const rec = emu.requests.findLast((r) => r.path === `/api/blobs/${d}`)!;
    assert.equal(rec.bodyLength, big.length);
    assert.equal(rec.body.length, 1024 * 1024);
  });

  test('create: files must reference uploaded blobs; from may name an installed model', async () => {
    const missing = await postJson(emu.url, '/api/create', { model: 'mine', files: { 'm.gguf': 'sha256:' + 'b'.repeat(64) } });
    assert.equal(missing.status, 400);
    const fromFiles = ndjson(await (await postJson(emu.url, '/api/create', { model: 'mine', files: { 'm.gguf': digest } })).text());
    assert.deepEqual(fromFiles.at(-1), { status: 'success' });
    const fromModel = await postJson(emu.url, '/api/create', { model: 'mine2', from: 'llama3', stream: false });
    assert.deepEqual(await fromModel.json(), { status: 'success' });
    const names = await installed();
    assert.ok(names.includes('mine:latest') && names.includes('mine2:latest'));
    assert.equal((await postJson(emu.url, '/api/create', { model: 'nothing' })).status, 400);
  });
});

describe('account and cloud routes', () => {
  test('me, signout, key delete, web search and fetch', async () => {
    const me = (await (await fetch(emu.url + '/api/me', { method: 'POST' })).json()) as Record<string, unknown>;
    for (const k of ['id', 'email', 'name', 'plan']) assert.equal(typeof me[k], 'string', k);
    assert.equal((await fetch(emu.url + '/api/signout', { method: 'POST' })).status, 200);
    assert.equal((await fetch(emu.url + '/api/user/keys/c3NoLWVkMjU1MTk', { method: 'DELETE' })).status, 200);
    const search = (await (await postJson(emu.url, '/api/experimental/web_search', { query: 'ollama', max_results: 2 })).json()) as {
      results: unknown[];
    };
    assert.equal(search.results.length, 2);
    const page = (await (await postJson(emu.url, '/api/experimental/web_fetch', { url: 'https://example.com' })).json()) as Record<string, unknown>;
    assert.equal(typeof page['content'], 'string');
  });
});
