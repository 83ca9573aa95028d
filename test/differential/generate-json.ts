import { ROUTES } from '../../src/routes/table.js';
import type { Rng } from './prng.js';
import { KEY_SPELLINGS, RawArray, RawObject, render, spellKey, str, WHITESPACE, type RawValue, type Whitespace } from './raw-json.js';

/**
 * Adversarial JSON bodies: a request a real client could send for the route, then one or two
 * mutations (odd key spellings, duplicates, nulls, numbers in every form, nested values, odd
 * whitespace, trailing data, a BOM, and each route's own fields in every shape Go accepts or
 * refuses).
 */

export const ALLOWED_MODEL = 'llama3.2';
/** A second allowed name (create/copy targets); an allowlist of `llama3.2*` admits both. */
export const ALLOWED_DERIVED = 'llama3.2-custom';
export const SECRET_MODEL = 'secret-model';

export type JsonRouteId =
  | 'show' | 'generate' | 'chat' | 'embed' | 'embeddings'
  | 'openai.chat' | 'openai.completions' | 'openai.embeddings' | 'openai.responses' | 'anthropic.messages'
  | 'pull' | 'push' | 'create' | 'copy' | 'delete' | 'web_search' | 'web_fetch';

export interface JsonDoc {
  route: JsonRouteId;
  body: RawObject;
  style: Whitespace;
  /** Bytes before the object (a BOM, whitespace). */
  prefix: string;
  /** Bytes after the object (garbage, a second object). */
  suffix: string;
  /** When set, the whole body instead of the object (empty, top-level null, truncated …). */
  whole: string | null;
  contentType: string;
}

const COMPAT: readonly JsonRouteId[] = ['openai.chat', 'openai.completions', 'openai.embeddings', 'openai.responses', 'anthropic.messages'];
const modelFieldsOf = (route: JsonRouteId): readonly string[] => ROUTES.find((r) => r.id === route)?.modelFields ?? [];

/** Eight bytes of PNG signature, base64: a tiny but valid image payload. */
const IMG = 'iVBORw0KGgo=';
const DATA_URI = `data:image/png;base64,${IMG}`;

const user = (content: RawValue, extra: Record<string, RawValue> = {}): RawObject => new RawObject({ role: str('user'), content, ...extra });

/** A request a real client sends, per route. */
export function baseDoc(route: JsonRouteId, rng: Rng): JsonDoc {
  const body = new RawObject();
  const m = str(ALLOWED_MODEL);
  switch (route) {
    case 'show':
      body.add('model', m);
      if (rng.chance(0.3)) body.add('verbose', 'true');
      break;
    case 'generate':
      body.add('model', m).add('prompt', str('Why is the sky blue?'));
      if (rng.chance(0.5)) body.add('stream', 'false');
      if (rng.chance(0.4)) body.add('options', new RawObject({ temperature: '0.2', num_predict: '128' }));
      if (rng.chance(0.3)) body.add('keep_alive', str('5m'));
      if (rng.chance(0.3)) body.add('images', new RawArray([str(IMG)]));
      break;
    case 'chat':
      body.add('model', m).add('messages', new RawArray([user(str('Hello!'), rng.chance(0.3) ? { images: new RawArray([str(IMG)]) } : {})]));
      if (rng.chance(0.5)) body.add('stream', 'false');
      if (rng.chance(0.4)) body.add('options', new RawObject({ num_ctx: '4096', num_predict: '256' }));
      if (rng.chance(0.3)) body.add('keep_alive', '300');
      break;
    case 'embed':
      body.add('model', m).add('input', rng.chance(0.5) ? new RawArray([str('first text'), str('second text')]) : str('one text'));
      break;
    case 'embeddings':
      body.add('model', m).add('prompt', str('Here is an article about llamas'));
      break;
    case 'openai.chat':
      body.add('model', m).add('messages', new RawArray([new RawObject({ role: str('system'), content: str('Be brief.') }), user(str('Hello!'))]));
      if (rng.chance(0.5)) body.add('max_tokens', '256');
      if (rng.chance(0.5)) body.add('stream', 'true').add('stream_options', new RawObject({ include_usage: 'true' }));
      break;
    case 'openai.completions':
      body.add('model', m).add('prompt', str('Say this is a test')).add('max_tokens', '7');
      if (rng.chance(0.4)) body.add('stream', 'true');
      break;
    case 'openai.embeddings':
      body.add('model', m).add('input', rng.chance(0.5) ? str('The food was delicious') : new RawArray([str('a'), str('b')]));
      break;
    case 'openai.responses':
      body.add('model', m).add('input', str('Tell me a three sentence story.'));
      if (rng.chance(0.5)) body.add('max_output_tokens', '512');
      if (rng.chance(0.3)) body.add('stream', 'true');
      break;
    case 'anthropic.messages':
      body.add('model', m).add('max_tokens', '1024').add('messages', new RawArray([user(str('Hello, Claude'))]));
      if (rng.chance(0.3)) body.add('stream', 'true');
      break;
    case 'pull':
    case 'push':
      body.add('model', m);
      if (rng.chance(0.5)) body.add('stream', 'false');
      break;
    case 'create':
      body.add('model', str(ALLOWED_DERIVED)).add('from', m);
      if (rng.chance(0.3)) body.add('system', str('You are Mario.'));
      break;
    case 'copy':
      body.add('source', m).add('destination', str(ALLOWED_DERIVED));
      break;
    case 'delete':
      body.add('model', str(ALLOWED_DERIVED));
      break;
    case 'web_search':
      body.add('query', str('what is ollama?')).add('max_results', '3');
      break;
    case 'web_fetch':
      body.add('url', str('https://ollama.com'));
      break;
  }
  return { route, body, style: 'compact', prefix: '', suffix: '', whole: null, contentType: 'application/json' };
}

