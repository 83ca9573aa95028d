// Property-based checks for the attacker-facing parser: it must never throw, and no edit of a valid
// token (short of no edit at all) may still verify.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createEd25519KeyObject } from './public-key.js';
import { buildChallenge, parseOllamaToken, verifyOllamaSignature } from './token.js';

// Known-answer vector from docs/ollama-api-notes.md §5.6.
const DOC_TOKEN =
  'AAAAC3NzaC1lZDI1NTE5AAAAILzt5urQzUIGmii92Tyt+ZGyWlKhnZd7yqwUr0cercQS:' +
  'vqnIe0ov7PV1LNJiDzBU6BO9FouTv6TUNp8KHXUglEFeTa+oog+ns4rkl41/5K2T035jkHNMpQ7O30ce3E10Bg==';
const DOC_CHALLENGE = buildChallenge('POST', '/api/chat', 1724300000);

const docToken = parseOllamaToken(DOC_TOKEN);
assert.ok(docToken.ok);
const docKey = createEd25519KeyObject(docToken.rawKey);

/** Characters that keep a mutated token close to valid, so mutations reach deep into the parser. */
const nearChar = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=:-_ \t\u00e9\u0100'.split(''));
const anyChar = fc.oneof(nearChar, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));

type Mutation = (s: string) => string;
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), anyChar).map(([i, c]): Mutation => (s) => { const k = i % (s.length || 1); return s.slice(0, k) + c + s.slice(k + 1); }),
  fc.tuple(fc.nat(), anyChar).map(([i, c]): Mutation => (s) => { const k = i % (s.length + 1); return s.slice(0, k) + c + s.slice(k); }),
  fc.nat().map((i): Mutation => (s) => { const k = i % (s.length || 1); return s.slice(0, k) + s.slice(k + 1); }),
  fc.tuple(fc.nat(), fc.nat()).map(([i, j]): Mutation => (s) => {
    if (s.length === 0) return s;
    const a = i % s.length, b = j % s.length;
    const chars = [...s];
    [chars[a], chars[b]] = [chars[b]!, chars[a]!];
    return chars.join('');
  }),
  fc.nat().map((n): Mutation => (s) => s.slice(0, n % (s.length + 1))),
  fc.tuple(fc.nat(), fc.nat({ max: 7 })).map(([i, bit]): Mutation => (s) => {
    // Flip one bit of one decoded byte and re-encode: a well-formed token with different content.
    const sep = s.indexOf(':');
    if (sep === -1) return s;
    const part = i % 2 === 0 ? 0 : 1;
    const fields = [s.slice(0, sep), s.slice(sep + 1)];
    const bytes = Buffer.from(fields[part]!, 'base64');
    if (bytes.length === 0) return s;
    const k = i % bytes.length;
    bytes[k] = bytes[k]! ^ (1 << bit);
    fields[part] = bytes.toString('base64');
    return fields.join(':');
  }),
);

describe('parseOllamaToken (properties)', () => {
  it('never throws on arbitrary strings of every length 0..500', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 500 }),
          fc.string({ unit: 'binary-ascii', maxLength: 500 }),
          fc.string({ unit: nearChar, maxLength: 500 }),
          fc.tuple(fc.constantFrom('', 'Bearer ', 'bearer  ', 'Bearer'), fc.string({ unit: nearChar, maxLength: 200 }), fc.string({ unit: nearChar, maxLength: 200 }))
            .map(([p, a, b]) => `${p}${a}:${b}`),
        ),
        (header) => {
          const r = parseOllamaToken(header);
          assert.equal(typeof r.ok, 'boolean');
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('never throws for lengths that hit the fast path exactly (68 + 1 + 88)', () => {
    fc.assert(
      fc.property(fc.string({ unit: nearChar, minLength: 43, maxLength: 43 }), fc.string({ unit: nearChar, minLength: 88, maxLength: 88 }), (keyTail, sig) => {
        const r = parseOllamaToken(`AAAAC3NzaC1lZDI1NTE5AAAAI${keyTail}:${sig}`);
        if (r.ok) {
          assert.equal(r.rawKey.length, 32);
          assert.equal(r.signature.length, 64);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('accepts exactly one spelling: an accepted token re-encodes to itself', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 64, maxLength: 64 }), (raw, sig) => {
        const header = `${Buffer.concat([Buffer.from('0000000b7373682d6564323535313900000020', 'hex'), raw]).toString('base64')}:${Buffer.from(sig).toString('base64')}`;
        const r = parseOllamaToken(header);
        assert.ok(r.ok);
        assert.equal(`${r.blob.toString('base64')}:${r.signature.toString('base64')}`, header);
        // Random keys and signatures must not verify, and must not throw either.
        assert.equal(verifyOllamaSignature(r.rawKey, DOC_CHALLENGE, r.signature), false);
      }),
      { numRuns: 500 },
    );
  });

  it('no mutation of a valid token verifies, except the identity', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (mutations) => {
        const mutated = mutations.reduce((s, m) => m(s), DOC_TOKEN);
        if (mutated === DOC_TOKEN) return; // identity: must (and does) verify
        const r = parseOllamaToken(mutated);
        if (!r.ok) return;
        assert.equal(verifyOllamaSignature(r.rawKey, DOC_CHALLENGE, r.signature), false, mutated);
      }),
      { numRuns: 5000 },
    );
    assert.equal(verifyOllamaSignature(docKey, DOC_CHALLENGE, docToken.signature), true);
  });

  it('no mutation of the challenge verifies, except the identity', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (mutations) => {
        const challenge = mutations.reduce((s, m) => m(s), DOC_CHALLENGE);
        assert.equal(verifyOllamaSignature(docKey, challenge, docToken.signature), challenge === DOC_CHALLENGE);
      }),
      { numRuns: 3000 },
    );
  });
});
