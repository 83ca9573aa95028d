import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { refuse } from '../core/errors.js';
import { POLICY_FIELDS } from '../policy/go-keys.js';
import { parseRequestBody } from '../policy/json-body.js';
import { upstreamRequestHeaders } from '../proxy/headers.js';
import { ROUTES } from '../routes/table.js';
import { anthropic, DIALECTS, dialectForPath, dialectOfAccounting, ollama, openai, type Accounting } from './index.js';

/**
 * The dialect registry as a whole: every route row points at one of the dialects and stays within
 * its vocabulary, and each dialect writes errors, broken streams and reads usage in its clients' forms.
 */

const ALL_KINDS: readonly Accounting[] = [
  'none', 'ollama-generate', 'ollama-chat', 'ollama-embed', 'ollama-embeddings', 'openai-chat', 'openai-completions',
  'openai-embeddings', 'openai-responses', 'anthropic-messages', 'openai-transcription',
];

describe('dialect registry', () => {
  it('every route row has one of the dialects, the one its path names, and an accounting kind of that dialect', () => {
    for (const route of ROUTES) {
      assert.ok(DIALECTS.includes(route.dialect), route.id);
      assert.equal(dialectForPath(route.path), route.dialect, route.id);
      if (route.accounting !== 'none') assert.ok(route.dialect.accounting.includes(route.accounting), `${route.id}: ${route.accounting}`);
      for (const f of route.modelFields) assert.ok(route.dialect.modelFields.includes(f), `${route.id}: ${f}`);
    }
  });

  it('each dialect has routes, and each accounting kind but none belongs to exactly one dialect', () => {
    for (const d of DIALECTS) assert.ok(ROUTES.some((r) => r.dialect === d), d.id);
    assert.deepEqual(DIALECTS.map((d) => d.id), ['ollama', 'openai', 'anthropic']);
    for (const kind of ALL_KINDS) {
      const owners = DIALECTS.filter((d) => d.accounting.includes(kind));
      assert.equal(owners.length, kind === 'none' ? 0 : 1, kind);
      if (kind !== 'none') assert.equal(dialectOfAccounting(kind), owners[0]);
    }
  });

  it('paths that match no route take the dialect of their prefix', () => {
    assert.equal(dialectForPath('/api/nope'), ollama);
    assert.equal(dialectForPath('/nope'), ollama);
    assert.equal(dialectForPath('/v1/nope'), openai);
    assert.equal(dialectForPath('/v1/messages/count_tokens'), anthropic);
    assert.equal(dialectForPath('/v1/messagesx'), openai);
  });

  it('every field a dialect names a model or carries the output cap in is decoded by policy, and its case variants refused', () => {
    for (const d of DIALECTS) {
      for (const f of [...d.modelFields, ...d.outputFields]) {
        const body = parseRequestBody(Buffer.from(JSON.stringify({ [f]: 5 })));
        assert.ok(!('code' in body) && body.fields[f] === 5, `${d.id}: ${f}`);
        assert.ok(POLICY_FIELDS.has(f), `${d.id}: ${f}`);
      }
    }
  });

  it('no dialect\'s credential header is forwarded to Ollama', () => {
    const h: Record<string, string> = { 'content-type': 'application/json' };
    for (const d of DIALECTS) for (const name of d.credentialHeaders) h[name] = 'secret';
    assert.ok(Object.keys(h).includes('x-api-key') && Object.keys(h).includes('authorization'));
    const out = upstreamRequestHeaders(h, 'upstream', 'req-1', null);
    assert.deepEqual(out, ['host', 'upstream', 'x-request-id', 'req-1', 'content-type', 'application/json']);
  });
});