export function renderDoc(doc: JsonDoc, rng: Rng): Buffer {
  if (doc.whole !== null) return Buffer.from(doc.whole, 'utf8');
  return Buffer.from(doc.prefix + render(doc.body, doc.style, rng) + doc.suffix, 'utf8');
}

/** Integers and other numbers in every lexical form, and things that are not numbers. */
export const NUMBER_FORMS = [
  '0', '-0', '1', '-1', '0.5', '-0.5', '1e2', '1E+2', '1e-2', '8191.9', '100', '4096', '131072', '1e400', '-1e400',
  '9007199254740993', '9223372036854775807', '9223372036854775808', '-9223372036854775809', '1e30',
  '123456789012345678901234567890', '"100"', 'null', 'true', '{}', '[]',
] as const;

export const KEEP_ALIVE_FORMS = [
  '"5m"', '"-1s"', '"1h30m"', '"0"', '0', '-1', '1e9', '1e10', '"300"', '3600.5', 'null', 'true', '{}', '"5M"', '" 5m"',
  '"-0"', '"1.5h"', '"1e3s"', '-0', '"2562047h"', '"9999999h"', '[]',
] as const;

const STREAM_FORMS = ['true', 'false', 'null', '"true"', '1', '0', '{}', '[]'] as const;

export interface Mutation {
  name: string;
  weight: number;
  routes: readonly JsonRouteId[] | 'all';
  /** Changes the document; returns a label for it. */
  apply(doc: JsonDoc, rng: Rng): string;
}

function anyEntry(doc: JsonDoc, rng: Rng): { name: string } | null {
  return doc.body.entries.length ? rng.pick(doc.body.entries) : null;
}

const allowedFor = (route: JsonRouteId, field: string): string =>
  (route === 'create' && (field === 'model' || field === 'name')) || (route === 'copy' && field === 'destination') || route === 'delete' ? ALLOWED_DERIVED : ALLOWED_MODEL;

