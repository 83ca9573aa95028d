import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldKey, parseJsonObject } from './json-body.js';

describe('JSON bodies read the way Go reads them', () => {
  it('refuses case variants of a field Gatehouse inspects (Go would read them)', () => {
    for (const body of ['{"MODEL":"x"}', '{"Model":"x"}', '{"model":"a","MODEL":"b"}', '{"model":"a","KEEP_ALIVE":-1}', '{"model":"a","Stream":true}']) {
      const r = parseJsonObject(body);
      assert.equal(r.ok, false, body);
      if (!r.ok) assert.equal(r.problem.code, 'GW_ERR_BODY_AMBIGUOUS_FIELD');
    }
  });

  it('refuses Unicode spellings that Go folds onto ASCII field names (Kelvin sign, long s)', () => {
    assert.equal(foldKey('\u212Aeep_alive'), 'keep_alive');
    assert.equal(foldKey('\u017Ftream'), 'stream');
    for (const body of ['{"model":"a","\u212Aeep_alive":-1}', '{"model":"a","\u017Ftream":true}', '{"model":"a","\u017Fource":"b"}']) {
      assert.equal(parseJsonObject(body).ok, false, body);
    }
  });

  it('refuses two keys that fold together even when neither is a known field', () => {
    const r = parseJsonObject('{"model":"a","foo":1,"FOO":2}');
    assert.equal(r.ok, false);
  });

  it('checks nested struct objects (stream_options, messages[]) but not maps (options, format schemas)', () => {
    assert.equal(parseJsonObject('{"model":"a","stream_options":{"INCLUDE_USAGE":false}}').ok, false);
    assert.equal(parseJsonObject('{"model":"a","messages":[{"role":"user","IMAGES":["x"]}]}').ok, false);
    assert.equal(parseJsonObject('{"model":"a","options":{"NUM_CTX":1,"num_ctx":2}}').ok, true);
    assert.equal(parseJsonObject('{"model":"a","format":{"properties":{"Name":{},"name":{}}}}').ok, true);
  });

  it('accepts ordinary bodies and keeps prototype keys as plain data', () => {
    const r = parseJsonObject('{"model":"llama3","__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}');
    assert.equal(r.ok, true);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('refuses non-objects, bad JSON and absurd nesting', () => {
    assert.equal(parseJsonObject('[1]').ok, false);
    assert.equal(parseJsonObject('null').ok, false);
    assert.equal(parseJsonObject('{"model":').ok, false);
    const deep = '{"a":' + '['.repeat(100) + ']'.repeat(100) + '}';
    const r = parseJsonObject(deep);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.problem.message, /nested deeper/);
  });
});