describe('dialect error bodies', () => {
  const err = refuse('GW_ERR_RATE_LIMITED', 'slow down');
  const hidden = refuse('GW_ERR_MODEL_NOT_ALLOWED', "model 'x' not found");

  it('ollama: {"error": message}, with any extra fields', () => {
    assert.deepEqual(JSON.parse(ollama.errorBody(err, 'r1')), { error: 'slow down' });
    const extra = refuse('GW_ERR_RATE_LIMITED', 'slow down', { extra: { hint: 'wait' } });
    assert.deepEqual(JSON.parse(ollama.errorBody(extra, 'r1')), { error: 'slow down', hint: 'wait' });
  });

  it('openai: {"error": {message, type, param: null, code}}, no code when disguised as a missing model', () => {
    assert.deepEqual(JSON.parse(openai.errorBody(err, 'r1')), { error: { message: 'slow down', type: 'rate_limit_error', param: null, code: 'GW_ERR_RATE_LIMITED' } });
    assert.deepEqual(JSON.parse(openai.errorBody(hidden, 'r1')), { error: { message: "model 'x' not found", type: 'not_found_error', param: null, code: null } });
  });

  it('anthropic: {"type":"error","error":{type, message},"request_id"}', () => {
    assert.deepEqual(JSON.parse(anthropic.errorBody(err, 'r1')), { type: 'error', error: { type: 'rate_limit_error', message: 'slow down' }, request_id: 'r1' });
    assert.equal(JSON.parse(anthropic.errorBody(refuse('GW_ERR_BODY_TOO_LARGE', 'big'), 'r1')).error.type, 'request_too_large');
  });

  it('missing model: each dialect\'s bytes and Content-Type as Go writes them', () => {
    assert.equal(ollama.notFoundBody("model 'x' not found"), '{"error":"model \'x\' not found"}');
    assert.equal(ollama.notFoundType, 'application/json; charset=utf-8');
    assert.equal(openai.notFoundBody('m'), '{"error":{"message":"m","type":"not_found_error","param":null,"code":null}}\n');
    assert.equal(openai.notFoundType, 'application/json');
    assert.match(anthropic.notFoundBody('m'), /^\{"type":"error","error":\{"type":"not_found_error","message":"m"\},"request_id":"req_[0-9a-f]{24}"\}\n$/);
    assert.equal(anthropic.notFoundType, 'application/json');
  });
});

describe('dialect in-stream errors', () => {
  it('ollama ends a broken NDJSON stream with an error line; the others have none', () => {
    assert.equal(ollama.ndjsonErrorLine!('broke'), '{"error":"broke"}\n');
    assert.equal(openai.ndjsonErrorLine, null);
    assert.equal(anthropic.ndjsonErrorLine, null);
  });

  it('openai: a data: error on chat/completions, an error event on responses; anthropic: event: error', () => {
    const data = '\n\ndata: {"error":{"message":"m","type":"api_error","param":null,"code":"GW_ERR_UPSTREAM_STREAM_BROKEN"}}\n\n';
    assert.equal(openai.sseErrorEvent('openai-chat', 'm', 0), data);
    assert.equal(openai.sseErrorEvent('openai-completions', 'm', 0), data);
    assert.equal(ollama.sseErrorEvent('ollama-chat', 'm', 0), data);
    const responses = JSON.parse(openai.sseErrorEvent('openai-responses', 'm', 4).split('data: ')[1]!);
    assert.deepEqual(responses, {
      type: 'error', sequence_number: 4, code: 'GW_ERR_UPSTREAM_STREAM_BROKEN', message: 'm', param: null,
      error: { type: 'api_error', code: 'GW_ERR_UPSTREAM_STREAM_BROKEN', message: 'm', param: null },
    });
    assert.match(openai.sseErrorEvent('openai-responses', 'm', 4), /^\n\nevent: error\ndata: /);
    assert.equal(anthropic.sseErrorEvent('anthropic-messages', 'm', 2), '\n\nevent: error\ndata: {"type":"error","error":{"type":"api_error","message":"m"}}\n\n');
  });
});

