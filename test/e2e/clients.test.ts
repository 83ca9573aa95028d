import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * The "done when": real, unmodified clients (the `ollama` and `openai` npm packages)
 * pointed at a real gateway process with a key, talking to the Ollama emulator behind it.
 */
describe('real clients through a gateway process', () => {
  let s: Stack;
  let key: string;
  let ollama: Ollama;
  let openai: OpenAI;

  before(async () => {
    s = await startStack();
    key = (await s.createKey('clients')).key;
    ollama = new Ollama({ host: s.gw.url, headers: { Authorization: `Bearer ${key}` } });
    openai = new OpenAI({ baseURL: `${s.gw.url}/v1`, apiKey: key, maxRetries: 0 });
  });
  after(() => s.close());

  it('ollama-js chat, non-streaming', async () => {
    const r = await ollama.chat({ model: 'llama3', messages: [{ role: 'user', content: 'hello there' }] });
    assert.equal(r.done, true);
    assert.ok(r.message.content.length > 0);
    assert.ok((r.eval_count ?? 0) > 0);
  });

  it('ollama-js chat, streaming: every chunk arrives and the last one is done', async () => {
    const parts: string[] = [];
    let last: { done: boolean; eval_count?: number } | null = null;
    for await (const chunk of await ollama.chat({ model: 'llama3', messages: [{ role: 'user', content: 'stream please' }], stream: true })) {
      parts.push(chunk.message.content);
      last = chunk;
    }
    assert.ok(parts.length >= 2, `expected several chunks, got ${parts.length}`);
    assert.equal(last?.done, true);
  });

  it('ollama-js generate, streaming and not', async () => {
    const r = await ollama.generate({ model: 'llama3', prompt: 'why is the sky blue' });
    assert.equal(r.done, true);
    let n = 0;
    for await (const c of await ollama.generate({ model: 'llama3', prompt: 'count', stream: true })) if (!c.done) n++;
    assert.ok(n >= 1);
  });

  it('ollama-js embed, tags, show, ps', async () => {
    const e = await ollama.embed({ model: 'nomic-embed-text', input: ['a', 'b'] });
    assert.equal(e.embeddings.length, 2);
    const tags = await ollama.list();
    assert.ok(tags.models.some((m) => m.name === 'llama3:latest'));
    const show = await ollama.show({ model: 'llama3' });
    assert.ok(show.details);
    const ps = await ollama.ps();
    assert.ok(Array.isArray(ps.models));
  });

  it('OpenAI SDK chat (plain and streamed), embeddings, models', async () => {
    const c = await openai.chat.completions.create({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }] });
    assert.ok(c.choices[0]?.message.content);
    assert.ok((c.usage?.total_tokens ?? 0) > 0);
    let text = '';
    const stream = await openai.chat.completions.create({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: true });
    for await (const chunk of stream) {
      // Gatehouse asks Ollama for usage but strips it again: this client did not ask.
      assert.equal(chunk.usage ?? undefined, undefined);
      text += chunk.choices[0]?.delta.content ?? '';
    }
    assert.ok(text.length > 0);
    const emb = await openai.embeddings.create({ model: 'nomic-embed-text', input: 'hello' });
    assert.ok(emb.data[0]!.embedding.length > 0);
    const models = await openai.models.list();
    assert.ok(models.data.some((m) => m.id === 'llama3:latest'));
    const one = await openai.models.retrieve('llama3:latest');
    assert.equal(one.id, 'llama3:latest');
  });

  it('a wrong key gets the SDK\'s authentication error and nothing reaches Ollama', async () => {
    s.emu.reset();
    const bad = new OpenAI({ baseURL: `${s.gw.url}/v1`, apiKey: 'gatehouse_wrong', maxRetries: 0 });
    await assert.rejects(bad.chat.completions.create({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }] }), (e: Error & { status?: number }) => e.status === 401);
    const badOllama = new Ollama({ host: s.gw.url, headers: { Authorization: 'Bearer nope' } });
    await assert.rejects(badOllama.list(), /invalid API key/);
    assert.equal(s.emu.requests.length, 0);
  });
});
