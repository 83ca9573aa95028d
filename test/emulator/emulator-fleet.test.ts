// Fleet mode (scheduler.ts): a node schedules model runs as Ollama's scheduler does. Each test
// starts its own node with the options it is about; times are kept short but far apart enough
// (a load of 150 ms against answers of a few ms) that a slow machine does not flip a result.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { parseFleetArgs } from './fleet-main.js';
import { MAX_QUEUE_ERROR, startEmulator, type Emulator, type EmulatorOptions } from './index.js';
import { postJson } from './test-support.js';

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function node(opts: EmulatorOptions): Promise<Emulator> {
  emu = await startEmulator(opts);
  return emu;
}

interface Streamed {
  status: number;
  /** ms from sending the request to the first body bytes */
  ttft: number;
  /** ms from sending to the end of the body */
  total: number;
  lines: Array<Record<string, unknown>>;
  body: string;
  /** performance.now() at the end */
  endedAt: number;
  startedAt: number;
}

/** A native /api/chat (streamed unless `extra` says otherwise), timed on the client side. */
async function chat(e: Emulator, model: string, extra: Record<string, unknown> = {}, signal?: AbortSignal): Promise<Streamed> {
  const startedAt = performance.now();
  const res = await fetch(e.url + '/api/chat', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi there' }], ...extra }),
    ...(signal ? { signal } : {}),
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let body = '';
  let ttft = -1;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (ttft < 0) ttft = performance.now() - startedAt;
    body += decoder.decode(value, { stream: true });
  }
  const endedAt = performance.now();
  const lines = res.headers.get('content-type')?.includes('ndjson') ? body.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
  return { status: res.status, ttft, total: endedAt - startedAt, lines, body, endedAt, startedAt };
}

const finalLine = (s: Streamed): Record<string, unknown> => s.lines[s.lines.length - 1]!;

async function ps(e: Emulator): Promise<Array<{ name: string; expires_at: string }>> {
  return ((await (await fetch(e.url + '/api/ps')).json()) as { models: Array<{ name: string; expires_at: string }> }).models;
}

