import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { KeyNotRotatableError } from '../../src/store/types.js';
import { newKey, onFreshStore, waitFor, type ContractBackend } from './store.contract.js';

/**
 * Key rotation, as every store backend must do it (beside the main store contract): a new secret
 * for the same key, the previous one remembered with the end of its overlap, seen by caches
 * through changesSince (and, where pushed, announced) like any other change.
 */

const by = { actor: 'admin:alice' };
const next = (overlapMs: number) => ({ hash: randomBytes(32).toString('hex'), hint: 'gatehouse_zz99', overlapMs });

export function keyRotationContract(b: ContractBackend): void {
  const withStore = onFreshStore(() => b.target());

  describe(`key rotation contract: ${b.name}`, { skip: b.skip }, () => {
    it('a new secret for the same key: id, name, grants and history kept; the previous hash remembered with its overlap', withStore(async (s) => {
      const k = await s.keys.create(newKey({ name: 'rotor', models: ['llama3*'], limits: { rpm: 7, tpm: null, tpd: null, concurrency: null } }), by);
      assert.equal(k.rotation ?? null, null);
      await s.keys.touch(new Map([[k.id, 1234]]));
      const n = next(60_000);
      const before = Date.now();
      const r = await s.keys.rotate(k.id, n, by);
      assert.equal(r.id, k.id);
      assert.equal(r.name, 'rotor');
      assert.deepEqual(r.models, ['llama3*']);
      assert.deepEqual(r.limits, k.limits);
      assert.equal(r.createdAt, k.createdAt);
      assert.equal(r.lastUsedAt, 1234);
      assert.equal(r.hash, n.hash);
      assert.equal(r.hint, n.hint);
      assert.ok(r.version > k.version);
      assert.equal(r.rotation!.previousHash, k.hash);
      assert.ok(r.rotation!.rotatedAt >= before);
      assert.equal(r.rotation!.previousUntil, r.rotation!.rotatedAt + 60_000);
      assert.deepEqual(await s.keys.find(k.id), r);
      const ch = await s.keys.changesSince(k.version);
      assert.deepEqual(ch.records.map((x) => x.id), [k.id]);
      assert.deepEqual(ch.records[0]!.rotation, r.rotation);
    }));

    it('overlap 0 ends at once; rotating again replaces the previous secret', withStore(async (s) => {
      const k = await s.keys.create(newKey(), by);
      const r1 = await s.keys.rotate(k.id, next(0), by);
      assert.equal(r1.rotation!.previousUntil, r1.rotation!.rotatedAt);
      const r2 = await s.keys.rotate(k.id, next(1000), by);
      assert.equal(r2.rotation!.previousHash, r1.hash);
    }));

    it('the trail records who rotated which key and until when the old secret works; never a hash', withStore(async (s) => {
      const k = await s.keys.create(newKey({ name: 'trail' }), by);
      const r = await s.keys.rotate(k.id, next(5000), by);
      const ev = await s.audit.adminEvents({ keyId: k.id, action: 'key.rotate' });
      assert.equal(ev.length, 1);
      assert.equal(ev[0]!.actor, 'admin:alice');
      assert.deepEqual(ev[0]!.detail, { name: 'trail', previousValidUntil: r.rotation!.previousUntil });
      assert.ok(!JSON.stringify(ev).includes(k.hash!) && !JSON.stringify(ev).includes(r.hash!));
    }));

    it('only API keys that are not revoked rotate; a missing key is an error; nothing is written', withStore(async (s) => {
      const ssh = await s.keys.create(newKey({ kind: 'ssh_key', hash: null, hint: null, fingerprint: `SHA256:${randomBytes(6).toString('hex')}`, publicKey: 'ssh-ed25519 AAAA' }), by);
      await assert.rejects(s.keys.rotate(ssh.id, next(0), by), KeyNotRotatableError);
      const gone = await s.keys.create(newKey(), by);
      const revoked = await s.keys.revoke(gone.id, by);
      await assert.rejects(s.keys.rotate(gone.id, next(0), by), /is revoked/);
      assert.deepEqual(await s.keys.find(gone.id), revoked);
      await assert.rejects(s.keys.rotate('key_missing', next(0), by), /no key with id key_missing/);
      assert.equal((await s.audit.adminEvents({ action: 'key.rotate' })).length, 0);
    }));

    it('a rotation made through another handle is seen by this one (and, where pushed, announced)', withStore(async (s, t) => {
      let woke = 0;
      const stop = s.watchKeys?.(() => woke++) ?? null;
      const other = await t.open();
      try {
        if (stop) await waitFor(() => woke > 0, 3000);
        const k = await s.keys.create(newKey(), by);
        const before = woke;
        const r = await other.keys.rotate(k.id, next(1000), by);
        assert.deepEqual((await s.keys.changesSince(k.version)).records[0]!.rotation, r.rotation);
        if (stop) await waitFor(() => woke > before, 1000);
      } finally {
        stop?.();
        await other.close();
      }
    }));
  });
}
