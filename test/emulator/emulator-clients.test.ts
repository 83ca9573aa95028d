// The official client libraries (npm `ollama` and `openai`, already dev dependencies) parse the
// emulator's responses: evidence that the framing is what real clients expect.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { startEmulator, type Emulator } from './index.js';

let emu: Emulator;
let ollama: Ollama;
let openai: OpenAI;
before(async () => {
  emu = await startEmulator({ chunks: 4 });
  ollama = new Ollama({ host: emu.url });
  openai = new OpenAI({ baseURL: emu.url + '/v1', apiKey: 'ollama', maxRetries: 0 });
});
after(async () => {
  await emu.close();
});
beforeEach(() => emu.reset());

describe('ollama-js', () => {
  test('streams chat and sees the final counts', async () => {
    let text = '';
    let final: { eval_count: number; prompt_eval_count: number } | undefined;
    for await (const part of await ollama.chat({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: true })) {
      text += part.message.content;
      if (part.done) final = part;
    }
    assert.equal(text, 'Hello from the Ollama');
    assert.equal(final?.eval_count, 4);
    assert.equal(final?.prompt_eval_count, 2);
  });

  test('list, show, embed and a non-streamed generate', async () => {
    assert.ok((await ollama.list()).models.some((m) => m.name === 'mistral:latest'));
    assert.ok((await ollama.show({ model: 'mistral' })).capabilities.includes('completion'));
    assert.equal((await ollama.embed({ model: 'nomic-embed-text', input: ['a', 'b'] })).embeddings.length, 2);
    assert.equal((await ollama.generate({ model: 'llama3', prompt: 'x' })).response, 'Hello from the Ollama');
  });

  test('throws on the in-band error line of a mid-stream fault', async () => {
    emu.fault({ midStreamErrorAfter: 1 });
    await assert.rejects(async () => {
      for await (const part of await ollama.generate({ model: 'llama3', prompt: 'x', stream: true })) void part;
    });
  });
});

describe('openai SDK', () => {
  test('chat stream with include_usage yields the usage chunk', async () => {
    const stream = await openai.chat.completions.create({
      model: 'llama3',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, 'Hello from the Ollama');
    assert.deepEqual(usage, { prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 });
  });

  test('responses stream ends with response.completed', async () => {
    const stream = await openai.responses.create({ model: 'llama3', input: 'hi', stream: true });
    const types: string[] = [];
    let usage: unknown;
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.completed') usage = ev.response.usage;
    }
    assert.equal(types.at(-1), 'response.completed');
    assert.equal((usage as { output_tokens: number }).output_tokens, 4);
  });

  test('models and embeddings; 404 surfaces as NotFoundError', async () => {
    assert.equal((await openai.models.retrieve('llama3')).id, 'llama3');
    assert.equal((await openai.embeddings.create({ model: 'nomic-embed-text', input: 'x' })).data.length, 1);
    await assert.rejects(openai.models.retrieve('ghost'), (err: unknown) => err instanceof OpenAI.NotFoundError);
  });
});
