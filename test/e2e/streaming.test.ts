import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { send } from '../helpers/http.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * Streams pass through chunk by chunk, a client that leaves stops the generation upstream, and
 * upstream failures reach the client in a form its SDK understands.
 */

/** Opens a streaming POST and resolves with the response once headers arrive. */
function openStream(base: string, path: string, key: string, body: unknown) {
  const u = new URL(base);
  const data = JSON.stringify(body);
  return new Promise<{ res: import('node:http').IncomingMessage; req: import('node:http').ClientRequest }>((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: 'POST', path, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => resolve({ res, req }));
    req.on('error', reject);
    req.end(data);
  });
}

function readAll(res: import('node:http').IncomingMessage): Promise<{ text: string; error: Error | null }> {
  return new Promise((resolve) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (text += c));
    res.on('end', () => resolve({ text, error: null }));
    res.on('error', (error) => resolve({ text, error }));
    res.on('aborted', () => resolve({ text, error: new Error('aborted') }));
  });
}

describe('streaming through the gateway', () => {
  let s: Stack;
  let key: string;
  before(async () => {
    s = await startStack({ config: { timeouts: { upstream_headers: '1s' } } });
    key = (await s.createKey('streams')).key;
  });
  after(() => s.close());

  it('NDJSON chunks reach the client while Ollama is still generating (no buffering)', async () => {
    s.emu.reset();
    s.emu.fault({ chunks: 6, chunkDelayMs: 150 });
    const { res } = await openStream(s.gw.url, '/api/chat', key, { model: 'llama3', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(res.headers['content-type'], 'application/x-ndjson');
    const first = await new Promise<string>((r) => res.once('data', (c: Buffer) => r(c.toString())));
    assert.match(first, /"done":false/);
    assert.equal(s.emu.requests[0]!.finished, false, 'the first chunk arrived before Ollama finished the stream');
    const rest = await readAll(res);
    assert.match(rest.text, /"done":true/);
  });

  it('SSE events reach the client while Ollama is still generating', async () => {
    s.emu.reset();
    s.emu.fault({ chunks: 6, chunkDelayMs: 150 });
    const { res } = await openStream(s.gw.url, '/v1/chat/completions', key, { model: 'llama3', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    assert.match(String(res.headers['content-type']), /text\/event-stream/);
    await new Promise<void>((r) => res.once('data', () => r()));
    assert.equal(s.emu.requests[0]!.finished, false);
    const rest = await readAll(res);
    assert.match(rest.text, /data: \[DONE\]/);
  });

  it('a client that disconnects mid-stream aborts the upstream request (the GPU stops)', async () => {
    s.emu.reset();
    s.emu.fault({ chunks: 200, chunkDelayMs: 50 });
    const { res, req } = await openStream(s.gw.url, '/api/generate', key, { model: 'llama3', prompt: 'long story' });
    await new Promise<void>((r) => res.once('data', () => r()));
    assert.equal(s.emu.inFlight(), 1);
    req.destroy();
    await s.emu.waitFor((e) => e.inFlight() === 0 && e.requests[0]!.aborted, 3000);
    assert.equal(s.emu.requests[0]!.aborted, true);
  });

  it('Ollama dying mid-stream: a native client gets a final {"error"} line', async () => {
    s.emu.reset();
    s.emu.fault({ destroyAfter: 2 });
    const { res } = await openStream(s.gw.url, '/api/chat', key, { model: 'llama3', messages: [{ role: 'user', content: 'hi' }] });
    const { text } = await readAll(res);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 3, text);
    assert.equal(lines.at(-1)!.done, undefined);
    assert.match(String(lines.at(-1)!.error), /connection to Ollama broke/);
  });

  it('Ollama dying mid-stream: an OpenAI client gets an error event and no [DONE]', async () => {
    s.emu.reset();
    s.emu.fault({ destroyAfter: 2 });
    const { res } = await openStream(s.gw.url, '/v1/chat/completions', key, { model: 'llama3', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const { text } = await readAll(res);
    assert.match(text, /^data: /);
    assert.doesNotMatch(text, /\[DONE\]/);
    assert.match(text.trimEnd().split('\n').at(-1)!, /^data: \{"error":\{"message":"the connection to Ollama broke mid-stream/);
  });

  it('a native mid-stream error line from Ollama is passed through as the last line', async () => {
    s.emu.reset();
    s.emu.fault({ midStreamErrorAfter: 2 });
    const { res } = await openStream(s.gw.url, '/api/generate', key, { model: 'llama3', prompt: 'x' });
    const { text } = await readAll(res);
    const last = JSON.parse(text.trim().split('\n').at(-1)!) as Record<string, unknown>;
    assert.equal(typeof last.error, 'string');
  });

  it('Ollama too slow to answer → 504 with a clear message', async () => {
    s.emu.reset();
    s.emu.fault({ hangMs: 3000 });
    const res = await send(s.gw.url, 'POST', '/api/chat', { headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ model: 'llama3', messages: [], stream: false }) });
    assert.equal(res.status, 504);
    assert.match(JSON.parse(res.body).error, /did not start answering in time/);
  });

  it('errors Ollama answers before streaming pass through with their status', async () => {
    s.emu.reset();
    const res = await send(s.gw.url, 'POST', '/api/chat', { headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ model: 'not-installed', messages: [] }) });
    assert.equal(res.status, 404);
    assert.match(JSON.parse(res.body).error, /not found/);
  });
});

describe('upstream down', () => {
  let s: Stack;
  let key: string;
  before(async () => {
    s = await startStack();
    key = (await s.createKey('down')).key;
    await s.emu.close();
  });
  after(() => s.close().catch(() => {}));

  it('→ 502 in the route family\'s shape, with a message that says what is wrong', async () => {
    const a = await send(s.gw.url, 'GET', '/api/tags', { headers: { authorization: `Bearer ${key}` } });
    assert.equal(a.status, 502);
    assert.match(JSON.parse(a.body).error, /Ollama is not reachable/);
    const b = await send(s.gw.url, 'GET', '/v1/models', { headers: { authorization: `Bearer ${key}` } });
    assert.equal(b.status, 502);
    assert.match(JSON.parse(b.body).error.message, /Ollama is not reachable/);
  });
});