/** Tries to make Go read a model other than the one a naive reader sees. */
function smuggleModel(doc: JsonDoc, rng: Rng): string {
  const fields = modelFieldsOf(doc.route);
  if (fields.length === 0) return keyVariant(doc, rng);
  const field = rng.pick(fields);
  const spelling = rng.pick(KEY_SPELLINGS);
  const key = spellKey(field, spelling, rng);
  const allowed = str(allowedFor(doc.route, field));
  const secret = str(COMPAT.includes(doc.route) && rng.chance(0.3) ? `${SECRET_MODEL}:cloud` : SECRET_MODEL);
  const b = doc.body;
  switch (rng.int(8)) {
    case 0:
      b.set(field, allowed).add(field, secret, key);
      return `${field}: allowed, then secret as ${spelling}`;
    case 1:
      b.remove(field).add(field, secret, key).add(field, allowed);
      return `${field}: secret as ${spelling}, then allowed`;
    case 2:
      b.set(field, allowed).add(field, 'null', key);
      return `${field}: allowed, then null as ${spelling}`;
    case 3:
      b.remove(field).add(field, 'null', key).add(field, allowed);
      return `${field}: null as ${spelling}, then allowed`;
    case 4:
      b.set(field, allowed).add(field, rng.pick(['{}', '[]', `{"${field}":${secret}}`, `[${secret}]`, '1', 'true']), key);
      return `${field}: allowed, then a non-string as ${spelling}`;
    case 5:
      b.remove(field).add(field, `"${[...SECRET_MODEL].map((c, i) => (i % 2 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c)).join('')}"`, key);
      return `${field}: secret written with \\u escapes, key as ${spelling}`;
    case 6:
      b.set(field, allowed).add(field, '""', key);
      return `${field}: allowed, then "" as ${spelling}`;
    default: {
      // Only the cloud passthrough middleware reads "model" by exact key (escapes decoded); the
      // struct binding folds case.
      const other = spellKey(field, rng.pick(['upper', 'title', 'fold', 'escape'] as const), rng);
      b.remove(field).add(field, str(`${SECRET_MODEL}:cloud`)).add(field, allowed, other);
      return `${field}: exact-key secret:cloud, then allowed under the key ${other}`;
    }
  }
}

function keyVariant(doc: JsonDoc, rng: Rng): string {
  const e = anyEntry(doc, rng);
  if (!e) return 'no keys';
  const spelling = rng.pick(KEY_SPELLINGS);
  for (const x of doc.body.entries) if (x.name === e.name) x.key = spellKey(e.name, spelling, rng);
  return `key ${e.name} as ${spelling}`;
}

function modelValue(doc: JsonDoc, rng: Rng): string {
  const fields = modelFieldsOf(doc.route);
  if (fields.length === 0) return keyVariant(doc, rng);
  const field = rng.pick(fields);
  const value = rng.pick([
    str(` ${ALLOWED_MODEL} `), str(ALLOWED_MODEL.toUpperCase()), str(`${ALLOWED_MODEL}:latest`), str(`registry.ollama.ai/library/${ALLOWED_MODEL}:latest`),
    str(SECRET_MODEL), str(`${SECRET_MODEL}:cloud`), str(`${ALLOWED_MODEL}:cloud`), str(`${ALLOWED_MODEL}-cloud`), '""', 'null', '1', 'true', '{}', '[]',
    '"\\u006c\\u006c\\u0061\\u006d\\u0061\\u0033.2"', str(`${ALLOWED_MODEL}\u0000`), str('hf.co/org/repo:q4'),
  ]);
  doc.body.set(field, value);
  return `${field} = ${value}`;
}

function nullField(doc: JsonDoc, rng: Rng): string {
  const e = anyEntry(doc, rng);
  if (!e) return 'no keys';
  doc.body.set(e.name, 'null');
  return `${e.name} = null`;
}

function nestScalar(doc: JsonDoc, rng: Rng): string {
  const e = anyEntry(doc, rng);
  if (!e) return 'no keys';
  const v = rng.pick(['{}', '[]', '{"a":1}', '[1,2]', '[[]]']);
  doc.body.set(e.name, v);
  return `${e.name} = ${v}`;
}

function unknownField(doc: JsonDoc, rng: Rng): string {
  const [k, v] = rng.pick([
    ['max_completion_tokens', '5'], ['extra', '{"model":"secret-model"}'], ['n', '2'], ['user', '"me"'], ['MODELS', '["secret-model"]'],
    ['model_name', str(SECRET_MODEL)], ['tool_choice', '"auto"'], ['metadata', '{"a":"b"}'],
  ] as const);
  doc.body.add(k, v);
  return `unknown field ${k}`;
}