describe('dialect usage', () => {
  it('ollama: counts only in the final done object (embed: prompt only)', () => {
    assert.equal(ollama.counts('ollama-chat', { done: false, eval_count: 3 }, null), null);
    assert.deepEqual(ollama.counts('ollama-generate', { done: true, prompt_eval_count: 12, eval_count: 2 }, null), { prompt: 12, completion: 2 });
    assert.deepEqual(ollama.counts('ollama-embed', { prompt_eval_count: 7 }, null), { prompt: 7, completion: 0 });
    assert.equal(ollama.counts('ollama-embeddings', { prompt_eval_count: 7 }, null), null);
    assert.deepEqual(ollama.countFieldNames('ollama-chat'), ['prompt_eval_count', 'eval_count']);
  });

  it('openai: usage objects; zeroed per-chunk usage of /v1/completions ignored; Responses final events', () => {
    assert.deepEqual(openai.counts('openai-chat', { choices: [], usage: { prompt_tokens: 7, completion_tokens: 3 } }, null), { prompt: 7, completion: 3 });
    assert.equal(openai.counts('openai-completions', { usage: { prompt_tokens: 0, completion_tokens: 0 } }, null), null);
    assert.deepEqual(openai.counts('openai-embeddings', { usage: { prompt_tokens: 5 } }, null), { prompt: 5, completion: 0 });
    const completed = { response: { usage: { input_tokens: 9, output_tokens: 4 } } };
    assert.deepEqual(openai.counts('openai-responses', completed, 'response.completed'), { prompt: 9, completion: 4 });
    assert.equal(openai.counts('openai-responses', completed, 'response.created'), null);
    assert.deepEqual(openai.counts('openai-responses', { usage: { input_tokens: 1, output_tokens: 2 } }, null), { prompt: 1, completion: 2 });
    assert.deepEqual(openai.countFieldNames('openai-responses'), ['input_tokens', 'output_tokens']);
    assert.deepEqual(openai.countFieldNames('openai-chat'), ['prompt_tokens', 'completion_tokens']);
  });

  it('anthropic: message_start estimates the prompt, message_delta has the real counts', () => {
    assert.deepEqual(anthropic.counts('anthropic-messages', { message: { usage: { input_tokens: 11 } } }, 'message_start'), { prompt: 11 });
    assert.deepEqual(anthropic.counts('anthropic-messages', { usage: { output_tokens: 6 } }, 'message_delta'), { completion: 6 });
    assert.deepEqual(anthropic.counts('anthropic-messages', { usage: { input_tokens: 12, output_tokens: 6 } }, null), { prompt: 12, completion: 6 });
    assert.equal(anthropic.counts('anthropic-messages', { usage: { output_tokens: 6 } }, 'content_block_delta'), null);
  });

  it('openai turns on streamed usage for chat and completions only, and only when the client did not', () => {
    const asked = { stream_options: { include_usage: true } };
    assert.equal(openai.injectStreamUsage('openai-chat', asked), false);
    const plain: Record<string, unknown> = { stream_options: { other: 1 } };
    assert.equal(openai.injectStreamUsage('openai-completions', plain), true);
    assert.deepEqual(plain.stream_options, { other: 1, include_usage: true });
    const none: Record<string, unknown> = {};
    assert.equal(openai.injectStreamUsage('openai-responses', none), false);
    assert.equal(ollama.injectStreamUsage('ollama-chat', none), false);
    assert.equal(anthropic.injectStreamUsage('anthropic-messages', none), false);
    assert.deepEqual(none, {});
  });
});

describe('dialect output caps', () => {
  it('ollama: options.num_predict on generate and chat, made when absent', () => {
    const body: Record<string, unknown> = {};
    assert.equal(ollama.capOutput('ollama-generate', body, 100), 100);
    assert.deepEqual(body, { options: { num_predict: 100 } });
    const asked: Record<string, unknown> = { options: { num_predict: 20 } };
    assert.equal(ollama.capOutput('ollama-chat', asked, 100), 20);
    assert.equal(ollama.capOutput('ollama-embed', {}, 100), 0);
    const bad = ollama.capOutput('ollama-chat', { options: { num_predict: '5' } }, 100);
    assert.equal(typeof bad === 'number' ? bad : bad.code, 'GW_ERR_BODY_INVALID');
  });

  it('openai: max_tokens (max_completion_tokens carried over), max_output_tokens on responses', () => {
    const chat: Record<string, unknown> = { max_completion_tokens: 5000 };
    assert.equal(openai.capOutput('openai-chat', chat, 100), 100);
    assert.deepEqual(chat, { max_completion_tokens: 100, max_tokens: 100 });
    const responses: Record<string, unknown> = { max_output_tokens: 7 };
    assert.equal(openai.capOutput('openai-responses', responses, 100), 7);
    assert.equal(openai.capOutput('openai-embeddings', {}, 100), 0);
    const bad = openai.capOutput('openai-completions', { max_tokens: 2.5 }, 100);
    assert.equal(typeof bad === 'number' ? bad : bad.code, 'GW_ERR_BODY_INVALID');
  });

  it('each dialect writes the cap only into the fields it declares (ollama: inside options)', () => {
    for (const d of DIALECTS) {
      for (const kind of d.accounting) {
        const body: Record<string, unknown> = {};
        assert.equal(typeof d.capOutput(kind, body, 10), 'number', kind);
        for (const k of Object.keys(body)) assert.ok(d.outputFields.includes(k) || (d === ollama && k === 'options'), `${kind}: ${k}`);
      }
    }
  });

  it('anthropic: max_tokens', () => {
    const body: Record<string, unknown> = { max_tokens: 0 };
    assert.equal(anthropic.capOutput('anthropic-messages', body, 100), 100);
    assert.deepEqual(body, { max_tokens: 100 });
  });
});
