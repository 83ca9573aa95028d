import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KeyRecord, KeyStore, PolicyRecord, PolicyStore } from '../store/types.js';
import { KeyCache } from './key-cache.js';
import { PolicyCache } from './policy-cache.js';

/** In-memory key and policy stores with changesSince, as the cache reads them. */
function fakeStores() {
  const keys: KeyRecord[] = [];
  const policies: PolicyRecord[] = [];
  let kv = 0;
  let pv = 0;
  let failKeys = false;
  const since = <T extends { version: number }>(rows: T[], v: number) => {
    const r = rows.filter((x) => x.version > v).sort((a, b) => a.version - b.version);
    return { version: r.length ? r[r.length - 1]!.version : v, records: r };
  };
  return {
    keyStore: { changesSince: async (v: number) => { if (failKeys) throw new Error('down'); return since(keys, v); } } as unknown as KeyStore,
    policyStore: { changesSince: async (v: number) => since(policies, v) } as unknown as PolicyStore,
    failKeys: (on: boolean) => (failKeys = on),
    key(id: string, policyId: string | null): void {
      const i = keys.findIndex((k) => k.id === id);
      const rec: KeyRecord = {
        id, name: id, kind: 'api_key', hash: `h_${id}`, hint: null, fingerprint: null, publicKey: null, scopes: ['metrics'], models: null,
        limits: { rpm: 1, tpm: null, tpd: null, concurrency: null }, clamps: {}, policyId, createdAt: 0, expiresAt: null, revokedAt: null, lastUsedAt: null, updatedAt: 0, version: ++kv,
      };
      if (i >= 0) keys[i] = rec;
      else keys.push(rec);
    },
    policy(id: string, over: Partial<PolicyRecord> = {}): void {
      const i = policies.findIndex((p) => p.id === id);
      const rec: PolicyRecord = {
        id, name: id, scopes: ['inference'], models: ['llama3'], limits: { rpm: 5, tpm: null, tpd: null, concurrency: 1 }, clamps: { max_num_ctx: 1024 },
        createdAt: 0, updatedAt: 0, deletedAt: null, version: ++pv, ...over,
      };
      if (i >= 0) policies[i] = rec;
      else policies.push(rec);
    },
  };
}

describe('key cache with policies', () => {
  it('a key with a policy takes the policy\'s grants; a key without keeps its own', async () => {
    const f = fakeStores();
    f.policy('pol_a');
    f.key('k1', 'pol_a');
    f.key('k2', null);
    const cache = new KeyCache(f.keyStore, new PolicyCache(f.policyStore));
    await cache.refresh();
    const k1 = cache.byHash('h_k1')!;
    assert.deepEqual([...k1.scopes], ['inference']);
    assert.deepEqual(k1.models, ['llama3']);
    assert.equal(k1.limits.rpm, 5);
    assert.equal(k1.clamps.max_num_ctx, 1024);
    assert.equal(k1.policyId, 'pol_a');
    assert.ok(k1.allowlist.allows('registry.ollama.ai/library/llama3:latest'));
    assert.ok(!k1.allowlist.allows('registry.ollama.ai/library/qwen:latest'));
    const k2 = cache.byHash('h_k2')!;
    assert.deepEqual([...k2.scopes], ['metrics']);
    assert.equal(k2.limits.rpm, 1);
  });

  it('a policy change rebuilds every key that uses it at the next refresh, with no key change', async () => {
    const f = fakeStores();
    f.policy('pol_a');
    f.policy('pol_b');
    f.key('k1', 'pol_a');
    f.key('k2', 'pol_a');
    f.key('k3', 'pol_b');
    const cache = new KeyCache(f.keyStore, new PolicyCache(f.policyStore));
    await cache.refresh();
    const k3 = cache.byHash('h_k3');
    f.policy('pol_a', { scopes: ['inference', 'models:read'], models: null, limits: { rpm: 50, tpm: null, tpd: null, concurrency: null } });
    await cache.refresh();
    for (const id of ['k1', 'k2']) {
      const p = cache.byHash(`h_${id}`)!;
      assert.deepEqual([...p.scopes], ['inference', 'models:read']);
      assert.ok(p.allowlist.allowsAll);
      assert.equal(p.limits.rpm, 50);
      assert.equal(cache.byId(id), p);
    }
    assert.equal(cache.byHash('h_k3'), k3, 'a key of another policy is left as it was');
  });

  it('a key whose policy is unknown or deleted may do nothing; it is rebuilt once the policy arrives', async () => {
    const f = fakeStores();
    f.key('k1', 'pol_late');
    const cache = new KeyCache(f.keyStore, new PolicyCache(f.policyStore));
    await cache.refresh();
    const before = cache.byHash('h_k1')!;
    assert.equal(before.scopes.size, 0);
    assert.ok(!before.allowlist.allows('registry.ollama.ai/library/llama3:latest'));
    f.policy('pol_late');
    await cache.refresh();
    assert.deepEqual([...cache.byHash('h_k1')!.scopes], ['inference']);
    f.policy('pol_late', { deletedAt: 1 });
    await cache.refresh();
    assert.equal(cache.byHash('h_k1')!.scopes.size, 0);
  });

  it('a policy change is applied even when the key read that follows fails', async () => {
    const f = fakeStores();
    f.policy('pol_a');
    f.key('k1', 'pol_a');
    const cache = new KeyCache(f.keyStore, new PolicyCache(f.policyStore));
    await cache.refresh();
    f.failKeys(true);
    f.policy('pol_a', { models: null });
    await cache.refresh();
    assert.ok(cache.health.lastError);
    assert.ok(cache.byHash('h_k1')!.allowlist.allowsAll);
  });

  it('a key moved to another policy is rebuilt by the new one\'s changes, not the old one\'s', async () => {
    const f = fakeStores();
    f.policy('pol_a');
    f.policy('pol_b', { scopes: ['metrics'] });
    f.key('k1', 'pol_a');
    const cache = new KeyCache(f.keyStore, new PolicyCache(f.policyStore));
    await cache.refresh();
    f.key('k1', 'pol_b');
    await cache.refresh();
    assert.deepEqual([...cache.byHash('h_k1')!.scopes], ['metrics']);
    f.policy('pol_a', { scopes: ['admin'] });
    await cache.refresh();
    assert.deepEqual([...cache.byHash('h_k1')!.scopes], ['metrics']);
    f.policy('pol_b', { scopes: ['cloud'] });
    await cache.refresh();
    assert.deepEqual([...cache.byHash('h_k1')!.scopes], ['cloud']);
  });
});