function whitespace(doc: JsonDoc, rng: Rng): string {
  doc.style = rng.pick(WHITESPACE);
  return `whitespace ${doc.style}`;
}

function trailing(doc: JsonDoc, rng: Rng): string {
  doc.suffix = rng.pick([' garbage', `{"model":"${SECRET_MODEL}"}`, `\n{"model":"${SECRET_MODEL}"}`, ']', `,"model":"${SECRET_MODEL}"}`, '\u0000', '\r\n', '}}}', ' null', '\u00a0']);
  return `trailing ${JSON.stringify(doc.suffix)}`;
}

function prefix(doc: JsonDoc, rng: Rng): string {
  doc.prefix = rng.pick(['\ufeff', ' \t\r\n', '\u00a0', '\n']);
  return `prefix ${JSON.stringify(doc.prefix)}`;
}

function wholeBody(doc: JsonDoc, rng: Rng): string {
  const full = render(doc.body, 'compact', rng);
  doc.whole = rng.pick(['', ' ', 'null', '[]', '"text"', '{}', full.slice(0, Math.max(1, full.length - 3)), `[${full}]`, `{"model":"${ALLOWED_MODEL}",}`]);
  return `whole body ${JSON.stringify(doc.whole)}`;
}

function contentType(doc: JsonDoc, rng: Rng): string {
  doc.contentType = rng.pick(['application/json; charset=utf-8', 'text/plain', '', 'application/x-www-form-urlencoded', 'application/JSON']);
  return `content-type ${JSON.stringify(doc.contentType)}`;
}

function options(doc: JsonDoc, rng: Rng): string {
  if (rng.chance(0.12)) {
    const v = rng.pick(['null', '[]', '"num_predict=10"', '{}', '1']);
    doc.body.set('options', v);
    return `options = ${v}`;
  }
  const o = new RawObject();
  const labels: string[] = [];
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    const which = rng.int(9);
    if (which <= 2) {
      const v = rng.pick(NUMBER_FORMS);
      o.add('num_predict', v);
      labels.push(`num_predict ${v}`);
    } else if (which <= 4) {
      const v = rng.pick(NUMBER_FORMS);
      o.add('num_ctx', v);
      labels.push(`num_ctx ${v}`);
    } else if (which === 5) {
      const [k, v] = rng.pick([['num_gpu', '0'], ['num_gpu', '99'], ['num_gpu', 'null'], ['main_gpu', '1'], ['main_gpu', '"1"'], ['num_batch', '512'], ['num_thread', '4'], ['use_mmap', 'false'], ['use_mmap', '"true"'], ['use_mmap', 'null']] as const);
      o.add(k, v);
      labels.push(`${k} ${v}`);
    } else if (which === 6) {
      const [k, v] = rng.pick([['temperature', '0.7'], ['temperature', '"hot"'], ['stop', '["\\n"]'], ['stop', '"\\n"'], ['stop', '[1]'], ['seed', '42'], ['top_p', 'null']] as const);
      o.add(k, v);
      labels.push(`${k} ${v}`);
    } else if (which === 7) {
      const k = rng.pick(['NUM_PREDICT', 'Num_Ctx', 'num_predict ', 'num\u017fpredict']);
      o.add(k, '100000');
      labels.push(`option key ${JSON.stringify(k)}`);
    } else {
      const a = rng.pick(NUMBER_FORMS);
      const b = rng.pick(NUMBER_FORMS);
      o.add('num_predict', a).add('num_predict', b);
      labels.push(`num_predict ${a} then ${b}`);
    }
  }
  if (rng.chance(0.2)) {
    // Two "options" keys: Go decodes both into the same map, so the entries merge.
    doc.body.add('options', new RawObject({ num_predict: '64' })).add('options', o, spellKey('options', rng.pick(KEY_SPELLINGS), rng));
    return `options twice (merged): ${labels.join(', ')}`;
  }
  doc.body.set('options', o);
  return `options ${labels.join(', ')}`;
}

