import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { decodeStrictBase64 } from './base64.js';

describe('decodeStrictBase64', () => {
  it('round-trips every length 0..70 produced by Buffer#toString("base64")', () => {
    for (let n = 0; n <= 70; n++) {
      const bytes = randomBytes(n);
      assert.deepEqual(decodeStrictBase64(bytes.toString('base64')), bytes, `length ${n}`);
    }
  });

  it('decodes a region of a larger string without slicing', () => {
    const text = `xx${Buffer.from('hello').toString('base64')}yy`;
    assert.equal(decodeStrictBase64(text, 2, text.length - 2)?.toString(), 'hello');
  });

  for (const [label, input] of [
    ['missing padding', 'aGk'],
    ['missing one of two pads', 'aA='],
    ['URL-safe alphabet', 'ab-_'],
    ['whitespace', 'aGk= '],
    ['inner whitespace', 'aG k='],
    ['padding in the middle', 'aG==aGk='],
    ['three pads', 'a==='],
    ['four pads', '===='],
    ['non-zero bits under "=="', 'aB=='],
    ['non-zero bits under "="', 'aGl='],
    ['non-Latin-1 character', 'aGk\u0100'],
    ['Latin-1 look-alike', 'aGk\u00c1'],
    ['NUL', 'aGk\u0000'],
  ] as const) {
    it(`rejects ${label}`, () => assert.equal(decodeStrictBase64(input), null));
  }

  it('rejects bad ranges instead of reading out of bounds', () => {
    assert.equal(decodeStrictBase64('aGk=', 0, 8), null);
    assert.equal(decodeStrictBase64('aGk=', -4, 0), null);
    assert.equal(decodeStrictBase64('aGk=', 4, 0), null);
  });

  it('accepts exactly what Buffer encodes and nothing else (property)', () => {
    const base64Char = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ '.split(''));
    const text = fc.oneof(fc.string({ unit: base64Char, maxLength: 64 }), fc.string({ unit: 'binary-ascii', maxLength: 64 }));
    fc.assert(
      fc.property(text, (text) => {
        const strict = decodeStrictBase64(text);
        if (strict !== null) assert.equal(strict.toString('base64'), text);
      }),
      { numRuns: 2000 },
    );
  });
});
