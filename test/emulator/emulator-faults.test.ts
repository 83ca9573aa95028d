// Fault injection, client aborts and the helpers tests rely on (inFlight, waitFor, reset).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startEmulator, type Emulator } from './index.js';
import { postJson, readChunks, sseFrames } from './test-support.js';

let emu: Emulator;
before(async () => {
  emu = await startEmulator({ chunks: 5 });
});
after(async () => {
  await emu.close();
});
beforeEach(() => emu.reset());

const gen = { model: 'llama3', prompt: 'hi' };
const isGenerate = (r: { path: string }): boolean => r.path === '/api/generate';

describe('faults', () => {
  test('status fault answers instead of the handler, once by default', async () => {
    emu.fault({ status: 500, body: '{"error":"boom"}', contentType: 'application/json' });
    const first = await postJson(emu.url, '/api/generate', gen);
    assert.equal(first.status, 500);
    assert.deepEqual(await first.json(), { error: 'boom' });
    const second = await postJson(emu.url, '/api/generate', gen);
    assert.equal(second.status, 200);
    await second.text();
  });

  test('match selects the request and times counts uses; 404s do not consume faults', async () => {
    emu.fault({ match: isGenerate, status: 503, times: 2 });
    assert.equal((await fetch(emu.url + '/nope')).status, 404);
    assert.equal((await fetch(emu.url + '/api/tags')).status, 200);
    assert.equal((await postJson(emu.url, '/api/generate', gen)).status, 503);
    assert.equal((await postJson(emu.url, '/api/generate', gen)).status, 503);
    const ok = await postJson(emu.url, '/api/generate', gen);
    assert.equal(ok.status, 200);
    await ok.text();
  });

  test('midStreamErrorAfter on NDJSON: N chunks, then a native error line, status 200', async () => {
    emu.fault({ midStreamErrorAfter: 2 });
    const res = await postJson(emu.url, '/api/generate', gen);
    assert.equal(res.status, 200);
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 3);
    assert.equal(lines[1]!['done'], false);
    assert.equal(typeof lines[2]!['error'], 'string');
    assert.deepEqual(emu.tokensSent, { prompt: 0, completion: 0 });
  });

  test('midStreamErrorAfter on SSE: the stream just ends without [DONE] / message_stop', async () => {
    emu.fault({ midStreamErrorAfter: 2 });
    const frames = sseFrames(await (await postJson(emu.url, '/v1/chat/completions', { ...gen, messages: [{ role: 'user', content: 'x' }], stream: true })).text());
    assert.equal(frames.length, 2);
    assert.ok(frames.every((f) => f.data !== '[DONE]'));
    emu.fault({ midStreamErrorAfter: 3 });
    const msg = sseFrames(await (await postJson(emu.url, '/v1/messages', { model: 'llama3', max_tokens: 9, stream: true, messages: [{ role: 'user', content: 'x' }] })).text());
    assert.equal(msg.length, 3);
    assert.ok(!msg.some((f) => f.event === 'message_stop'));
  });

  test('destroyAfter: N chunks, then the socket dies', async () => {
    emu.fault({ destroyAfter: 2 });
    const res = await postJson(emu.url, '/api/chat', { model: 'llama3', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(res.status, 200);
    await assert.rejects(res.text());
    await emu.waitFor((e) => e.inFlight() === 0);
    const rec = emu.requests.at(-1)!;
    assert.equal(rec.finished, false);
    assert.equal(rec.aborted, false, 'a socket killed by the emulator is not a client abort');
  });

  test('destroyAfter 0 on a non-streamed reply kills the connection before any header', async () => {
    emu.fault({ destroyAfter: 0 });
    await assert.rejects(fetch(emu.url + '/api/tags'));
  });

  test('hangMs delays the headers', async () => {
    emu.fault({ hangMs: 150 });
    const t0 = Date.now();
    const res = await fetch(emu.url + '/api/version');
    assert.ok(Date.now() - t0 >= 140);
    assert.equal(res.status, 200);
  });

  test('per-fault chunks and chunkDelayMs apply to that request only', async () => {
    emu.fault({ chunks: 2, chunkDelayMs: 30 });
    const res = await postJson(emu.url, '/api/generate', gen);
    const chunks = await readChunks(res);
    const lines = chunks.join('').trim().split('\n');
    assert.equal(lines.length, 3);
    assert.ok(chunks.length >= 2, 'delayed chunks arrive as separate reads');
  });
});

describe('client aborts', () => {
  test('aborting mid-stream marks the record and stops generation at once', async () => {
    emu.fault({ chunks: 10_000, chunkDelayMs: 5 });
    const res = await postJson(emu.url, '/api/generate', gen);
    const reader = res.body!.getReader();
    await reader.read(); // first token arrived: generation is running
    assert.equal(emu.inFlight(), 1);
    const t0 = Date.now();
    await reader.cancel();
    await emu.waitFor((e) => e.inFlight() === 0, 1000);
    assert.ok(Date.now() - t0 < 500, 'the handler stopped long before 10 000 tokens');
    const rec = emu.requests.at(-1)!;
    assert.equal(rec.aborted, true);
    assert.equal(rec.finished, false);
    assert.deepEqual(emu.tokensSent, { prompt: 0, completion: 0 });
  });

  test('aborting a slow non-streamed request also stops it', async () => {
    emu.fault({ chunks: 10_000, chunkDelayMs: 5 });
    const ac = new AbortController();
    const pending = fetch(emu.url + '/api/chat', {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3', stream: false, messages: [{ role: 'user', content: 'x' }] }),
      signal: ac.signal,
    });
    await emu.waitFor((e) => e.requests.length === 1 && e.requests[0]!.bodyLength > 0);
    ac.abort();
    await assert.rejects(pending);
    await emu.waitFor((e) => e.inFlight() === 0 && e.requests[0]!.aborted, 1000);
  });
});

describe('helpers', () => {
  test('waitFor rejects on timeout; reset clears requests, faults and counters', async () => {
    await assert.rejects(emu.waitFor(() => false, 50), /within 50 ms/);
    await (await postJson(emu.url, '/api/embed', { model: 'nomic-embed-text', input: 'a' })).text();
    assert.deepEqual(emu.tokensSent, { prompt: 2, completion: 0 });
    emu.fault({ status: 500 });
    emu.reset();
    assert.equal(emu.requests.length, 0);
    assert.deepEqual(emu.tokensSent, { prompt: 0, completion: 0 });
    emu.fault({ status: 500 });
    emu.clearFaults();
    assert.equal((await fetch(emu.url + '/api/tags')).status, 200);
  });
});
