import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { refuse } from '../core/errors.js';
import { UsageTap } from './accounting/usage-tap.js';
import { brokenStreamEvent, brokenStreamMessage } from './stream-break.js';

/** Parses SSE text the way the SDKs do: events split on blank lines, `data:` lines joined. */
function events(text: string): Array<{ event: string | null; data: string }> {
  const out: Array<{ event: string | null; data: string }> = [];
  let event: string | null = null;
  let data: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') {
      if (event !== null || data.length) out.push({ event, data: data.join('\n') });
      event = null;
      data = [];
    } else if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
  }
  return out;
}

describe('brokenStreamEvent', () => {
  const msg = brokenStreamMessage(refuse('GW_ERR_UPSTREAM_RESET', 'x'));

  it('OpenAI chat/completions: one data event whose JSON has an error object (what the SDKs raise on)', () => {
    const e = events(brokenStreamEvent('openai-chat', msg, 0));
    assert.equal(e.length, 1);
    assert.equal(e[0]!.event, null);
    assert.deepEqual(JSON.parse(e[0]!.data), { error: { message: msg, type: 'api_error', param: null, code: 'GW_ERR_UPSTREAM_STREAM_BROKEN' } });
  });

  it('Responses: an `error` event with the next sequence number and an error object', () => {
    const e = events(brokenStreamEvent('openai-responses', msg, 7));
    assert.equal(e[0]!.event, 'error');
    const d = JSON.parse(e[0]!.data) as Record<string, unknown>;
    assert.equal(d.type, 'error');
    assert.equal(d.sequence_number, 7);
    assert.equal(d.message, msg);
    assert.equal((d.error as Record<string, unknown>).message, msg);
  });

  it('Anthropic: `event: error` with Anthropic\'s error shape', () => {
    const e = events(brokenStreamEvent('anthropic-messages', msg, 3));
    assert.equal(e[0]!.event, 'error');
    assert.deepEqual(JSON.parse(e[0]!.data), { type: 'error', error: { type: 'api_error', message: msg } });
  });

  it('a held, unterminated event is delivered before the error, not merged into it', () => {
    const held = 'data: {"id":"1","choices":[]}\n';
    const e = events(held + brokenStreamEvent('openai-chat', msg, 0));
    assert.equal(e.length, 2);
    assert.deepEqual(JSON.parse(e[0]!.data), { id: '1', choices: [] });
    assert.ok((JSON.parse(e[1]!.data) as { error?: unknown }).error);
  });

  it('messages name what happened and what to do, without upstream internals', () => {
    const reset = refuse('GW_ERR_UPSTREAM_RESET', 'x', { cause: Object.assign(new Error('read ECONNRESET 10.0.0.5:11434'), { code: 'ECONNRESET' }) });
    for (const m of [brokenStreamMessage(reset), brokenStreamMessage(refuse('GW_ERR_UPSTREAM_TIMEOUT', 'x')), brokenStreamMessage(null)]) {
      assert.match(m, /mid-stream.*; the answer is incomplete \(retry the request\)$/);
      assert.doesNotMatch(m, /ECONNRESET|10\.0\.0\.5|11434/);
    }
  });
});

describe('UsageTap: the end of an SSE stream', () => {
  const feed = (kind: 'openai-chat' | 'openai-responses' | 'anthropic-messages', text: string): UsageTap => {
    const tap = new UsageTap({ kind, mode: 'sse', stripInjectedUsage: false });
    tap.data(Buffer.from(text));
    tap.end();
    return tap;
  };

  it('sees [DONE], message_stop, and every final Responses event (completed, failed, incomplete)', () => {
    assert.equal(feed('openai-chat', 'data: {"choices":[]}\n\ndata: [DONE]\n\n').sawEnd, true);
    assert.equal(feed('anthropic-messages', 'event: message_stop\ndata: {"type":"message_stop"}\n\n').sawEnd, true);
    for (const ev of ['response.completed', 'response.failed', 'response.incomplete']) {
      assert.equal(feed('openai-responses', `event: ${ev}\ndata: {"type":"${ev}","response":{}}\n\n`).sawEnd, true, ev);
    }
  });

  it('a stream that stops before its final event is not taken as ended; named events are counted', () => {
    const chat = feed('openai-chat', 'data: {"choices":[{"delta":{"content":"a"}}]}\n\n');
    assert.equal(chat.sawEnd, false);
    const resp = feed('openai-responses', 'event: response.created\ndata: {}\n\nevent: response.output_text.delta\ndata: {}\n\n');
    assert.equal(resp.sawEnd, false);
    assert.equal(resp.sseEvents, 2);
  });
});