describe('fleet mode', () => {
  test('at most `parallel` requests run at once per model; the rest wait in order and all succeed', async () => {
    const e = await node({ chunks: 4, chunkDelayMs: 30, fleet: { parallel: 2, maxLoaded: 1, loadMs: 0 } });
    const runs = Array.from({ length: 5 }, () => chat(e, 'llama3'));
    await e.waitFor((x) => x.stats().running === 2 && x.stats().queued === 3);
    const done = await Promise.all(runs);
    assert.deepEqual(done.map((d) => d.status), [200, 200, 200, 200, 200]);
    assert.ok(done.every((d) => finalLine(d)['done'] === true));
    assert.equal(e.maxRunning(), 2);
    assert.equal(e.stats().coldLoads, 1);
    // Three waves of ~90 ms: the fifth request cannot have ended before two earlier ones did.
    const ends = done.map((d) => d.endedAt).sort((a, b) => a - b);
    assert.ok(done[4]!.endedAt >= ends[2]!, 'the last request queued finished among the last');
  });

  test('load time shows as time to first token and as load_duration; a resident model starts at once', async () => {
    const e = await node({ chunks: 3, fleet: { parallel: 1, maxLoaded: 1, loadMs: 150 } });
    const cold = await chat(e, 'llama3');
    assert.equal(cold.status, 200);
    assert.ok(cold.ttft >= 145, `cold TTFT ${cold.ttft} ms should include the 150 ms load`);
    const coldLoad = finalLine(cold)['load_duration'] as number;
    assert.ok(coldLoad >= 145e6 && coldLoad < 1000e6, `load_duration ${coldLoad} ns`);
    assert.equal(finalLine(cold)['total_duration'] as number > coldLoad, true);
    const warm = await chat(e, 'llama3');
    assert.ok(warm.ttft < 100, `warm TTFT ${warm.ttft} ms`);
    assert.equal(finalLine(warm)['load_duration'], 1_000_000);
    const s = e.stats();
    assert.equal(s.coldLoads, 1);
    assert.ok(s.loadMsTotal >= 145 && s.loadMsTotal < 1000, `loadMsTotal ${s.loadMsTotal}`);
  });

  test('non-streamed and /v1 routes wait for the load too; /api/embed reports it', async () => {
    const e = await node({ chunks: 2, fleet: { parallel: 1, maxLoaded: 1, loadMs: 120 } });
    const t0 = performance.now();
    const r = await postJson(e.url, '/api/embed', { model: 'nomic-embed-text', input: 'hello' });
    const body = (await r.json()) as { load_duration: number };
    assert.ok(performance.now() - t0 >= 115);
    assert.ok(body.load_duration >= 115e6, `load_duration ${body.load_duration}`);
    const t1 = performance.now();
    const v1 = await postJson(e.url, '/v1/chat/completions', { model: 'llama3', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(v1.status, 200);
    await v1.json();
    assert.ok(performance.now() - t1 >= 115, 'evicting the embedder and loading llama3 takes a load');
    assert.deepEqual([e.stats().coldLoads, e.stats().evictions], [2, 1]);
  });

  test('maxLoaded 1: another model evicts the idle one, and waits while the resident one is busy', async () => {
    const e = await node({ chunks: 4, chunkDelayMs: 40, fleet: { parallel: 2, maxLoaded: 1, loadMs: 50 } });
    const first = chat(e, 'llama3');
    await e.waitFor((x) => x.stats().running === 1);
    const other = await chat(e, 'mistral'); // llama3 is busy: mistral waits for it, then loads
    const a = await first;
    assert.equal(other.status, 200);
    // llama3 ends, is evicted, mistral loads (50 ms), then streams.
    const mistralFirstByte = other.startedAt + other.ttft;
    assert.ok(mistralFirstByte >= a.endedAt + 30, `mistral's first byte ${(mistralFirstByte - a.endedAt).toFixed(0)} ms after llama3 ended`);
    assert.deepEqual(e.stats().resident, ['mistral:latest']);
    await chat(e, 'llama3');
    const s = e.stats();
    assert.deepEqual([s.coldLoads, s.evictions, s.resident], [3, 2, ['llama3:latest']]);
    assert.equal(e.maxRunning(), 1);
  });

  test('maxLoaded 2: two models stay resident, the least recently used one is evicted for a third', async () => {
    const e = await node({ chunks: 1, fleet: { parallel: 1, maxLoaded: 2, loadMs: 10 } });
    await chat(e, 'llama3');
    await chat(e, 'mistral');
    await chat(e, 'llama3'); // llama3 now used more recently than mistral
    assert.equal(e.stats().coldLoads, 2);
    await chat(e, 'qwen2.5:7b');
    const s = e.stats();
    assert.deepEqual([s.coldLoads, s.evictions], [3, 1]);
    assert.deepEqual([...s.resident].sort(), ['llama3:latest', 'qwen2.5:7b']);
  });

  test('past maxQueue waiting requests the node answers 503 with Ollama\'s text, in each route family\'s shape', async () => {
    const e = await node({ chunks: 5, chunkDelayMs: 40, fleet: { parallel: 1, maxLoaded: 1, loadMs: 0, maxQueue: 2 } });
    await chat(e, 'llama3'); // resident first: a request waiting for a load counts as waiting too
    const held = [chat(e, 'llama3'), chat(e, 'llama3'), chat(e, 'llama3')];
    await e.waitFor((x) => x.stats().running === 1 && x.stats().queued === 2);
    const refused = await postJson(e.url, '/api/chat', { model: 'llama3', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(refused.status, 503);
    assert.deepEqual(await refused.json(), { error: MAX_QUEUE_ERROR });
    assert.equal(MAX_QUEUE_ERROR, 'server busy, please try again.  maximum pending requests exceeded');
    const v1 = await postJson(e.url, '/v1/chat/completions', { model: 'llama3', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(v1.status, 503);
    assert.equal(((await v1.json()) as { error: { message: string } }).error.message, MAX_QUEUE_ERROR);
    assert.equal(e.stats().busy503, 2);
    assert.deepEqual((await Promise.all(held)).map((h) => h.status), [200, 200, 200]);
  });

  test('a client that leaves while queued leaves the queue; one that leaves while running frees its slot', async () => {
    const e = await node({ chunks: 20, chunkDelayMs: 50, fleet: { parallel: 1, maxLoaded: 1, loadMs: 0 } });
    const runningAc = new AbortController();
    const running = chat(e, 'llama3', {}, runningAc.signal).catch((err: Error) => err);
    await e.waitFor((x) => x.stats().running === 1);
    const queuedAc = new AbortController();
    const queued = chat(e, 'llama3', {}, queuedAc.signal).catch((err: Error) => err);
    await e.waitFor((x) => x.stats().queued === 1);
    queuedAc.abort();
    assert.ok((await queued) instanceof Error);
    await e.waitFor((x) => x.stats().queued === 0 && x.requests[1]!.aborted);
    assert.equal(e.stats().running, 1);

    const thirdAc = new AbortController();
    const third = chat(e, 'llama3', {}, thirdAc.signal).catch((err: Error) => err);
    await e.waitFor((x) => x.stats().queued === 1);
    runningAc.abort(); // about 20 × 50 ms were left: the slot must free now, not in a second
    assert.ok((await running) instanceof Error);
    await e.waitFor((x) => x.stats().running === 1 && x.stats().queued === 0, 400);
    thirdAc.abort();
    await third;
    await e.waitFor((x) => x.stats().running === 0);
    assert.equal(e.maxRunning(), 1);
  });

  test('/api/ps lists resident models (not loading ones) with expires_at, and drops them when keep_alive runs out', async () => {
    const e = await node({ chunks: 1, fleet: { parallel: 1, maxLoaded: 2, loadMs: 100, keepAliveMs: 300 } });
    const loading = chat(e, 'llama3');
    await e.waitFor((x) => x.stats().queued === 0 && x.requests.length === 1);
    assert.deepEqual(await ps(e), [], 'a model still loading is not listed');
    await loading;
    const before = Date.now();
    await chat(e, 'mistral', { keep_alive: '10m' });
    const listed = await ps(e);
    assert.deepEqual(listed.map((m) => m.name).sort(), ['llama3:latest', 'mistral:latest']);
    const expires = (name: string): number => Date.parse(listed.find((m) => m.name === name)!.expires_at);
    assert.ok(Math.abs(expires('llama3:latest') - (before + 300)) < 250, 'default keep_alive 300 ms');
    assert.ok(Math.abs(expires('mistral:latest') - (before + 600_000)) < 2000, 'keep_alive 10m');
    await e.waitFor((x) => x.stats().resident.length === 1, 2000);
    assert.deepEqual((await ps(e)).map((m) => m.name), ['mistral:latest']);
    assert.equal(e.stats().expirations, 1);
    assert.equal(e.stats().evictions, 0);
  });

  test('keep_alive 0 unloads the model after the request; an empty prompt with keep_alive 0 unloads a resident one', async () => {
    const e = await node({ chunks: 2, fleet: { parallel: 1, maxLoaded: 1, loadMs: 20 } });
    const r = await chat(e, 'llama3', { keep_alive: 0 });
    assert.equal(r.status, 200);
    assert.deepEqual(e.stats().resident, []);
    assert.deepEqual(await ps(e), []);
    const load = await postJson(e.url, '/api/generate', { model: 'mistral' });
    assert.equal(((await load.json()) as { done_reason: string }).done_reason, 'load');
    assert.deepEqual(e.stats().resident, ['mistral:latest']);
    const unload = await postJson(e.url, '/api/generate', { model: 'mistral', keep_alive: 0 });
    assert.equal(((await unload.json()) as { done_reason: string }).done_reason, 'unload');
    assert.deepEqual(e.stats().resident, []);
    assert.deepEqual([e.stats().coldLoads, e.stats().expirations, e.stats().evictions], [2, 2, 0]);
  });

  test('counters: a model that is not installed counts as notFound on model-running routes only; install/uninstall; reset', async () => {
    const e = await node({ chunks: 1, models: ['llama3'], fleet: { parallel: 1, maxLoaded: 1, loadMs: 0 } });
    assert.equal((await chat(e, 'mistral')).status, 404);
    assert.equal((await postJson(e.url, '/v1/embeddings', { model: 'nomic-embed-text', input: 'x' })).status, 404);
    assert.equal((await postJson(e.url, '/api/show', { model: 'mistral' })).status, 404);
    assert.equal(e.stats().notFound, 2);
    assert.equal(e.install('mistral'), true);
    assert.equal((await chat(e, 'mistral')).status, 200);
    assert.equal(e.uninstall('mistral'), true);
    assert.equal(e.uninstall('mistral'), false);
    assert.deepEqual(e.stats().resident, [], 'uninstalling a resident model unloads it');
    e.reset();
    const s = e.stats();
    assert.deepEqual([s.notFound, s.coldLoads, s.busy503, s.maxRunning], [0, 0, 0, 0]);
  });

  test('without fleet options every request runs at once and load_duration stays 1 ms', async () => {
    const e = await node({ chunks: 3, chunkDelayMs: 20 });
    const runs = await Promise.all([chat(e, 'llama3'), chat(e, 'mistral'), chat(e, 'llama3')]);
    assert.ok(runs.every((r) => r.status === 200 && finalLine(r)['load_duration'] === 1_000_000));
    assert.equal(e.maxRunning(), 3);
    assert.deepEqual([e.stats().coldLoads, e.stats().queued], [0, 0]);
  });

  test('fleet-main reads flags and EMULATOR_FLEET (flags win); no fleet option, no fleet mode', () => {
    assert.deepEqual(parseFleetArgs(['--models', 'm1, m2', '--parallel', '2', '--load-ms', '500'], '{"maxLoaded":1,"parallel":4,"maxQueue":9}'), {
      port: 0,
      models: ['m1', 'm2'],
      fleet: { parallel: 2, maxLoaded: 1, loadMs: 500, maxQueue: 9 },
    });
    assert.deepEqual(parseFleetArgs(['--port', '0', '--chunks', '3', '--delay', '5'], undefined), { port: 0, chunks: 3, chunkDelayMs: 5 });
    assert.throws(() => parseFleetArgs(['--parallel', '-1'], undefined), /non-negative integer/);
    assert.throws(() => parseFleetArgs(['--nope', '1'], undefined), /unknown option/);
  });
});