function keepAlive(doc: JsonDoc, rng: Rng): string {
  const v = rng.pick(KEEP_ALIVE_FORMS);
  if (rng.chance(0.15)) {
    doc.body.set('keep_alive', str('5m')).add('keep_alive', v, spellKey('keep_alive', rng.pick(KEY_SPELLINGS), rng));
    return `keep_alive "5m" then ${v}`;
  }
  doc.body.set('keep_alive', v);
  return `keep_alive ${v}`;
}

function nativeStream(doc: JsonDoc, rng: Rng): string {
  const v = rng.pick(STREAM_FORMS);
  doc.body.set('stream', v);
  return `stream ${v}`;
}

function topLogprobs(doc: JsonDoc, rng: Rng): string {
  const v = rng.pick(['0', '5', '20', '21', '-1', '5.5', '"5"', 'null']);
  doc.body.set('top_logprobs', v);
  return `top_logprobs ${v}`;
}

const NATIVE_IMAGE_LISTS = [
  `["${IMG}"]`, `["${IMG}","${IMG}"]`, '[]', 'null', `["${IMG}",null]`, '[""]', '["not base64!"]', '["iVBORw0K\\nGgo="]',
  '[[137,80,78,71]]', `"${IMG}"`, '{}', '[{}]', `[${Array.from({ length: 12 }, () => `"${IMG}"`).join(',')}]`, `["${IMG.replace('=', '')}"]`,
] as const;

function nativeImages(doc: JsonDoc, rng: Rng): string {
  const v = rng.pick(NATIVE_IMAGE_LISTS);
  if (doc.route === 'generate') {
    doc.body.set('images', v);
    return `images ${v}`;
  }
  const spelling = rng.pick(KEY_SPELLINGS);
  const msgs = new RawArray([user(str('look'), {}), user(str('and this'))]);
  (msgs.items[0] as RawObject).add('images', v, spellKey('images', spelling, rng));
  if (rng.chance(0.3)) (msgs.items[1] as RawObject).add('images', `["${IMG}"]`);
  doc.body.set('messages', msgs);
  return `messages[].images ${v} (key ${spelling})`;
}

function embedInput(doc: JsonDoc, rng: Rng): string {
  const v = rng.pick(['[]', '[""]', '["a","b","c"]', '""', '"x"', 'null', '[1,2]', '[[1,2]]', '{"a":1}', '["a",null]', '1', `[${Array.from({ length: 40 }, (_, i) => `"t${i}"`).join(',')}]`]);
  doc.body.set('input', v);
  return `input ${v}`;
}

function encodingFormat(doc: JsonDoc, rng: Rng): string {
  const v = rng.pick(['"float"', '"base64"', '"FLOAT"', '"int8"', 'null', '""']);
  doc.body.set('encoding_format', v);
  return `encoding_format ${v}`;
}

function maxTokens(doc: JsonDoc, rng: Rng): string {
  const field = doc.route === 'openai.responses' ? 'max_output_tokens' : 'max_tokens';
  switch (rng.int(4)) {
    case 0: {
      // max_completion_tokens is not a field of Ollama's request: it changes nothing.
      const v = rng.pick(['5', '100000', '0']);
      if (rng.chance(0.5)) doc.body.remove(field);
      doc.body.add('max_completion_tokens', v);
      return `max_completion_tokens ${v}${doc.body.get(field) === undefined ? ' (no ' + field + ')' : ''}`;
    }
    case 1: {
      const a = rng.pick(NUMBER_FORMS);
      const b = rng.pick(NUMBER_FORMS);
      doc.body.set(field, a).add(field, b, spellKey(field, rng.pick(KEY_SPELLINGS), rng));
      return `${field} ${a} then ${b}`;
    }
    case 2:
      doc.body.remove(field);
      return `no ${field}`;
    default: {
      const v = rng.pick(NUMBER_FORMS);
      doc.body.set(field, v);
      return `${field} ${v}`;
    }
  }
}

function streamOptions(doc: JsonDoc, rng: Rng): string {
  const s = rng.pick(STREAM_FORMS);
  const o = rng.pick(['{"include_usage":true}', '{"include_usage":false}', 'null', '{}', '{"INCLUDE_USAGE":true}', '{"include_usage":"true"}',
    '{"include_usage":null}', 'true', '[]', '{"include_usage":true,"include_usage":false}', '{"include_usage":false,"Include_Usage":true}']);
  doc.body.set('stream', s).set('stream_options', o);
  return `stream ${s}, stream_options ${o}`;
}

