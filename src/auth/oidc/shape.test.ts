import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { quote, readJwt } from './shape.js';
import { tokenHash, VerifyCache } from './verify-cache.js';

const seg = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('readJwt: what counts as a JWT', () => {
  it('three base64url segments, JSON object header with alg and payload; the signature may be empty (alg none)', () => {
    assert.deepEqual(readJwt(`${seg({ alg: 'ES256' })}.${seg({ iss: 'x' })}.c2ln`), { header: { alg: 'ES256' }, payload: { iss: 'x' } });
    assert.deepEqual(readJwt(`${seg({ alg: 'none' })}.${seg({ iss: 'x' })}.`)?.header, { alg: 'none' });
  });
  it('anything else is not one (and falls through to the API-key check)', () => {
    const h = seg({ alg: 'ES256' });
    const p = seg({ iss: 'x' });
    for (const v of [`${h}.${p}`, `${h}.${p}.a.b`, `.${p}.a`, `${h}..a`, `${seg({ typ: 'JWT' })}.${p}.a`, `${seg(['alg'])}.${p}.a`, `${h}.${seg([1])}.a`, `${h}.${p}.a+b`, 'gatehouse_abc', 'a.b.c', `${'A'.repeat(3000)}.${p}.a`]) {
      assert.equal(readJwt(v), null, v);
    }
  });
  it('quote clips and strips control characters from token-supplied text', () => {
    assert.equal(quote('a\nb'), '"a b"');
    assert.equal(quote('x'.repeat(200), 10), `"${'x'.repeat(10)}…"`);
    assert.equal(quote(5), '"5"');
  });
});

describe('VerifyCache', () => {
  it('keeps entries until validUntil, drops them after, and holds at most max (oldest out first)', () => {
    const c = new VerifyCache<{ validUntil: number; n: number }>(2);
    c.set('a', { validUntil: 100, n: 1 });
    c.set('b', { validUntil: 200, n: 2 });
    assert.equal(c.get('a', 99)?.n, 1);
    assert.equal(c.get('a', 100), undefined, 'expired at validUntil');
    assert.equal(c.size, 1);
    c.set('c', { validUntil: 300, n: 3 });
    c.set('d', { validUntil: 300, n: 4 });
    assert.equal(c.size, 2);
    assert.equal(c.get('b', 0), undefined, 'the oldest went');
    assert.equal(c.get('d', 0)?.n, 4);
  });
  it('is keyed by a hash, never the token', () => {
    const t = `${seg({ alg: 'ES256' })}.${seg({ iss: 'x' })}.c2ln`;
    const h = tokenHash(t);
    assert.equal(h.length, 44);
    assert.ok(!h.includes(t.slice(0, 10)));
  });
});
