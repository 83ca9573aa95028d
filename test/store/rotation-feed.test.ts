import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generateApiKey } from '../../src/auth/api-key.js';
import { KeyCache } from '../../src/auth/key-cache.js';
import { PolicyCache } from '../../src/auth/policy-cache.js';
import { openStores, type Stores } from '../../src/store/index.js';
import { newKey, waitFor } from '../contract/store.contract.js';
import { freshSchema, pgUnavailable } from './pg.js';

/**
 * A rotation made by one process (the CLI, another replica) reaches a gateway's key cache through
 * the change feed within a second: the new secret found by its hash, the old one by its previous
 * hash. SQLite: the cache's 250 ms poll; PostgreSQL: NOTIFY wakes it.
 */

async function feedTest(writer: Stores, gateway: Stores): Promise<void> {
  const cache = new KeyCache(gateway.keys, new PolicyCache(gateway.policies));
  cache.start(250);
  const unwatch = gateway.watchKeys?.(() => void cache.refresh()) ?? null;
  try {
    const first = generateApiKey();
    const k = await writer.keys.create(newKey({ hash: first.hash, hint: first.hint }), { actor: 'test' });
    await waitFor(() => cache.byHash(first.hash) !== undefined, 2000);
    const second = generateApiKey();
    const t0 = Date.now();
    await writer.keys.rotate(k.id, { hash: second.hash, hint: second.hint, overlapMs: 60_000 }, { actor: 'test' });
    await waitFor(() => cache.byHash(second.hash) !== undefined && cache.byPreviousHash(first.hash) !== undefined, 1000);
    assert.ok(Date.now() - t0 < 1000, 'seen within a second');
    assert.equal(cache.byHash(first.hash), undefined, 'the old secret is no longer the current one');
    assert.equal(cache.byPreviousHash(first.hash)!.principal.id, k.id);
  } finally {
    unwatch?.();
    cache.stop();
  }
}

describe('a rotation reaches other processes\' key caches within a second', () => {
  it('sqlite (polled)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rot-'));
    const a = await openStores({ dataDir: dir });
    const b = await openStores({ dataDir: dir, role: 'server' });
    try {
      await feedTest(a, b);
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('postgres (NOTIFY)', async (t) => {
    const skip = await pgUnavailable();
    if (skip) return t.skip(skip);
    const s = freshSchema('rot');
    const a = await openStores({ dataDir: '/nonexistent', store: s.url });
    const b = await openStores({ dataDir: '/nonexistent', store: s.url });
    try {
      await feedTest(a, b);
    } finally {
      await a.close();
      await b.close();
      await s.drop();
    }
  });
});