function openaiParts(doc: JsonDoc, rng: Rng): string {
  const img = (url: string, keyType = 'type'): string => `{"${keyType}":"image_url","image_url":{"url":${str(url)}}}`;
  const parts = rng.pick([
    `[{"type":"text","text":"What is in this image?"},${img(DATA_URI)}]`,
    `[${img(DATA_URI)},${img(DATA_URI)},${img(`data:image/jpeg;base64,${IMG}`)}]`,
    `[{"type":"image_url","image_url":${str(DATA_URI)}}]`,
    `[${img(DATA_URI, 'Type')}]`,
    `[${img('https://example.com/cat.png')}]`,
    `[${img(`data:image/gif;base64,${IMG}`)}]`,
    `[${img(`data:;base64,${IMG}`)}]`,
    `[${img('data:image/png;base64,@@@')}]`,
    `[{"type":"image_url","image_url":{"URL":${str(DATA_URI)}}}]`,
    `[{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}]`,
    `[{"type":"text","text":"a"},{"type":"text","text":"b"}]`,
    `[{"type":"text"}]`,
    '["just a string"]',
    '[]',
    `[{"type":"image_url","image_url":{"url":${str(DATA_URI)}},"type":"text","text":"x"}]`,
  ]);
  const msg = new RawObject({ role: str('user') }).add('content', parts, spellKey('content', rng.pick(KEY_SPELLINGS), rng));
  doc.body.set('messages', new RawArray([msg]));
  return `content parts ${parts.length > 60 ? parts.slice(0, 60) + '…' : parts}`;
}

function reasoningEffort(doc: JsonDoc, rng: Rng): string {
  const v = rng.pick(['"low"', '"minimal"', '"xhigh"', '"none"', '"extreme"', '""', 'null']);
  if (doc.route === 'openai.responses' || rng.chance(0.5)) doc.body.set('reasoning', `{"effort":${v}}`);
  else doc.body.set('reasoning_effort', v);
  return `reasoning effort ${v}`;
}

function completionsExtras(doc: JsonDoc, rng: Rng): string {
  if (rng.chance(0.5)) {
    const v = rng.pick(['"\\n"', '["a","b"]', '["a",1]', 'null', '{}']);
    doc.body.set('stop', v);
    return `stop ${v}`;
  }
  const v = rng.pick(['0', '5', '20', '21', '-3', 'null', '1.5']);
  doc.body.set('logprobs', v);
  return `logprobs ${v}`;
}

function responsesInput(doc: JsonDoc, rng: Rng): string {
  const part = (t: string, extra: string): string => `{"${t}":"input_image"${extra}}`;
  const v = rng.pick([
    `[{"role":"user","content":[{"type":"input_text","text":"what is this?"},${part('type', `,"image_url":${str(DATA_URI)}`)}]}]`,
    `[{"role":"user","content":[${part('Type', `,"image_url":${str(DATA_URI)}`)}]}]`,
    `[{"type":"message","role":"user","content":[${part('type', `,"image_url":${str(DATA_URI)}`)},${part('type', `,"Image_URL":${str(DATA_URI)}`)}]}]`,
    `[{"role":"user","content":[${part('type', ',"file_id":"file-123"')}]}]`,
    `[{"role":"user","content":[${part('type', ',"image_url":"https://example.com/a.png"')}]}]`,
    `[{"role":"user","content":[{"type":"input_file","file_data":"eA=="}]}]`,
    `[{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":[${part('type', `,"image_url":${str(DATA_URI)}`)}]}]`,
    `[{"type":"function_call","call_id":"c1","name":"f","arguments":"[1]"}]`,
    '[{"content":"no type, no role"}]',
    '[{"type":"mystery"}]',
    '[{"role":"user","content":"plain"}]',
    '[{"role":"user","content":null}]',
    '""',
    '42',
    '{"role":"user"}',
  ]);
  doc.body.set('input', v);
  return `input ${v.length > 70 ? v.slice(0, 70) + '…' : v}`;
}

