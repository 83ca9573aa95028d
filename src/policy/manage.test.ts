import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalDigest, createBlobDigests } from './manage.js';

const HEX = 'ab'.repeat(32);

describe('the blobs a create references', () => {
  it('are read from files, adapters and draft_files, in one spelling, once each', () => {
    const body = {
      model: 'x',
      files: { 'a.gguf': `sha256:${HEX}`, 'b.gguf': `sha256-${HEX.toUpperCase()}` },
      adapters: { 'l.gguf': `sha256:${'1'.repeat(64)}` },
      draft_files: { 'd.gguf': `sha256:${'2'.repeat(64)}` },
    };
    assert.deepEqual(createBlobDigests(body).sort(), [`sha256:${'1'.repeat(64)}`, `sha256:${'2'.repeat(64)}`, `sha256:${HEX}`]);
  });
  it('a create without blobs (from a model) names none', () => {
    assert.deepEqual(createBlobDigests({ model: 'x', from: 'llama3' }), []);
    assert.deepEqual(createBlobDigests({ model: 'x', files: null, adapters: {} }), []);
  });
  it('one spelling per blob: sha256: and lower-case hex', () => {
    assert.equal(canonicalDigest(`sha256-${HEX.toUpperCase()}`), `sha256:${HEX}`);
    assert.equal(canonicalDigest(`sha256:${HEX}`), `sha256:${HEX}`);
  });
});
