import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../core/clock.js';
import type { KeyRecord, KeyStore } from '../store/types.js';
import { generateApiKey, KEY_LENGTH, KEY_PREFIX } from './api-key.js';
import { authenticateApiKey } from './authenticate.js';
import { KeyCache } from './key-cache.js';

const ACTIVE = generateApiKey();
const record: KeyRecord = {
  id: 'active', name: 'active', kind: 'api_key', hash: ACTIVE.hash, hint: ACTIVE.hint, fingerprint: null, publicKey: null, scopes: ['inference'], models: null,
  limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, policyId: null, createdAt: 0, expiresAt: null, revokedAt: null, lastUsedAt: null, updatedAt: 0, version: 1,
};
const cache = new KeyCache({ changesSince: async () => ({ version: 1, records: [record] }) } as unknown as KeyStore);
await cache.refresh();

/** The cache, counting the lookups made through it. */
function counting(): { cache: KeyCache; lookups: () => number } {
  let n = 0;
  const c = Object.create(cache) as KeyCache;
  c.byHash = (h: string) => {
    n++;
    return cache.byHash(h);
  };
  return { cache: c, lookups: () => n };
}

const message = (key: string): string => {
  const r = authenticateApiKey(key, cache, systemClock);
  assert.equal(r.ok, false);
  return r.ok ? '' : r.error.message;
};

describe('authenticateApiKey: the checksum is checked only to explain a miss', () => {
  it('the issued key authenticates', () => {
    const r = authenticateApiKey(ACTIVE.key, cache, systemClock);
    assert.equal(r.ok && r.principal.id, 'active');
  });

  it('a well-formed key that was never issued is refused without a format hint', () => {
    const other = generateApiKey().key;
    assert.match(message(other), /^invalid API key; ask the gateway operator/);
  });

  it('a mistyped key (checksum off) is refused as mistyped or truncated', () => {
    const flip = ACTIVE.key[20] === 'A' ? 'B' : 'A';
    const typo = ACTIVE.key.slice(0, 20) + flip + ACTIVE.key.slice(21);
    assert.match(message(typo), /^invalid API key \(it looks like a Gatehouse key but is mistyped or truncated\)/);
    assert.match(message(ACTIVE.key.slice(0, -1)), /mistyped or truncated/);
    assert.match(message(ACTIVE.key.slice(0, -1) + '!'), /mistyped or truncated/);
  });

  it('a key without the prefix is told what keys look like', () => {
    assert.match(message('sk-' + 'a'.repeat(KEY_LENGTH - 3)), new RegExp(`Gatehouse keys start with "${KEY_PREFIX}"`));
  });

  it('only inputs of a key\'s length and prefix are looked up (hashed): anything else is refused first', () => {
    const c = counting();
    for (const k of ['', 'x', ACTIVE.key.slice(0, -1), `${ACTIVE.key}x`, 'X'.repeat(KEY_LENGTH), ACTIVE.key.replace(KEY_PREFIX, 'Gatehouse_'), 'a'.repeat(100_000)]) {
      assert.equal(authenticateApiKey(k, c.cache, systemClock).ok, false);
    }
    assert.equal(c.lookups(), 0);
    assert.equal(authenticateApiKey(ACTIVE.key, c.cache, systemClock).ok, true);
    assert.equal(c.lookups(), 1);
  });
});