function responsesStream(doc: JsonDoc, rng: Rng): string {
  const v = rng.pick(STREAM_FORMS);
  doc.body.set('stream', v);
  return `stream ${v}`;
}

function anthropicMaxTokens(doc: JsonDoc, rng: Rng): string {
  if (rng.chance(0.2)) {
    doc.body.remove('max_tokens');
    return 'no max_tokens';
  }
  const v = rng.pick(NUMBER_FORMS);
  doc.body.set('max_tokens', v);
  return `max_tokens ${v}`;
}

function anthropicContent(doc: JsonDoc, rng: Rng): string {
  const src = (type = 'base64', data = IMG, keys = ['type', 'media_type', 'data']): string => `{"${keys[0]}":"${type}","${keys[1]}":"image/png","${keys[2]}":${str(data)}}`;
  const v = rng.pick([
    `[{"type":"text","text":"Describe this."},{"type":"image","source":${src()}}]`,
    `[{"Type":"image","Source":${src()}},{"TYPE":"image","source":${src()}}]`,
    `[{"type":"Image","source":${src()}}]`,
    `[{"type":"image","source":${src('url', '', ['type', 'media_type', 'url'])}}]`,
    `[{"type":"image"}]`,
    `[{"type":"image","source":${src('base64', '@@')}}]`,
    `[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"image","source":${src()}},{"type":"text","text":"ok"}]}]`,
    `[{"type":"tool_result","tool_use_id":"t1","content":[{"Type":"image","source":${src()}}]}]`,
    `[{"type":"tool_use","id":"t1","name":"f","input":{"a":1}}]`,
    `[{"type":"tool_use","id":"t1","name":"f","input":[1]}]`,
    `[{"type":"tool_use","name":"f"}]`,
    '"just text"',
    'null',
    '[]',
  ]);
  const msg = new RawObject({ role: str(rng.pick(['user', 'User', 'assistant'])) });
  if (rng.chance(0.9)) msg.add('content', v, spellKey('content', rng.pick(KEY_SPELLINGS), rng));
  doc.body.set('messages', new RawArray([msg]));
  return `message content ${v.length > 70 ? v.slice(0, 70) + '…' : v}`;
}

function createMaps(doc: JsonDoc, rng: Rng): string {
  const field = rng.pick(['files', 'adapters', 'draft_files']);
  const digest = `"sha256:${'a'.repeat(64)}"`;
  const v = rng.pick([
    `{"model.gguf":${digest}}`, 'null', '{}', `{"../evil.gguf":${digest}}`, '{"model.gguf":""}', `{"a.gguf":${digest},"a.gguf":""}`,
    `{"A.gguf":${digest},"a.gguf":${digest}}`, `{"model.gguf":null}`, '[]', `{"/abs.gguf":${digest}}`, `{"dir/x.gguf":${digest}}`, '{"x":1}',
  ]);
  doc.body.set(field, v);
  if (field === 'draft_files' && rng.chance(0.5)) doc.body.set('draft_quantize', '"q4_K_M"');
  return `${field} ${v}`;
}

function createSource(doc: JsonDoc, rng: Rng): string {
  if (rng.chance(0.5)) {
    const v = rng.pick(['"https://ollama.com"', '"http://evil.example:11434"', '""', 'null', '1']);
    doc.body.set('remote_host', v);
    return `remote_host ${v}`;
  }
  const v = rng.pick([str(SECRET_MODEL), str(`${SECRET_MODEL}:cloud`), str('hf.co/org/repo'), '""', 'null', str(`${ALLOWED_MODEL}:latest`)]);
  doc.body.set('from', v);
  return `from ${v}`;
}

function insecure(doc: JsonDoc, rng: Rng): string {
  const v = rng.pick(['true', 'false', '"true"', '1', 'null', '{}']);
  doc.body.set('insecure', v);
  return `insecure ${v}`;
}

function webBody(doc: JsonDoc, rng: Rng): string {
  doc.whole = rng.pick(['', ' \r\n\t', '{}', 'not json at all', '{"query":"x"', '\u00a0', '\u0085', 'null']);
  return `body ${JSON.stringify(doc.whole)}`;
}

