import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldKey } from './go-keys.js';
import { parseRequestBody } from './json-body.js';

const parse = (text: string) => {
  const r = parseRequestBody(Buffer.from(text));
  return 'code' in r ? { ok: false as const, problem: r } : { ok: true as const, body: r };
};

describe('JSON bodies read the way Go reads them', () => {
  it('refuses case variants of a field Gatehouse inspects (Go would read them)', () => {
    for (const body of ['{"MODEL":"x"}', '{"Model":"x"}', '{"model":"a","MODEL":"b"}', '{"model":"a","KEEP_ALIVE":-1}', '{"model":"a","Stream":true}']) {
      const r = parse(body);
      assert.equal(r.ok, false, body);
      if (!r.ok) assert.equal(r.problem.code, 'GW_ERR_BODY_AMBIGUOUS_FIELD');
    }
  });

  it('refuses Unicode spellings that Go folds onto ASCII field names (Kelvin sign, long s)', () => {
    assert.equal(foldKey('\u212Aeep_alive'), 'keep_alive');
    assert.equal(foldKey('\u017Ftream'), 'stream');
    for (const body of ['{"model":"a","\u212Aeep_alive":-1}', '{"model":"a","\u017Ftream":true}', '{"model":"a","\u017Fource":"b"}']) {
      assert.equal(parse(body).ok, false, body);
    }
  });

  it('refuses two keys that fold together even when neither is a known field, and exact duplicates', () => {
    assert.equal(parse('{"model":"a","foo":1,"FOO":2}').ok, false);
    assert.equal(parse('{"model":"a","model":"b"}').ok, false);
    assert.equal(parse('{"model":"a","prompt":"x","prompt":null}').ok, false);
    assert.equal(parse('{"model":"a","messages":[{"role":"user","role":"system"}]}').ok, false);
  });

  it('checks nested struct objects (stream_options, messages[]) but not maps (options, format schemas)', () => {
    assert.equal(parse('{"model":"a","stream_options":{"INCLUDE_USAGE":false}}').ok, false);
    assert.equal(parse('{"model":"a","messages":[{"role":"user","IMAGES":["x"]}]}').ok, false);
    assert.equal(parse('{"model":"a","options":{"NUM_CTX":1,"num_ctx":2}}').ok, true);
    assert.equal(parse('{"model":"a","format":{"properties":{"Name":{},"name":{}}}}').ok, true);
  });

  it('accepts ordinary bodies and keeps prototype keys as plain data', () => {
    const r = parse('{"model":"llama3","__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}');
    assert.equal(r.ok, true);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('refuses non-objects, bad JSON, data after the object and absurd nesting', () => {
    for (const t of ['[1]', 'null', '"x"', '{"model":', '{"model":"a"} {"model":"b"}', '{"model":"a"}x', '\ufeff{"model":"a"}', '{"a":01}', '{"a":1.}', '{"a":tru}', '{"a" 1}', '{,}', '{"a":[1,]}']) {
      assert.equal(parse(t).ok, false, JSON.stringify(t));
    }
    const deep = '{"a":' + '['.repeat(100) + ']'.repeat(100) + '}';
    const r = parse(deep);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.problem.message, /nested deeper/);
    assert.equal(parse('{"a":' + '['.repeat(62) + ']'.repeat(62) + '}').ok, true);
  });

  it('forwards the fields it read as it writes them and everything else byte for byte', () => {
    const text = '{ "model" : "llama3", "prompt":"a \\"quoted\\" \\u00e9 prompt", "options":{"num_predict":5,"num_predict":7}, "context":[1, 2,3] }';
    const r = parse(text);
    assert.ok(r.ok);
    const out = Buffer.concat(r.body.forwardPieces()).toString('utf8');
    assert.equal(out, '{"model":"llama3","prompt":"a \\"quoted\\" \\u00e9 prompt","options":{"num_predict":7},"context":[1, 2,3]}');
    assert.deepEqual(JSON.parse(out).options, { num_predict: 7 });
  });

  it('counts images in every shape and the elements of input', () => {
    const r = parse(JSON.stringify({
      model: 'm', images: ['a', 'b'],
      messages: [{ role: 'user', images: ['c'], content: [{ type: 'image_url', image_url: { url: 'x' } }, { type: 'text', text: 'hi' }, { type: 'image', source: {} }] }],
      input: [{ type: 'input_image', image_url: 'x' }, { type: 'message', content: [{ type: 'input_image' }] }, 'text'],
    }));
    assert.ok(r.ok);
    assert.equal(r.body.scan.images, 7);
    assert.equal(r.body.scan.inputItems, 3);
  });

  it('reads the same whatever way the body is split into chunks', async () => {
    const { JsonScanner } = await import('./json-scan.js');
    const text = Buffer.from(JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'x'.repeat(300) + '\\"', images: ['a'] }], options: { num_predict: 12345, temperature: -1.5e-3 }, ok: true, no: null }));
    const whole = parseRequestBody(text);
    assert.ok(!('code' in whole));
    for (let step = 1; step < 40; step += 3) {
      const s = new JsonScanner();
      for (let n = step; n < text.length; n += step) assert.ok(s.run(text, n));
      const r = s.finish(text, text.length);
      assert.ok(!('code' in r));
      assert.deepEqual(r, whole.scan, `chunks of ${step}`);
    }
  });
});
