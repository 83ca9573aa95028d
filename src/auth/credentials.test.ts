import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateApiKey, hashApiKey, isWellFormedApiKey, KEY_LENGTH, KEY_PREFIX } from './api-key.js';
import { extractCredential } from './credentials.js';

describe('API keys', () => {
  it('have the prefix, fixed length, 256 random bits and a checksum', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const k = generateApiKey();
      assert.equal(k.key.length, KEY_LENGTH);
      assert.ok(k.key.startsWith(KEY_PREFIX));
      assert.match(k.key, /^gatehouse_[0-9A-Za-z]{49}$/);
      assert.ok(isWellFormedApiKey(k.key));
      assert.equal(k.hash, hashApiKey(k.key));
      assert.ok(!seen.has(k.key));
      seen.add(k.key);
    }
  });
  it('a single changed character fails the checksum', () => {
    const k = generateApiKey().key;
    for (let i = KEY_PREFIX.length; i < k.length; i++) {
      const c = k[i] === 'a' ? 'b' : 'a';
      assert.equal(isWellFormedApiKey(k.slice(0, i) + c + k.slice(i + 1)), false, `position ${i}`);
    }
  });
});

describe('credential extraction', () => {
  const key = generateApiKey().key;
  it('reads Bearer, x-api-key and Basic', () => {
    assert.deepEqual(extractCredential(`Bearer ${key}`, undefined), { kind: 'api_key', key });
    assert.deepEqual(extractCredential(`bearer   ${key}`, undefined), { kind: 'api_key', key });
    assert.deepEqual(extractCredential(undefined, key), { kind: 'api_key', key });
    assert.deepEqual(extractCredential(`Basic ${Buffer.from(`anyone:${key}`).toString('base64')}`, undefined), { kind: 'api_key', key });
  });
  it('recognises the ollama CLI token with and without Bearer', () => {
    assert.equal(extractCredential('AAAA:BBBB', undefined).kind, 'ssh');
    assert.equal(extractCredential('Bearer AAAA:BBBB', undefined).kind, 'ssh');
  });
  it('refuses ambiguity and garbage', () => {
    assert.equal(extractCredential(`Bearer ${key}`, 'other').kind, 'malformed');
    assert.equal(extractCredential(undefined, ['a', 'b']).kind, 'malformed');
    assert.equal(extractCredential('Digest x', undefined).kind, 'malformed');
    assert.equal(extractCredential('Bearer', undefined).kind, 'malformed');
    assert.equal(extractCredential('Basic !!!', undefined).kind, 'malformed');
    assert.equal(extractCredential('x'.repeat(5000), undefined).kind, 'malformed');
    assert.equal(extractCredential(undefined, undefined).kind, 'none');
  });
});
