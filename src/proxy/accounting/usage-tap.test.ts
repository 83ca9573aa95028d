import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { UsageTap, type TapOptions } from './usage-tap.js';

/** Feeds `text` to a tap in pieces cut at `cuts` and returns what the client would receive. */
function run(o: TapOptions, text: string, cuts: number[] = []): { out: string; tap: UsageTap } {
  const tap = new UsageTap(o);
  const buf = Buffer.from(text);
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    if (p <= prev) continue;
    const r = tap.data(buf.subarray(prev, p));
    if (r) out.push(Buffer.from(r));
    prev = p;
  }
  const tail = tap.end();
  if (tail) out.push(tail);
  return { out: Buffer.concat(out).toString(), tap };
}

const ndjson = [
  '{"model":"m","response":"a","done":false}',
  '{"model":"m","response":"b","done":false}',
  '{"model":"m","response":"","done":true,"done_reason":"stop","prompt_eval_count":12,"eval_count":2}',
].join('\n') + '\n';

const chatSse = (withUsage: boolean) =>
  [
    'data: {"id":"1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"a"}}]}',
    'data: {"id":"1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"b"}}]}',
    'data: {"id":"1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
    ...(withUsage ? ['data: {"id":"1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}'] : []),
    'data: [DONE]',
  ].join('\n\n') + '\n\n';

describe('UsageTap', () => {
  it('native NDJSON: counts from the done line, bytes unchanged across any chunking', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 20 }), (cuts) => {
        const { out, tap } = run({ kind: 'ollama-chat', mode: 'ndjson', stripInjectedUsage: false }, ndjson, cuts);
        assert.equal(out, ndjson);
        assert.deepEqual(tap.usage(99), { prompt: 12, completion: 2, estimated: false });
        assert.equal(tap.sawEnd, true);
      }),
    );
  });

  it('OpenAI SSE with usage the client asked for: passed through and counted', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 20 }), (cuts) => {
        const text = chatSse(true);
        const { out, tap } = run({ kind: 'openai-chat', mode: 'sse', stripInjectedUsage: false }, text, cuts);
        assert.equal(out, text);
        assert.deepEqual(tap.usage(0), { prompt: 7, completion: 3, estimated: false });
      }),
    );
  });

  it('OpenAI SSE with usage Gatehouse injected: counted, and the usage chunk removed', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 20 }), (cuts) => {
        const { out, tap } = run({ kind: 'openai-chat', mode: 'sse', stripInjectedUsage: true }, chatSse(true), cuts);
        assert.equal(out, chatSse(false));
        assert.deepEqual(tap.usage(0), { prompt: 7, completion: 3, estimated: false });
      }),
    );
  });

  it('/v1/completions zero usage in every chunk is removed when injected', () => {
    const z = ',"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}';
    const text = `data: {"id":"c","choices":[{"text":"a","index":0}]${z}}\n\ndata: {"id":"c","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":1,"total_tokens":5}}\n\ndata: [DONE]\n\n`;
    const { out, tap } = run({ kind: 'openai-completions', mode: 'sse', stripInjectedUsage: true }, text, [17, 40]);
    assert.equal(out, 'data: {"id":"c","choices":[{"text":"a","index":0}]}\n\ndata: [DONE]\n\n');
    assert.deepEqual(tap.usage(0), { prompt: 4, completion: 1, estimated: false });
  });

  it('Anthropic: message_delta usage wins over the message_start estimate', () => {
    const text = [
      'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":50,"output_tokens":0}}}',
      'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"type":"text_delta","text":"hi"}}',
      'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":9,"output_tokens":4}}',
      'event: message_stop\ndata: {"type":"message_stop"}',
    ].join('\n\n') + '\n\n';
    const { out, tap } = run({ kind: 'anthropic-messages', mode: 'sse', stripInjectedUsage: false }, text, [33, 100, 190]);
    assert.equal(out, text);
    assert.deepEqual(tap.usage(0), { prompt: 9, completion: 4, estimated: false });
  });

  it('Responses: usage from response.completed', () => {
    const text = 'event: response.output_text.delta\ndata: {"delta":"x"}\n\nevent: response.completed\ndata: {"type":"response.completed","response":{"usage":{"input_tokens":5,"output_tokens":6,"total_tokens":11}}}\n\n';
    const { tap } = run({ kind: 'openai-responses', mode: 'sse', stripInjectedUsage: false }, text, [10, 70]);
    assert.deepEqual(tap.usage(0), { prompt: 5, completion: 6, estimated: false });
  });

  it('a stream cut short is estimated from its chunks, never zero', () => {
    const cut = ndjson.split('\n').slice(0, 2).join('\n') + '\n';
    const { tap } = run({ kind: 'ollama-generate', mode: 'ndjson', stripInjectedUsage: false }, cut);
    assert.deepEqual(tap.usage(30), { prompt: 30, completion: 2, estimated: true });
  });

  it('an NDJSON error line from Ollama is reported', () => {
    const { tap } = run({ kind: 'ollama-chat', mode: 'ndjson', stripInjectedUsage: false }, '{"model":"m","done":false}\n{"error":"model crashed"}\n');
    assert.equal(tap.upstreamError, 'model crashed');
  });

  it('non-streamed JSON: model-controlled fields that look like counts do not fool it', () => {
    // Ollama tool-call arguments are objects, so a model can emit "eval_count" keys; the real
    // counts come after them (Metrics are the last fields of the response).
    const body = '{"model":"m","message":{"role":"assistant","content":"\\"eval_count\\":1","tool_calls":[{"function":{"name":"f","arguments":{"eval_count":999999,"prompt_eval_count":888888}}}]},"done":true,"prompt_eval_count":7,"eval_count":3}';
    assert.deepEqual(run({ kind: 'ollama-chat', mode: 'json', stripInjectedUsage: false }, body, [40]).tap.usage(0), { prompt: 7, completion: 3, estimated: false });
    const load = '{"model":"m","created_at":"x","message":{"role":"assistant","content":""},"done":true,"done_reason":"load"}';
    assert.deepEqual(run({ kind: 'ollama-chat', mode: 'json', stripInjectedUsage: false }, load).tap.usage(50), { prompt: 0, completion: 0, estimated: false });
  });

  it('non-streamed JSON: parsed whole when small, scanned when large', () => {
    const small = '{"model":"m","message":{"role":"assistant","content":"x"},"done":true,"prompt_eval_count":3,"eval_count":4}';
    assert.deepEqual(run({ kind: 'ollama-chat', mode: 'json', stripInjectedUsage: false }, small, [5]).tap.usage(0), { prompt: 3, completion: 4, estimated: false });
    const big = `{"model":"m","embeddings":[[${'0.1,'.repeat(2_000_000)}0.1]],"prompt_eval_count":77}`;
    assert.deepEqual(run({ kind: 'ollama-embed', mode: 'json', stripInjectedUsage: false, maxJson: 1024 }, big, [1000, 500000, 5000000]).tap.usage(0), { prompt: 77, completion: 0, estimated: false });
  });
});
