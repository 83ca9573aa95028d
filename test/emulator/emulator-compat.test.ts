// The OpenAI- and Anthropic-compatible routes: SSE framing, include_usage variants, /v1/responses
// and /v1/messages event sequences, error shapes, embeddings, models and transcriptions.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startEmulator, type Emulator } from './index.js';
import { multipartBody, postJson, sseFrames } from './test-support.js';

let emu: Emulator;
before(async () => {
  emu = await startEmulator({ chunks: 3 });
});
after(async () => {
  await emu.close();
});
beforeEach(() => emu.reset());

const chat = { model: 'llama3', messages: [{ role: 'user', content: 'hello there' }] };

function data(frame: { data: string }): Record<string, unknown> {
  return JSON.parse(frame.data) as Record<string, unknown>;
}

describe('/v1/chat/completions', () => {
  test('non-streaming by default, always with usage', async () => {
    const res = await postJson(emu.url, '/v1/chat/completions', chat);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    const body = (await res.json()) as Record<string, any>;
    assert.equal(body['object'], 'chat.completion');
    assert.equal(body['choices'][0].message.content, 'Hello from the');
    assert.equal(body['choices'][0].finish_reason, 'stop');
    assert.deepEqual(body['usage'], { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 });
    assert.deepEqual(emu.tokensSent, { prompt: 3, completion: 3 });
  });

  test('streaming without include_usage: role first, finish chunk, [DONE], no usage anywhere', async () => {
    const res = await postJson(emu.url, '/v1/chat/completions', { ...chat, stream: true });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const frames = sseFrames(await res.text());
    assert.equal(frames.length, 5);
    assert.equal(frames.at(-1)!.data, '[DONE]');
    const chunks = frames.slice(0, -1).map(data);
    assert.deepEqual((chunks[0]!['choices'] as any[])[0].delta, { role: 'assistant', content: 'Hello' });
    assert.deepEqual((chunks[1]!['choices'] as any[])[0].delta, { content: ' from' });
    assert.deepEqual((chunks[3]!['choices'] as any[])[0], { index: 0, delta: {}, finish_reason: 'stop' });
    assert.ok(chunks.every((c) => c['usage'] === undefined && c['object'] === 'chat.completion.chunk'));
    assert.deepEqual(emu.tokensSent, { prompt: 0, completion: 0 });
  });

  test('streaming with include_usage adds a choices:[] usage chunk before [DONE]', async () => {
    const res = await postJson(emu.url, '/v1/chat/completions', { ...chat, stream: true, stream_options: { include_usage: true } });
    const frames = sseFrames(await res.text());
    assert.equal(frames.length, 6);
    const usageChunk = data(frames[4]!);
    assert.deepEqual(usageChunk['choices'], []);
    assert.deepEqual(usageChunk['usage'], { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 });
    assert.equal(frames[5]!.data, '[DONE]');
    assert.deepEqual(emu.tokensSent, { prompt: 3, completion: 3 });
  });

  test('max_tokens caps the generation with finish_reason length', async () => {
    const body = (await (await postJson(emu.url, '/v1/chat/completions', { ...chat, max_tokens: 1 })).json()) as Record<string, any>;
    assert.equal(body['choices'][0].finish_reason, 'length');
    assert.equal(body['usage'].completion_tokens, 1);
  });

  test('errors use the OpenAI shape', async () => {
    const missing = await postJson(emu.url, '/v1/chat/completions', { model: 'ghost', messages: chat.messages });
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: { message: "model 'ghost' not found", type: 'not_found_error', param: null, code: null } });
    const empty = await postJson(emu.url, '/v1/chat/completions', { model: 'llama3', messages: [] });
    assert.equal(empty.status, 400);
    assert.equal(((await empty.json()) as any).error.type, 'invalid_request_error');
    const nobody = await postJson(emu.url, '/v1/chat/completions', '');
    assert.deepEqual(((await nobody.json()) as any).error.message, 'EOF');
  });
});

describe('/v1/completions', () => {
  test('include_usage: zero usage on every chunk, the real one in an extra chunk', async () => {
    const res = await postJson(emu.url, '/v1/completions', { model: 'llama3', prompt: 'a b c', stream: true, stream_options: { include_usage: true } });
    const frames = sseFrames(await res.text());
    assert.equal(frames.at(-1)!.data, '[DONE]');
    const chunks = frames.slice(0, -1).map(data);
    const zero = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
    for (const c of chunks.slice(0, -1)) assert.deepEqual(c['usage'], zero);
    assert.equal((chunks[0]!['choices'] as any[])[0].text, 'Hello');
    const last = chunks.at(-1)!;
    assert.deepEqual(last['choices'], []);
    assert.deepEqual(last['usage'], { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 });
    assert.deepEqual(emu.tokensSent, { prompt: 4, completion: 3 });
  });

  test('non-streaming completion', async () => {
    const body = (await (await postJson(emu.url, '/v1/completions', { model: 'llama3', prompt: 'x' })).json()) as Record<string, any>;
    assert.equal(body['object'], 'text_completion');
    assert.equal(body['choices'][0].text, 'Hello from the');
    assert.equal(body['usage'].total_tokens, 5);
  });
});

