import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { authenticateApiKey } from '../../src/auth/authenticate.js';
import { generateApiKey, KEY_PREFIX } from '../../src/auth/api-key.js';
import { KeyCache } from '../../src/auth/key-cache.js';
import { systemClock } from '../../src/core/clock.js';
import { openStores, type Stores } from '../../src/store/index.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { BASE_CONFIG, hit, median } from './support.js';

/**
 * docs/threat-model.md A3 (constant-time comparison) and H1 (cost of auth): how long key verification takes
 * must not depend on how much of a key is right, and stays far below 50 µs. Measured in-process on
 * authenticateApiKey over a KeyCache loaded from a real SQLite store (little noise), then coarsely
 * end to end. Bounds are generous on purpose (CI machines are noisy); a self-check proves the
 * harness does detect a leak of the size a naive comparison would have.
 */

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Base62 CRC32 checksum exactly as api-key.ts computes it, so candidates are well-formed. */
function withChecksum(body: string): string {
  let n = BigInt(crc32(body));
  let out = '';
  while (n > 0n) {
    out = ALPHABET[Number(n % 62n)]! + out;
    n /= 62n;
  }
  return body + out.padStart(6, '0');
}

function randomChars(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(Math.random() * 62)]!;
  return s;
}

/** Well-formed keys sharing the first `shared` secret characters with `key`, then differing. */
function sharing(key: string, shared: number, count: number): string[] {
  const secret = key.slice(KEY_PREFIX.length, KEY_PREFIX.length + 43);
  const out: string[] = [];
  while (out.length < count) {
    const tail = randomChars(43 - shared);
    if (tail[0] === secret[shared]) continue; // must differ right after the shared part
    out.push(withChecksum(KEY_PREFIX + secret.slice(0, shared) + tail));
  }
  return out;
}

/**
 * Interleaved batches: for every sample each group runs `batch` calls, in a random order, so drift
 * (GC, frequency scaling, other tests) hits all groups alike. Returns ns per call, per sample.
 */
function measure(groups: Record<string, string[]>, fn: (k: string) => unknown, samples: number, batch: number): Record<string, number[]> {
  const names = Object.keys(groups);
  const out: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let w = 0; w < 2000; w++) for (const n of names) fn(groups[n]![w % groups[n]!.length]!); // warm up the JIT
  for (let s = 0; s < samples; s++) {
    const order = [...names].sort(() => Math.random() - 0.5);
    for (const n of order) {
      const list = groups[n]!;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < batch; i++) fn(list[i % list.length]!);
      out[n]!.push(Number(process.hrtime.bigint() - t0) / batch);
    }
  }
  return out;
}

const ratio = (a: number[], b: number[]): number => median(a) / median(b);

