import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../core/clock.js';
import type { KeyRecord, KeyStore } from '../store/types.js';
import { generateApiKey } from './api-key.js';
import { authenticateApiKey } from './authenticate.js';
import { KeyCache } from './key-cache.js';

const OLD = generateApiKey();
const NEW = generateApiKey();
const NEWER = generateApiKey();
const T = Date.UTC(2026, 0, 1);
const base: KeyRecord = {
  id: 'key_rot', name: 'rotor', kind: 'api_key', hash: OLD.hash, hint: OLD.hint, fingerprint: null, publicKey: null, scopes: ['inference'], models: null,
  limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, policyId: null, createdAt: 0, expiresAt: null, revokedAt: null, lastUsedAt: null, updatedAt: 0, version: 1,
};

/** A cache fed the given versions of the key, one per refresh. */
async function cacheWith(...versions: KeyRecord[]): Promise<{ cache: KeyCache; next: () => Promise<void> }> {
  let i = 0;
  const cache = new KeyCache({ changesSince: async () => ({ version: i + 1, records: [versions[i++]!] }) } as unknown as KeyStore);
  await cache.refresh();
  return { cache, next: () => cache.refresh() };
}

describe('a rotated key: both secrets during the overlap, then the old one refused as rotated', () => {
  it('old and new secrets both authenticate as the same key until the overlap ends', async () => {
    const clock = new ManualClock(T);
    const rotated = { ...base, hash: NEW.hash, hint: NEW.hint, version: 2, rotation: { previousHash: OLD.hash, previousUntil: T + 2000, rotatedAt: T } };
    const { cache, next } = await cacheWith(base, rotated);
    assert.equal(authenticateApiKey(OLD.key, cache, clock).ok, true);
    assert.equal(authenticateApiKey(NEW.key, cache, clock).ok, false, 'the new secret is unknown before the change is loaded');
    await next();
    for (const k of [OLD.key, NEW.key]) {
      const r = authenticateApiKey(k, cache, clock);
      assert.equal(r.ok && r.principal.id, 'key_rot');
    }
    clock.advance(1999);
    assert.equal(authenticateApiKey(OLD.key, cache, clock).ok, true);
    clock.advance(1);
    const r = authenticateApiKey(OLD.key, cache, clock);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.code, 'GW_ERR_AUTH_ROTATED');
    assert.match(!r.ok ? r.error.message : '', /\("rotor"\) was rotated and .*; use the new secret/);
    assert.equal(authenticateApiKey(NEW.key, cache, clock).ok, true);
  });

  it('revoking the key refuses the old secret during the overlap too', async () => {
    const clock = new ManualClock(T);
    const revoked = { ...base, hash: NEW.hash, revokedAt: T, version: 2, rotation: { previousHash: OLD.hash, previousUntil: T + 60_000, rotatedAt: T } };
    const { cache, next } = await cacheWith(base, revoked);
    await next();
    const r = authenticateApiKey(OLD.key, cache, clock);
    assert.equal(!r.ok && r.error.code, 'GW_ERR_AUTH_REVOKED');
  });

  it('rotating again forgets the first secret (unknown, not rotated) and indexes the second', async () => {
    const clock = new ManualClock(T);
    const once = { ...base, hash: NEW.hash, version: 2, rotation: { previousHash: OLD.hash, previousUntil: T + 60_000, rotatedAt: T } };
    const twice = { ...base, hash: NEWER.hash, version: 3, rotation: { previousHash: NEW.hash, previousUntil: T + 60_000, rotatedAt: T } };
    const { cache, next } = await cacheWith(base, once, twice);
    await next();
    await next();
    const r = authenticateApiKey(OLD.key, cache, clock);
    assert.equal(!r.ok && r.error.code, 'GW_ERR_AUTH_INVALID');
    assert.equal(authenticateApiKey(NEW.key, cache, clock).ok, true);
    assert.equal(authenticateApiKey(NEWER.key, cache, clock).ok, true);
  });
});