const NATIVE_OPTS: readonly JsonRouteId[] = ['generate', 'chat', 'embed', 'embeddings'];
const NATIVE_STREAM: readonly JsonRouteId[] = ['generate', 'chat', 'pull', 'push', 'create'];
const WITH_MODEL = (['show', 'generate', 'chat', 'embed', 'embeddings', 'openai.chat', 'openai.completions', 'openai.embeddings', 'openai.responses',
  'anthropic.messages', 'pull', 'push', 'create', 'copy', 'delete'] as const) satisfies readonly JsonRouteId[];
const NOT_WEB = WITH_MODEL;

export const MUTATIONS: readonly Mutation[] = [
  { name: 'smuggle-model', weight: 10, routes: WITH_MODEL, apply: smuggleModel },
  { name: 'model-value', weight: 4, routes: WITH_MODEL, apply: modelValue },
  { name: 'key-variant', weight: 6, routes: NOT_WEB, apply: keyVariant },
  { name: 'null-field', weight: 3, routes: NOT_WEB, apply: nullField },
  { name: 'nest-scalar', weight: 2, routes: NOT_WEB, apply: nestScalar },
  { name: 'unknown-field', weight: 2, routes: NOT_WEB, apply: unknownField },
  { name: 'whitespace', weight: 4, routes: 'all', apply: whitespace },
  { name: 'trailing', weight: 3, routes: 'all', apply: trailing },
  { name: 'prefix', weight: 2, routes: 'all', apply: prefix },
  { name: 'whole-body', weight: 1, routes: NOT_WEB, apply: wholeBody },
  { name: 'content-type', weight: 1, routes: 'all', apply: contentType },
  { name: 'options', weight: 10, routes: NATIVE_OPTS, apply: options },
  { name: 'keep-alive', weight: 6, routes: NATIVE_OPTS, apply: keepAlive },
  { name: 'native-stream', weight: 3, routes: NATIVE_STREAM, apply: nativeStream },
  { name: 'top-logprobs', weight: 1, routes: ['generate', 'chat'], apply: topLogprobs },
  { name: 'native-images', weight: 6, routes: ['generate', 'chat'], apply: nativeImages },
  { name: 'embed-input', weight: 8, routes: ['embed', 'openai.embeddings'], apply: embedInput },
  { name: 'encoding-format', weight: 2, routes: ['openai.embeddings'], apply: encodingFormat },
  { name: 'max-tokens', weight: 10, routes: ['openai.chat', 'openai.completions', 'openai.responses'], apply: maxTokens },
  { name: 'stream-options', weight: 6, routes: ['openai.chat', 'openai.completions'], apply: streamOptions },
  { name: 'openai-parts', weight: 8, routes: ['openai.chat'], apply: openaiParts },
  { name: 'reasoning', weight: 2, routes: ['openai.chat', 'openai.responses'], apply: reasoningEffort },
  { name: 'completions-extras', weight: 3, routes: ['openai.completions'], apply: completionsExtras },
  { name: 'responses-input', weight: 8, routes: ['openai.responses'], apply: responsesInput },
  { name: 'responses-stream', weight: 3, routes: ['openai.responses'], apply: responsesStream },
  { name: 'anthropic-max-tokens', weight: 8, routes: ['anthropic.messages'], apply: anthropicMaxTokens },
  { name: 'anthropic-content', weight: 8, routes: ['anthropic.messages'], apply: anthropicContent },
  { name: 'anthropic-stream', weight: 2, routes: ['anthropic.messages'], apply: nativeStream },
  { name: 'create-maps', weight: 8, routes: ['create'], apply: createMaps },
  { name: 'create-source', weight: 5, routes: ['create'], apply: createSource },
  { name: 'insecure', weight: 6, routes: ['pull', 'push'], apply: insecure },
  { name: 'web-body', weight: 6, routes: ['web_search', 'web_fetch'], apply: webBody },
];

export function mutationsFor(route: JsonRouteId): readonly (readonly [Mutation, number])[] {
  return MUTATIONS.filter((m) => m.routes === 'all' || m.routes.includes(route)).map((m) => [m, m.weight] as const);
}
