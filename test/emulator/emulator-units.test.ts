// The emulator's pure building blocks, checked in-process: Go JSON decoding, model names,
// Host parsing, Go durations and the multipart reader.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeStruct } from './go-decode.js';
import { parseFirstJsonValue } from './go-json.js';
import { checkHost, splitHostPort } from './host-check.js';
import { displayName, isValidName, parseModelName, parseModelRef } from './model-names.js';
import { boundaryOf, parseMultipart } from './multipart.js';
import { parseGoDuration, parseKeepAlive } from './options.js';
import { cleanPath, unescapePath } from './paths.js';
import { ChatRequest, GenerateRequest } from './request-schemas.js';
import { multipartBody } from './test-support.js';

const decode = (text: string, spec = GenerateRequest): Record<string, unknown> => decodeStruct(spec, parseFirstJsonValue(text));

describe('Go JSON decoding', () => {
  test('last entry wins across spellings, nested structs fold too', () => {
    assert.deepEqual(decode('{"model":"a","MODEL":"b","model":"c"}'), { model: 'c' });
    assert.deepEqual(decode('{"Messages":[{"ROLE":"user","Content":"x"}]}', ChatRequest), { messages: [{ role: 'user', content: 'x' }] });
  });

  test('repeated maps merge instead of replacing (Go reuses the map)', () => {
    assert.deepEqual(decode('{"options":{"a":1},"options":{"b":2}}'), { options: { a: 1, b: 2 } });
  });

  test('ints refuse fractions and exponents; messages name the struct field', () => {
    assert.throws(() => decode('{"top_logprobs":1.0}'), /cannot unmarshal number 1\.0 into Go struct field GenerateRequest\.top_logprobs of type int/);
    assert.throws(() => decode('{"messages":[{"content":5}]}', ChatRequest), /Go struct field Message\.messages\.content of type string/);
    assert.throws(() => decode('[]'), /into Go value of type api\.GenerateRequest/);
  });

  test('syntax errors and EOF read like Go', () => {
    assert.throws(() => decode('{"a":1,}'), /invalid character '}' looking for beginning of object key string/);
    assert.throws(() => decode('{"a":'), /^Error: unexpected EOF$|unexpected EOF/);
    assert.throws(() => decode('   '), /EOF/);
  });

  test('"__proto__" is an ordinary key and unpaired surrogates become U+FFFD', () => {
    const out = decode('{"options":{"__proto__":5},"prompt":"\\ud800x"}');
    assert.equal(Object.getPrototypeOf(out['options']), Object.prototype);
    assert.equal((out['options'] as Record<string, unknown>)['__proto__'], 5);
    assert.equal(out['prompt'], '\ufffdx');
  });
});

describe('model names', () => {
  test('parse, defaults and display', () => {
    assert.deepEqual(parseModelName('llama3'), { host: 'registry.ollama.ai', namespace: 'library', model: 'llama3', tag: 'latest' });
    assert.equal(displayName(parseModelName('https://hf.co/org/repo:q4')), 'hf.co/org/repo:q4');
    assert.equal(displayName(parseModelName('localhost:5000/ns/m')), 'localhost:5000/ns/m:latest');
    for (const bad of ['a//b', 'x:', ':t', '', '-x']) assert.equal(isValidName(parseModelName(bad)), false, bad);
  });

  test('source suffixes', () => {
    assert.deepEqual(parseModelRef('x:cloud'), { kind: 'cloud', name: 'x' });
    assert.deepEqual(parseModelRef('x:1b-cloud'), { kind: 'cloud', name: 'x:1b-cloud' });
    assert.deepEqual(parseModelRef('x:1b:cloud'), { kind: 'cloud', name: 'x:1b' });
    assert.deepEqual(parseModelRef('x:local'), { kind: 'local', name: 'x' });
    assert.equal(parseModelRef('x:cloud:local').kind, 'invalid');
    assert.equal(parseModelRef('ns-cloud/x').kind, 'default');
  });
});

describe('host and path parsing', () => {
  test('SplitHostPort semantics drive the Host check', () => {
    assert.equal(splitHostPort('[::1]:80'), '::1');
    assert.equal(splitHostPort('::1'), undefined); // too many colons: Go falls back to the raw value
    assert.equal(checkHost('::1'), 'allowed-ip');
    assert.equal(checkHost('[::1]'), 'forbidden'); // brackets without a port are not an IP to Go
    assert.equal(checkHost('[::ffff:127.0.0.1]:1'), 'allowed-ip');
    assert.equal(checkHost('172.32.0.1'), 'forbidden');
    assert.equal(checkHost('172.31.0.1'), 'allowed-ip');
    assert.equal(checkHost(''), 'allowed-name');
    assert.equal(checkHost('localhost.'), 'forbidden');
  });

  test('path decoding and cleaning', () => {
    assert.equal(unescapePath('/api/%70ull'), '/api/pull');
    assert.equal(unescapePath('/api%2Fpull'), '/api/pull');
    assert.equal(unescapePath('/a%2'), undefined);
    assert.equal(cleanPath('//api/./tags'), '/api/tags');
    assert.equal(cleanPath('/api/x/../tags/'), '/api/tags/');
  });
});

describe('durations and multipart', () => {
  test('Go durations and keep_alive', () => {
    assert.equal(parseGoDuration('1h2m3.5s'), 3723.5e9);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('5'), undefined);
    assert.deepEqual(parseKeepAlive(0), { kind: 'unload' });
    assert.deepEqual(parseKeepAlive('0m'), { kind: 'unload' });
    assert.deepEqual(parseKeepAlive(-1), { kind: 'duration', ns: Infinity });
    assert.equal(parseKeepAlive(true).kind, 'error');
  });

  test('multipart parts with names and filenames', () => {
    assert.equal(boundaryOf('multipart/form-data; boundary="a b"'), 'a b');
    assert.equal(boundaryOf('application/json'), undefined);
    const body = multipartBody('BND', [{ name: 'model', value: 'llama3' }, { name: 'file', filename: 'x.wav', value: Buffer.from([0, 1, 2]) }]);
    const parts = parseMultipart(body, 'BND')!;
    assert.equal(parts.length, 2);
    assert.equal(parts[0]!.data.toString(), 'llama3');
    assert.equal(parts[1]!.filename, 'x.wav');
    assert.deepEqual([...parts[1]!.data], [0, 1, 2]);
    assert.equal(parseMultipart(Buffer.from('garbage'), 'BND'), undefined);
  });
});