describe('threats A3/H1: key verification timing', () => {
  let dir: string;
  let stores: Stores;
  let cache: KeyCache;
  let key: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-timing-'));
    stores = await openStores({ dataDir: dir });
    for (let i = 0; i < 200; i++) {
      const k = generateApiKey();
      if (i === 0) key = k.key;
      await stores.keys.create(
        { id: `key_t${i}`, name: `k${i}`, kind: 'api_key', hash: k.hash, hint: k.hint, fingerprint: null, publicKey: null, scopes: ['inference'], models: null, limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, expiresAt: null },
        { actor: 'test' },
      );
    }
    cache = new KeyCache(stores.keys);
    await cache.refresh();
    assert.equal(cache.size, 200);
    assert.ok(authenticateApiKey(key, cache, systemClock).ok);
  });
  after(async () => {
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const verify = (k: string) => authenticateApiKey(k, cache, systemClock);

  it('A3: well-formed wrong keys sharing 42 vs 0 leading secret characters with a real key take the same time', () => {
    const near = sharing(key, 42, 64);
    const far = sharing(key, 0, 64);
    for (const k of [...near, ...far]) assert.equal(verify(k).ok, false);
    const t = measure({ near, far }, verify, 300, 200);
    const r = ratio(t.near!, t.far!);
    assert.ok(r > 0.67 && r < 1.5, `median near ${median(t.near!).toFixed(0)} ns vs far ${median(t.far!).toFixed(0)} ns (ratio ${r.toFixed(3)})`);
  });

  it('A3: mistyped keys (bad checksum) differing in the last vs the first secret character take the same time', () => {
    const secret = key.slice(KEY_PREFIX.length);
    const flip = (c: string): string => (c === 'A' ? 'B' : 'A');
    const late = Array.from({ length: 64 }, (_, i) => { const at = 40 + (i % 3); return KEY_PREFIX + secret.slice(0, at) + flip(secret[at]!) + secret.slice(at + 1); });
    const early = Array.from({ length: 64 }, (_, i) => { const at = i % 3; return KEY_PREFIX + secret.slice(0, at) + flip(secret[at]!) + secret.slice(at + 1); });
    for (const k of [...late, ...early]) assert.equal(verify(k).ok, false);
    const t = measure({ late, early }, verify, 300, 200);
    const r = ratio(t.late!, t.early!);
    assert.ok(r > 0.67 && r < 1.5, `median late ${median(t.late!).toFixed(0)} ns vs early ${median(t.early!).toFixed(0)} ns (ratio ${r.toFixed(3)})`);
  });

  it('A3 (self-check): the same harness flags a naive early-exit comparison of the same strings', () => {
    // What a plaintext `for … if (a[i] !== b[i]) return false` lookup over the keys would cost:
    // work proportional to the matching prefix. The harness must see it, or the tests above prove nothing.
    const leaky = (k: string): boolean => {
      let acc = 0;
      for (let i = 0; i < k.length && i < key.length; i++) {
        if (k.charCodeAt(i) !== key.charCodeAt(i)) return acc < 0;
        for (let j = 0; j < 8; j++) acc = (acc * 31 + k.charCodeAt(i) + j) | 0;
      }
      return acc === 7;
    };
    const t = measure({ near: sharing(key, 42, 64), far: sharing(key, 0, 64) }, leaky, 300, 200);
    const r = ratio(t.near!, t.far!);
    assert.ok(r >= 1.5, `the harness missed a prefix-proportional leak (ratio ${r.toFixed(3)})`);
  });

  it('H1: verifying a key (SHA-256, in-memory lookup, standing; the checksum on a miss) takes well under 50 µs', () => {
    const wrong = sharing(key, 0, 64);
    const t = measure({ valid: [key], wrong }, verify, 100, 500);
    const worst = Math.max(median(t.valid!), median(t.wrong!));
    assert.ok(worst < 50_000, `median ${(worst / 1000).toFixed(2)} µs per verification`);
  });
});

describe('threats A3: end-to-end timing of wrong keys (coarse)', () => {
  let s: Stack;
  let key: string;
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG } });
    key = (await s.createKey('k', ['--scopes', 'inference,models:read'])).key;
  });
  after(() => s.close());

  it('A3: over HTTP, a key right in its first 42 characters is refused no slower or faster than a wholly wrong one', async () => {
    const near = sharing(key, 42, 32);
    const far = sharing(key, 0, 32);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const times: Record<'near' | 'far', number[]> = { near: [], far: [] };
    try {
      for (let w = 0; w < 100; w++) await hit(s.gw.url, 'GET', '/api/tags', { agent, headers: { authorization: `Bearer ${far[w % 32]}` } });
      for (let i = 0; i < 300; i++) {
        for (const g of (i % 2 ? ['near', 'far'] : ['far', 'near']) as Array<'near' | 'far'>) {
          const r = await hit(s.gw.url, 'GET', '/api/tags', { agent, headers: { authorization: `Bearer ${(g === 'near' ? near : far)[i % 32]}` } });
          assert.equal(r.status, 401);
          times[g].push(r.ms);
        }
      }
    } finally {
      agent.destroy();
    }
    const diff = Math.abs(median(times.near) - median(times.far));
    assert.ok(diff < 0.5, `medians differ by ${diff.toFixed(3)} ms (near ${median(times.near).toFixed(3)}, far ${median(times.far).toFixed(3)})`);
    assert.equal(s.emu.requests.length, 0);
  });
});
