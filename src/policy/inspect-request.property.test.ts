// Property-based checks of the JSON body policy against a reference model of Ollama's decoder
// (test/emulator/go-json.ts + go-decode.ts: Go's encoding/json with case-insensitive keys, Unicode
// folding, last duplicate wins, null semantics). Whatever body an attacker writes, if Gatehouse
// accepts it then every model Go will read from the forwarded bytes is one Gatehouse authorized,
// and the fields the clamps act on (stream, keep_alive, options) read the same to both.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeStruct, GoTypeError, type Spec } from '../../test/emulator/go-decode.js';
import { JsonEmptyError, JsonSyntaxError, parseFirstJsonValue } from '../../test/emulator/go-json.js';
import * as Go from '../../test/emulator/request-schemas.js';
import { GatewayError } from '../core/errors.js';
import { ROUTES, type RouteDef } from '../routes/table.js';
import { inspectJsonText } from './inspect-request.js';
import { isModelRef, parseModelRef } from './model-name.js';

const GO_SPEC: Record<string, Spec> = {
  generate: Go.GenerateRequest, chat: Go.ChatRequest, embed: Go.EmbedRequest, embeddings: Go.EmbeddingRequest, show: Go.ShowRequest,
  pull: Go.PullRequest, push: Go.PushRequest, create: Go.CreateRequest, copy: Go.CopyRequest, delete: Go.DeleteRequest,
  'openai.chat': Go.OpenAIChatRequest, 'openai.completions': Go.OpenAICompletionRequest, 'openai.embeddings': Go.OpenAIEmbedRequest,
  'openai.responses': Go.ResponsesRequest, 'anthropic.messages': Go.AnthropicMessagesRequest,
};
const JSON_ROUTES = ROUTES.filter((r) => r.body === 'json' && GO_SPEC[r.id]);

/** Spellings Go's decoder maps onto `name`: exact, case variants, Kelvin sign / long s, JSON escapes. */
function spelling(name: string): fc.Arbitrary<string> {
  const variants = [name, name.toUpperCase(), name[0]!.toUpperCase() + name.slice(1), name.replace(/s/, '\u017f'), name.replace(/k/, '\u212a'), name.replace(/K/i, '\u212a')];
  return fc.tuple(fc.constantFrom(...variants), fc.nat(), fc.boolean()).map(([v, i, escape]) => {
    const text = JSON.stringify(v).slice(1, -1);
    if (!escape || text.length === 0) return text;
    const k = i % v.length;
    return JSON.stringify(v.slice(0, k)).slice(1, -1) + `\\u${v.charCodeAt(k).toString(16).padStart(4, '0')}` + JSON.stringify(v.slice(k + 1)).slice(1, -1);
  });
}

const modelValue = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('llama3', 'mistral', 'LLAMA3:latest', 'registry.ollama.ai/library/mistral', 'hf.co/org/repo:q4', 'x:cloud', 'qwen2.5:7b', '') .map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.constantFrom('null', '1', 'true', '{}', '[]', '"\\u006c\\u006c\\u0061\\u006d\\u0061\\u0033"') },
);
const otherValue = fc.constantFrom('true', 'false', 'null', '"5m"', '0', '-1', '3600', '{}', '{"num_ctx":4096}', '{"num_gpu":1,"num_predict":-1}', '"x"', '[]', '[{"role":"user","content":"x"}]', '{"include_usage":false}');

/**
 * A body as raw JSON text: keys in order, duplicates and odd spellings included. Repeating a key
 * with `null` or an object the second time is where Go and JSON.parse disagree (Go keeps the
 * earlier string, merges repeated maps); Gatehouse forwards its own serialization, so the
 * property must hold for those bodies too.
 */
function bodyFor(route: RouteDef): fc.Arbitrary<{ text: string }> {
  const fields = [...route.modelFields, 'stream', 'keep_alive', 'options', 'stream_options', 'prompt', 'messages', 'insecure', 'input'];
  const entry = fc.constantFrom(...fields).chain((f) => fc.tuple(spelling(f), route.modelFields.includes(f) ? modelValue : otherValue));
  const must = route.modelFields.map((f): [string, string] => [f, '"llama3"']);
  return fc.tuple(fc.subarray(must), fc.array(entry, { maxLength: 6 }), fc.boolean()).map(([base, extra, first]) => {
    const entries = first ? [...extra, ...base] : [...base, ...extra];
    return { text: `{${entries.map(([k, v]) => `"${k}":${v}`).join(',')}}` };
  });
}

/** Ollama's reading of the forwarded bytes, or null when Ollama would refuse them (400). */
function goRead(route: RouteDef, text: string): Record<string, unknown> | null {
  try {
    return decodeStruct<Record<string, unknown>>(GO_SPEC[route.id]!, parseFirstJsonValue(text));
  } catch (err) {
    if (err instanceof GoTypeError || err instanceof JsonSyntaxError || err instanceof JsonEmptyError) return null;
    throw err;
  }
}

describe('inspectJson against Go decoding (properties)', () => {
  for (const route of JSON_ROUTES) {
    it(`${route.id}: every model Go reads from an accepted body was authorized; stream, keep_alive and options read alike`, () => {
      fc.assert(
        fc.property(bodyFor(route), ({ text }) => {
          const inspected = inspectJsonText(route, text);
          if (inspected instanceof GatewayError) return;
          // What the gateway forwards: the fields it checked as it writes them, the rest as sent.
          const forwarded = Buffer.concat(inspected.body.forwardPieces()).toString('utf8');
          const go = goRead(route, forwarded);
          if (!go) return;
          for (const f of route.modelFields) {
            const v = go[f];
            if (typeof v !== 'string' || v === '') continue;
            const ref = parseModelRef(v);
            assert.ok(isModelRef(ref), `Go reads ${f}=${JSON.stringify(v)}, which Gatehouse never validated (${text})`);
            assert.ok(
              inspected.models.some((m) => m.field === f && m.canonical === ref.canonical),
              `Go reads ${f}=${JSON.stringify(v)} but Gatehouse authorized ${JSON.stringify(inspected.models.map((m) => [m.field, m.canonical]))} (${text})`,
            );
          }
          const goFields = (GO_SPEC[route.id] as { fields: Record<string, unknown> }).fields;
          if ('stream' in goFields) {
            const goStream = route.streamsByDefault ? go.stream !== false : go.stream === true;
            assert.equal(inspected.stream, goStream, `stream (${text})`);
          }
          for (const f of ['keep_alive', 'options']) {
            if (f in goFields) assert.deepEqual(go[f] ?? null, inspected.body.fields[f] ?? null, `${f} (${text})`);
          }
        }),
        { numRuns: 400 },
      );
    });
  }

  it('never throws on arbitrary text, including deep nesting and prototype keys', () => {
    const chat = ROUTES.find((r) => r.id === 'chat')!;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.json({ maxDepth: 6 }),
          fc.nat({ max: 3000 }).map((n) => `{"model":"llama3","x":${'['.repeat(n)}${']'.repeat(n)}}`),
          fc.constantFrom('{"__proto__":{"model":"x"},"model":"llama3"}', '{"constructor":{"prototype":{"model":"x"}},"model":"llama3"}', '{"model":"llama3","stream_options":{"__proto__":null}}'),
        ),
        (text) => {
          const r = inspectJsonText(chat, text);
          if (!(r instanceof GatewayError)) assert.equal(Object.getPrototypeOf(r.body.fields), Object.prototype);
          assert.equal(({} as Record<string, unknown>).model, undefined, 'Object.prototype was polluted');
        },
      ),
      { numRuns: 2000 },
    );
  });
});