describe('/v1/responses', () => {
  test('streaming: named events ending in response.completed with usage', async () => {
    const res = await postJson(emu.url, '/v1/responses', { model: 'llama3', input: 'say hi', stream: true });
    const frames = sseFrames(await res.text());
    const events = frames.map((f) => f.event);
    assert.equal(events[0], 'response.created');
    assert.equal(events.at(-1), 'response.completed');
    assert.equal(events.filter((e) => e === 'response.output_text.delta').length, 3);
    for (const f of frames) assert.equal(data(f)['type'], f.event);
    const completed = data(frames.at(-1)!)['response'] as Record<string, any>;
    assert.equal(completed['status'], 'completed');
    assert.deepEqual(completed['usage'], {
      input_tokens: 3,
      output_tokens: 3,
      total_tokens: 6,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens_details: { reasoning_tokens: 0 },
    });
    assert.deepEqual(emu.tokensSent, { prompt: 3, completion: 3 });
  });

  test('non-streaming returns the response object with usage', async () => {
    const input = [{ role: 'user', content: [{ type: 'input_text', text: 'one two three' }] }];
    const body = (await (await postJson(emu.url, '/v1/responses', { model: 'llama3', input, max_output_tokens: 2 })).json()) as Record<string, any>;
    assert.equal(body['object'], 'response');
    assert.equal(body['output'][0].content[0].text, 'Hello from');
    assert.equal(body['usage'].input_tokens, 4);
    assert.equal(body['usage'].output_tokens, 2);
  });
});

describe('/v1/messages', () => {
  const msg = { model: 'llama3', max_tokens: 100, messages: [{ role: 'user', content: 'hi there you' }] };

  test('streaming event order; message_start input_tokens is only an estimate', async () => {
    const res = await postJson(emu.url, '/v1/messages', { ...msg, stream: true });
    const frames = sseFrames(await res.text());
    assert.deepEqual(
      frames.map((f) => f.event),
      ['message_start', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop'],
    );
    const start = data(frames[0]!)['message'] as Record<string, any>;
    const delta = data(frames[6]!);
    assert.deepEqual(delta['usage'], { input_tokens: 4, output_tokens: 3 });
    assert.notEqual(start['usage'].input_tokens, 4);
    assert.deepEqual((delta['delta'] as any).stop_reason, 'end_turn');
    assert.deepEqual(emu.tokensSent, { prompt: 4, completion: 3 });
  });

  test('non-streaming message with usage', async () => {
    const body = (await (await postJson(emu.url, '/v1/messages', { ...msg, max_tokens: 2 })).json()) as Record<string, any>;
    assert.equal(body['type'], 'message');
    assert.deepEqual(body['content'], [{ type: 'text', text: 'Hello from' }]);
    assert.equal(body['stop_reason'], 'max_tokens');
    assert.deepEqual(body['usage'], { input_tokens: 4, output_tokens: 2 });
  });

  test('max_tokens and messages are required; errors use the Anthropic shape', async () => {
    for (const bad of [{ ...msg, max_tokens: 0 }, { ...msg, messages: [] }, { model: 'llama3', messages: msg.messages }]) {
      const res = await postJson(emu.url, '/v1/messages', bad);
      assert.equal(res.status, 400);
      const body = (await res.json()) as Record<string, any>;
      assert.equal(body['type'], 'error');
      assert.equal(body['error'].type, 'invalid_request_error');
      assert.match(body['request_id'], /^req_/);
    }
    const missing = await postJson(emu.url, '/v1/messages', { ...msg, model: 'ghost' });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as any).error.type, 'not_found_error');
  });
});

describe('/v1 embeddings, models, transcriptions', () => {
  test('embeddings report usage', async () => {
    const body = (await (await postJson(emu.url, '/v1/embeddings', { model: 'nomic-embed-text', input: ['a', 'b c'] })).json()) as Record<string, any>;
    assert.equal(body['object'], 'list');
    assert.equal(body['data'].length, 2);
    assert.equal(body['data'][1].index, 1);
    assert.deepEqual(body['usage'], { prompt_tokens: 5, total_tokens: 5 });
    const b64 = (await (await postJson(emu.url, '/v1/embeddings', { model: 'nomic-embed-text', input: 'a', encoding_format: 'base64' })).json()) as any;
    assert.equal(Buffer.from(b64.data[0].embedding, 'base64').length, 16 * 4);
  });

  test('models list and retrieve; unknown is an OpenAI-shaped 404', async () => {
    const list = (await (await fetch(emu.url + '/v1/models')).json()) as Record<string, any>;
    assert.equal(list['object'], 'list');
    assert.ok(list['data'].some((m: any) => m.id === 'llama3:latest' && m.object === 'model'));
    const one = (await (await fetch(emu.url + '/v1/models/llama3')).json()) as Record<string, any>;
    assert.equal(one['id'], 'llama3');
    const ghost = await fetch(emu.url + '/v1/models/ghost');
    assert.equal(ghost.status, 404);
    assert.equal(((await ghost.json()) as any).error.type, 'not_found_error');
  });

  test('transcriptions read multipart model and file', async () => {
    const boundary = 'XyZ123';
    const headers = { 'Content-Type': `multipart/form-data; boundary=${boundary}` };
    const ok = await fetch(emu.url + '/v1/audio/transcriptions', {
      method: 'POST',
      headers,
      body: multipartBody(boundary, [{ name: 'model', value: 'llama3' }, { name: 'file', filename: 'a.wav', value: Buffer.alloc(10) }]),
    });
    assert.equal(ok.status, 200);
    assert.match(((await ok.json()) as { text: string }).text, /a\.wav \(10 bytes\)/);
    const noFile = await fetch(emu.url + '/v1/audio/transcriptions', { method: 'POST', headers, body: multipartBody(boundary, [{ name: 'model', value: 'llama3' }]) });
    assert.equal(noFile.status, 400);
    const noModel = await fetch(emu.url + '/v1/audio/transcriptions', {
      method: 'POST',
      headers,
      body: multipartBody(boundary, [{ name: 'file', filename: 'a.wav', value: 'x' }]),
    });
    assert.equal(noModel.status, 400);
    assert.equal(((await noModel.json()) as any).error.type, 'invalid_request_error');
  });
});
