import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Stores } from '../../src/store/index.js';
import { HIST_MAX_ERROR } from '../../src/store/histogram.js';
import { PolicyInUseError, type KeyRecord, type NewAuditRecord, type NewKey, type NewPolicy, type UsageRow } from '../../src/store/types.js';

/**
 * The one store contract every backend passes (as oauth2-proxy's session store
 * suite). A backend provides `target()`: a fresh, empty store location; `open()` on it may be
 * called more than once, and each handle behaves like another process (CLI, replica).
 */

export interface ContractTarget {
  open(): Promise<Stores>;
  cleanup(): Promise<void>;
}

export interface ContractBackend {
  name: string;
  target(): Promise<ContractTarget>;
  /** Reason to skip (backend unavailable), or false. */
  skip: string | false;
  /** Backends that push key changes (Postgres LISTEN/NOTIFY). */
  pushesKeyChanges: boolean;
}

const T0 = Date.UTC(2025, 0, 15, 10, 30);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const LLAMA = 'registry.ollama.ai/library/llama3:latest';
const QWEN = 'registry.ollama.ai/library/qwen2.5:7b';

export function newKey(over: Partial<NewKey> = {}): NewKey {
  const id = `key_${randomBytes(6).toString('hex')}`;
  return {
    id, name: `k-${id.slice(-6)}`, kind: 'api_key', hash: randomBytes(32).toString('hex'), hint: 'gatehouse_ab12', fingerprint: null, publicKey: null,
    scopes: ['inference', 'models:read'], models: null, limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, expiresAt: null, ...over,
  };
}

export function auditRec(over: Partial<NewAuditRecord> = {}): NewAuditRecord {
  return {
    at: T0, requestId: `req_${randomBytes(4).toString('hex')}`, principalId: 'key_a', principalName: 'alice', clientIp: '127.0.0.1', method: 'POST',
    route: 'chat', path: null, scope: 'inference', model: LLAMA, models: [LLAMA], decision: 'allowed', reason: null, status: 200,
    promptTokens: 3, completionTokens: 5, tokensEstimated: false, ttfbMs: 1.5, durationMs: 10.25, bytesIn: 100, bytesOut: 2000,
    clientAborted: false, stream: true, upstream: 'http://127.0.0.1:11434', upstreamError: null, node: null, ...over,
  };
}

export function newPolicy(over: Partial<NewPolicy> = {}): NewPolicy {
  const id = `pol_${randomBytes(6).toString('hex')}`;
  return { id, name: `p-${id.slice(-6)}`, scopes: ['inference'], models: ['llama3*'], limits: { rpm: 10, tpm: null, tpd: null, concurrency: 2 }, clamps: { max_num_ctx: 2048 }, ...over };
}

const by = { actor: 'cli:test@host' };

/** A percentile read from the roll-ups' histograms is within their error of the exact nearest-rank value. */
export const near = (got: number | null, exact: number): boolean => got !== null && Math.abs(got - exact) <= exact * HIST_MAX_ERROR + 1e-9;

/** Usage rows: everything exact but the percentiles, which are near. */
function assertUsage(got: UsageRow[], want: UsageRow[]): void {
  const strip = (r: UsageRow) => ({ ...r, p50Ms: r.p50Ms === null ? null : 'n', p95Ms: r.p95Ms === null ? null : 'n' });
  assert.deepEqual(got.map(strip), want.map(strip));
  got.forEach((r, i) => {
    for (const k of ['p50Ms', 'p95Ms'] as const) if (want[i]![k] !== null) assert.ok(near(r[k], want[i]![k]!), `${String(r.group)} ${k}: ${r[k]} is not within 5% of ${want[i]![k]}`);
  });
}

/** A test body run on a fresh, empty store from `target`, closed and cleaned up after (every contract's tests). */
export const onFreshStore = <T extends { open(): Promise<Stores>; cleanup(): Promise<void> }>(target: () => Promise<T>) =>
  (fn: (s: Stores, t: T) => Promise<void>) => async (): Promise<void> => {
    const t = await target();
    const s = await t.open();
    try {
      await fn(s, t);
    } finally {
      await s.close();
      await t.cleanup();
    }
  };

export function storeContract(b: ContractBackend): void {
  /** Each test gets a fresh, empty store and cleans it up. */
  const withStore = onFreshStore(() => b.target());

  describe(`store contract: ${b.name}`, { skip: b.skip }, () => {
    describe('keys', () => {
      it('create, find by id and by name, list', withStore(async (s) => {
        const a = await s.keys.create(newKey({ name: 'alice', models: ['llama3*'], expiresAt: T0 + DAY, clamps: { max_num_ctx: 4096 } }), by);
        assert.equal(a.name, 'alice');
        assert.deepEqual(a.models, ['llama3*']);
        assert.deepEqual(a.clamps, { max_num_ctx: 4096 });
        assert.equal(a.expiresAt, T0 + DAY);
        assert.equal(a.revokedAt, null);
        assert.equal(a.lastUsedAt, null);
        assert.ok(a.version > 0 && a.createdAt > 0 && a.updatedAt === a.createdAt);
        assert.deepEqual(await s.keys.find(a.id), a);
        assert.deepEqual(await s.keys.find('alice'), a);
        assert.equal(await s.keys.find('nobody'), null);
        const b2 = await s.keys.create(newKey({ name: 'bob', kind: 'ssh_key', hash: null, hint: null, fingerprint: 'SHA256:abc', publicKey: 'ssh-ed25519 AAAA' }), by);
        // Listed by creation time, then id: two keys made in the same millisecond come in id order.
        const byCreation = [a, b2].sort((x, y) => x.createdAt - y.createdAt || (x.id < y.id ? -1 : 1));
        assert.deepEqual((await s.keys.list()).map((k) => k.id), byCreation.map((k) => k.id));
        assert.equal((await s.keys.find(b2.id))!.fingerprint, 'SHA256:abc');
      }));

      it('a personal key\'s owner (issuer and subject) round-trips through create, changes, update and reopening; other keys have none', withStore(async (s, t) => {
        const p = await s.policies.create(newPolicy(), by);
        const owner = { id: 'oidc:AbCdEfGhIjKlMnOpQrStUv', issuer: 'https://login.example.com/realms/acme', subject: 'a1b2-"quoted"' };
        const before = (await s.keys.changesSince(0)).version;
        const k = await s.keys.create(newKey({ name: 'laptop', scopes: [], models: [], policyId: p.id, owner }), by);
        assert.deepEqual(k.owner, owner);
        assert.deepEqual((await s.keys.find(k.id))!.owner, owner);
        assert.deepEqual((await s.keys.changesSince(before)).records.find((r) => r.id === k.id)!.owner, owner);
        assert.deepEqual((await s.keys.update(k.id, { name: 'laptop-2' }, by)).owner, owner);
        const plain = await s.keys.create(newKey(), by);
        assert.equal(plain.owner ?? null, null);
        const again = await t.open();
        try {
          assert.deepEqual((await again.keys.find(k.id))!.owner, owner);
        } finally {
          await again.close();
        }
      }));

      it('a name shared by two keys must be given as an id', withStore(async (s) => {
        await s.keys.create(newKey({ name: 'twin' }), by);
        await s.keys.create(newKey({ name: 'twin' }), by);
        await assert.rejects(s.keys.find('twin'), /2 keys are named "twin"/);
      }));

      it('a duplicate key hash is refused', withStore(async (s) => {
        const k = newKey();
        await s.keys.create(k, by);
        await assert.rejects(s.keys.create(newKey({ hash: k.hash }), by));
      }));

      it('update applies the patch, bumps the version and is seen by changesSince', withStore(async (s) => {
        const k = await s.keys.create(newKey({ name: 'before' }), by);
        const u = await s.keys.update(k.id, { name: 'after', scopes: ['metrics'], models: null, limits: { rpm: 5, tpm: null, tpd: null, concurrency: 2 } }, by);
        assert.equal(u.name, 'after');
        assert.deepEqual(u.scopes, ['metrics']);
        assert.equal(u.limits.rpm, 5);
        assert.ok(u.version > k.version);
        const ch = await s.keys.changesSince(k.version);
        assert.deepEqual(ch.records.map((r) => r.id), [k.id]);
        assert.equal(ch.version, u.version);
        await assert.rejects(s.keys.update('key_missing', { name: 'x' }, by), /no key with id key_missing/);
      }));

      it('revoke is recorded once; revoking again changes nothing', withStore(async (s) => {
        const k = await s.keys.create(newKey(), by);
        const r1 = await s.keys.revoke(k.id, by);
        assert.ok(r1.revokedAt !== null && r1.version > k.version);
        const r2 = await s.keys.revoke(k.id, by);
        assert.equal(r2.version, r1.version);
        assert.equal(r2.revokedAt, r1.revokedAt);
        assert.equal((await s.audit.adminEvents({ keyId: k.id, action: 'key.revoke' })).length, 1);
        await assert.rejects(s.keys.revoke('key_missing', by), /no key with id key_missing/);
      }));

      it('changesSince returns every later change in version order, and nothing when nothing changed', withStore(async (s) => {
        const empty = await s.keys.changesSince(0);
        assert.deepEqual(empty, { version: 0, records: [] });
        const a = await s.keys.create(newKey(), by);
        const b2 = await s.keys.create(newKey(), by);
        await s.keys.update(a.id, { name: 'a2' }, by);
        const all = await s.keys.changesSince(0);
        assert.deepEqual(all.records.map((r) => [r.id, r.name]), [[b2.id, b2.name], [a.id, 'a2']]);
        const same = await s.keys.changesSince(all.version);
        assert.deepEqual(same, { version: all.version, records: [] });
      }));

      it('touch records last use without bumping versions, and never goes back in time', withStore(async (s) => {
        const k = await s.keys.create(newKey(), by);
        await s.keys.touch(new Map([[k.id, T0 + 10]]));
        await s.keys.touch(new Map([[k.id, T0], ['key_unknown', T0]]));
        const after = (await s.keys.find(k.id))!;
        assert.equal(after.lastUsedAt, T0 + 10);
        assert.equal(after.version, k.version);
        await s.keys.touch(new Map());
      }));

      it('key changes land in the admin trail: who, what, when', withStore(async (s) => {
        const k = await s.keys.create(newKey({ name: 'carol' }), { actor: 'cli:root@h1' });
        await s.keys.update(k.id, { scopes: ['inference'] }, { actor: 'cli:ops@h2' });
        await s.keys.revoke(k.id, { actor: 'cli:ops@h2' });
        const ev = await s.audit.adminEvents({ keyId: k.id });
        assert.deepEqual(ev.map((e) => [e.action, e.actor]), [['key.create', 'cli:root@h1'], ['key.update', 'cli:ops@h2'], ['key.revoke', 'cli:ops@h2']]);
        assert.equal(ev[0]!.detail.name, 'carol');
        assert.deepEqual(ev[1]!.detail, { scopes: { from: ['inference', 'models:read'], to: ['inference'] } });
        assert.ok(ev.every((e) => e.at >= k.createdAt && e.id > 0));
        assert.ok(!JSON.stringify(ev).includes(k.hash!), 'no key hash in the admin trail');
      }));

      it('a poller on one handle never misses a change made concurrently through two others', withStore(async (s, t) => {
        const h2 = await t.open();
        const h3 = await t.open();
        try {
          const ks = await Promise.all(Array.from({ length: 6 }, () => s.keys.create(newKey(), by)));
          const seen = new Map<string, KeyRecord>();
          let v = 0;
          let done = false;
          const poll = async () => {
            const r = await s.keys.changesSince(v);
            for (const rec of r.records) seen.set(rec.id, rec);
            assert.ok(r.version >= v);
            v = r.version;
          };
          const poller = (async () => {
            while (!done) await poll();
          })();
          await Promise.all(
            Array.from({ length: 40 }, (_, i) => (i % 2 ? h2 : h3).keys.update(ks[i % ks.length]!.id, { name: `n${i}` }, by)),
          );
          done = true;
          await poller;
          await poll();
          for (const k of await s.keys.list()) assert.deepEqual(seen.get(k.id), k, `poller's copy of ${k.id} is current`);
        } finally {
          await h2.close();
          await h3.close();
        }
      }));

      it('a change made through another handle is visible to this one (and, where pushed, announced)', withStore(async (s, t) => {
        let woke = 0;
        const stop = s.watchKeys?.(() => woke++) ?? null;
        assert.equal(stop !== null, b.pushesKeyChanges, 'watchKeys exists exactly on backends that push');
        const other = await t.open();
        try {
          if (stop) await waitFor(() => woke > 0, 3000); // the subscription announces itself once connected
          const before = woke;
          const k = await other.keys.create(newKey(), by);
          await other.keys.revoke(k.id, by);
          assert.ok((await s.keys.find(k.id))!.revokedAt !== null);
          if (stop) {
            const t0 = Date.now();
            await waitFor(() => woke > before, 1000);
            assert.ok(Date.now() - t0 < 1000, 'announced within a second');
          }
        } finally {
          stop?.();
          await other.close();
        }
      }));

      it('data survives closing and reopening', withStore(async (s, t) => {
        const k = await s.keys.create(newKey(), by);
        await s.audit.append([auditRec({ requestId: 'req_keep' })]);
        const again = await t.open();
        try {
          assert.deepEqual(await again.keys.find(k.id), k);
          assert.equal((await again.audit.query({}))[0]!.requestId, 'req_keep');
          await again.keys.ping();
        } finally {
          await again.close();
        }
      }));
    });

    describe('policies', () => {
      it('create, find by id and by name, list by name; a name in use is refused', withStore(async (s) => {
        const p = await s.policies.create(newPolicy({ name: 'team-b', models: null }), by);
        assert.equal(p.name, 'team-b');
        assert.deepEqual(p.scopes, ['inference']);
        assert.equal(p.models, null);
        assert.deepEqual(p.limits, { rpm: 10, tpm: null, tpd: null, concurrency: 2 });
        assert.deepEqual(p.clamps, { max_num_ctx: 2048 });
        assert.equal(p.deletedAt, null);
        assert.ok(p.version > 0 && p.createdAt > 0 && p.updatedAt === p.createdAt);
        assert.deepEqual(await s.policies.find(p.id), p);
        assert.deepEqual(await s.policies.find('team-b'), p);
        assert.equal(await s.policies.find('nobody'), null);
        const a = await s.policies.create(newPolicy({ name: 'team-a' }), by);
        assert.deepEqual((await s.policies.list()).map((x) => x.name), ['team-a', 'team-b']);
        await assert.rejects(s.policies.create(newPolicy({ name: 'team-a' }), by), /a policy named "team-a" already exists/);
        await assert.rejects(s.policies.update(p.id, { name: 'team-a' }, by), /a policy named "team-a" already exists/);
        assert.equal((await s.policies.find(a.id))!.name, 'team-a');
      }));

      it('update applies the patch, bumps the version and is seen by changesSince; a no-op changes nothing', withStore(async (s) => {
        const p = await s.policies.create(newPolicy(), by);
        const u = await s.policies.update(p.id, { scopes: ['inference', 'models:read'], models: ['qwen*'], limits: { ...p.limits, rpm: 99 } }, by);
        assert.deepEqual(u.scopes, ['inference', 'models:read']);
        assert.deepEqual(u.models, ['qwen*']);
        assert.equal(u.limits.rpm, 99);
        assert.deepEqual(u.clamps, p.clamps);
        assert.ok(u.version > p.version);
        const ch = await s.policies.changesSince(p.version);
        assert.deepEqual(ch.records.map((r) => r.id), [p.id]);
        assert.equal(ch.version, u.version);
        const same = await s.policies.update(p.id, { models: ['qwen*'] }, by);
        assert.equal(same.version, u.version);
        assert.deepEqual(await s.policies.changesSince(u.version), { version: u.version, records: [] });
        await assert.rejects(s.policies.update('pol_missing', { name: 'x' }, by), /no policy with id pol_missing/);
        // Key and policy versions are counted apart: a key change does not show up as a policy change.
        await s.keys.create(newKey(), by);
        assert.deepEqual((await s.policies.changesSince(u.version)).records, []);
      }));

      it('a key may reference a policy that exists and is not deleted', withStore(async (s) => {
        const p = await s.policies.create(newPolicy(), by);
        const k = await s.keys.create(newKey({ policyId: p.id }), by);
        assert.equal(k.policyId, p.id);
        assert.deepEqual(await s.keys.find(k.id), k);
        assert.equal((await s.keys.create(newKey(), by)).policyId, null);
        await assert.rejects(s.keys.create(newKey({ policyId: 'pol_missing' }), by), /no policy with id pol_missing/);
        const u = await s.keys.update(k.id, { policyId: null }, by);
        assert.equal(u.policyId, null);
        assert.ok(u.version > k.version);
        assert.equal((await s.keys.update(k.id, { policyId: p.id }, by)).policyId, p.id);
        await assert.rejects(s.keys.update(k.id, { policyId: 'pol_missing' }, by), /no policy with id pol_missing/);
        assert.equal((await s.keys.find(k.id))!.policyId, p.id, 'a refused update changes nothing');
      }));

      it('delete is refused while keys that are not revoked use the policy; a deleted policy frees its name', withStore(async (s) => {
        const p = await s.policies.create(newPolicy({ name: 'shared' }), by);
        const k1 = await s.keys.create(newKey({ policyId: p.id }), by);
        const k2 = await s.keys.create(newKey({ policyId: p.id }), by);
        await assert.rejects(s.policies.delete(p.id, by), (err: Error) => {
          assert.ok(err instanceof PolicyInUseError);
          assert.equal(err.keys, 2);
          assert.match(err.message, /policy "shared" is used by 2 keys/);
          return true;
        });
        await s.keys.revoke(k1.id, by);
        await assert.rejects(s.policies.delete(p.id, by), /used by 1 key /);
        await s.keys.update(k2.id, { policyId: null }, by);
        const d = await s.policies.delete(p.id, by);
        assert.ok(d.deletedAt !== null && d.version > p.version);
        assert.equal((await s.policies.delete(p.id, by)).version, d.version, 'deleting again changes nothing');
        assert.deepEqual((await s.policies.changesSince(p.version)).records.map((r) => [r.id, r.deletedAt]), [[p.id, d.deletedAt]]);
        assert.equal(await s.policies.find('shared'), null);
        assert.deepEqual(await s.policies.find(p.id), d, 'a deleted policy is still found by id (what revoked keys point at)');
        assert.deepEqual(await s.policies.list(), []);
        assert.deepEqual((await s.policies.list({ includeDeleted: true })).map((x) => x.id), [p.id]);
        await assert.rejects(s.keys.update(k2.id, { policyId: p.id }, by), new RegExp(`policy ${p.id} is deleted`));
        await assert.rejects(s.policies.update(p.id, { models: null }, by), /is deleted/);
        const again = await s.policies.create(newPolicy({ name: 'shared' }), by);
        assert.equal((await s.policies.find('shared'))!.id, again.id);
        await assert.rejects(s.policies.delete('pol_missing', by), /no policy with id pol_missing/);
      }));

      it('policy changes land in the admin trail: who, what, when', withStore(async (s) => {
        const p = await s.policies.create(newPolicy({ name: 'ops' }), { actor: 'cli:root@h1' });
        await s.policies.update(p.id, { scopes: ['inference', 'metrics'] }, { actor: 'cli:ops@h2' });
        await s.policies.delete(p.id, { actor: 'cli:ops@h2' });
        const ev = await s.audit.adminEvents({ action: 'policy.' });
        assert.deepEqual(ev.map((e) => [e.action, e.actor, e.keyId]), [['policy.create', 'cli:root@h1', null], ['policy.update', 'cli:ops@h2', null], ['policy.delete', 'cli:ops@h2', null]]);
        assert.deepEqual(ev[0]!.detail, { policy: p.id, name: 'ops', scopes: ['inference'], models: ['llama3*'], limits: p.limits, clamps: p.clamps });
        assert.deepEqual(ev[1]!.detail, { policy: p.id, name: 'ops', scopes: { from: ['inference'], to: ['inference', 'metrics'] } });
        assert.deepEqual(ev[2]!.detail, { policy: p.id, name: 'ops' });
        const k = await s.keys.create(newKey({ policyId: (await s.policies.create(newPolicy(), by)).id }), by);
        await s.keys.update(k.id, { policyId: null }, by);
        const [created, updated] = await s.audit.adminEvents({ keyId: k.id });
        assert.equal(created!.detail.policyId, k.policyId);
        assert.deepEqual(updated!.detail, { policyId: { from: k.policyId, to: null } });
      }));

      it('a policy change made through another handle is visible to this one (and, where pushed, announced)', withStore(async (s, t) => {
        let woke = 0;
        const stop = s.watchKeys?.(() => woke++) ?? null;
        const other = await t.open();
        try {
          if (stop) await waitFor(() => woke > 0, 3000);
          const before = woke;
          const p = await other.policies.create(newPolicy(), by);
          await other.policies.update(p.id, { models: null }, by);
          assert.equal((await s.policies.find(p.id))!.models, null);
          assert.deepEqual((await s.policies.changesSince(0)).records.map((r) => r.id), [p.id]);
          if (stop) {
            const t0 = Date.now();
            await waitFor(() => woke > before, 1000);
            assert.ok(Date.now() - t0 < 1000, 'announced within a second');
          }
        } finally {
          stop?.();
          await other.close();
        }
      }));
    });

    describe('audit', () => {
      it('a record comes back exactly as written', withStore(async (s) => {
        const full = auditRec({
          principalName: 'Zoë "ops" ✓', models: [LLAMA, QWEN], reason: 'GW_ERR_UPSTREAM_RESET', upstreamError: 'connection reset', tokensEstimated: true,
          clientAborted: true, stream: false, ttfbMs: 0.125, durationMs: 1234.567, bytesIn: 5_000_000_000, path: null,
        });
        const bare = auditRec({
          principalId: null, principalName: null, route: null, path: '/nope', scope: null, model: null, models: [], decision: 'refused',
          reason: 'GW_ERR_ROUTE_NOT_FOUND', status: 404, promptTokens: null, completionTokens: null, ttfbMs: null, upstream: null, at: T0 + 1,
        });
        await s.audit.append([full, bare]);
        await s.audit.append([]);
        const got = await s.audit.query({});
        assert.equal(got.length, 2);
        assert.ok(got[0]!.id > 0 && got[1]!.id > got[0]!.id);
        const { id: _1, ...g0 } = got[0]!;
        const { id: _2, ...g1 } = got[1]!;
        assert.deepEqual(g0, full);
        assert.deepEqual(g1, bare);
      }));

      it('queries filter by time, key, refusals and id, in either order, with a limit', withStore(async (s) => {
        await s.audit.append([
          auditRec({ at: T0, requestId: 'r1' }),
          auditRec({ at: T0 + 10, requestId: 'r2', decision: 'refused', reason: 'GW_ERR_SCOPE_MISSING', status: 403 }),
          auditRec({ at: T0 + 20, requestId: 'r3', principalId: 'key_b' }),
          auditRec({ at: T0 + 30, requestId: 'r4', principalId: null, decision: 'refused', reason: 'GW_ERR_AUTH_MISSING', status: 401 }),
        ]);
        const ids = async (q: Parameters<Stores['audit']['query']>[0]) => (await s.audit.query(q)).map((r) => r.requestId);
        assert.deepEqual(await ids({}), ['r1', 'r2', 'r3', 'r4']);
        assert.deepEqual(await ids({ since: T0 + 10, until: T0 + 30 }), ['r2', 'r3']);
        assert.deepEqual(await ids({ principalId: 'key_a' }), ['r1', 'r2']);
        assert.deepEqual(await ids({ deniedOnly: true }), ['r2', 'r4']);
        assert.deepEqual(await ids({ order: 'desc', limit: 2 }), ['r4', 'r3']);
        const first = (await s.audit.query({ limit: 1 }))[0]!;
        assert.deepEqual(await ids({ afterId: first.id }), ['r2', 'r3', 'r4']);
      }));

      it('usage: requests, refusals, tokens (exact) and nearest-rank p50/p95 (within 5%) per key, model, node, day, hour and overall', withStore(async (s) => {
        const rows: NewAuditRecord[] = [];
        for (let d = 1; d <= 20; d++) rows.push(auditRec({ at: T0 + d, durationMs: d }));
        rows.push(auditRec({ at: T0 + 30, decision: 'refused', reason: 'GW_ERR_RATE_LIMITED', status: 429, promptTokens: null, completionTokens: null, durationMs: 0.1 }));
        rows.push(auditRec({ at: T0 + 31, decision: 'refused', reason: 'GW_ERR_MODEL_NOT_FOUND', status: 404, model: null, models: [], promptTokens: null, completionTokens: null, durationMs: 0.1 }));
        for (const d of [300, 100, 200]) rows.push(auditRec({ at: T0 + DAY + HOUR + d, principalId: 'key_b', principalName: 'bob', model: QWEN, models: [QWEN], promptTokens: 10, completionTokens: 20, durationMs: d }));
        for (let i = 0; i < 3; i++) rows.push(auditRec({ at: T0 + 40 + i, principalId: null, principalName: null, model: null, models: [], decision: 'refused', reason: 'GW_ERR_AUTH_MISSING', status: 401, promptTokens: null, completionTokens: null }));
        rows.push(auditRec({ at: T0 + 3 * DAY, principalId: 'key_b', principalName: 'bob', durationMs: 9999 })); // outside the window
        await s.audit.append(rows);
        const q = { since: T0, until: T0 + 2 * DAY };

        const byKey = await s.audit.usage({ ...q, by: 'key' });
        assertUsage(byKey, [
          { group: 'key_a', label: 'alice', requests: 22, refused: 2, promptTokens: 60, completionTokens: 100, p50Ms: 10, p95Ms: 19 },
          { group: 'key_b', label: 'bob', requests: 3, refused: 0, promptTokens: 30, completionTokens: 60, p50Ms: 200, p95Ms: 300 },
          { group: null, label: null, requests: 3, refused: 3, promptTokens: 0, completionTokens: 0, p50Ms: null, p95Ms: null },
        ]);

        const byModel = await s.audit.usage({ ...q, by: 'model' });
        assert.deepEqual(byModel.map((r) => [r.group, r.requests, r.refused, near(r.p50Ms, 10), near(r.p95Ms, 19)]).slice(0, 1), [[LLAMA, 21, 1, true, true]]);
        assert.deepEqual(byModel.map((r) => [r.group, r.requests, r.refused, r.p50Ms]).slice(1, 2), [[null, 4, 4, null]]);
        assert.deepEqual(byModel.map((r) => [r.group, r.requests, r.refused, near(r.p50Ms, 200), near(r.p95Ms, 300)]).slice(2), [[QWEN, 3, 0, true, true]]);

        // Without upstreams no request has a node: one group, null.
        const byNode = await s.audit.usage({ ...q, by: 'node' });
        assert.deepEqual(byNode.map((r) => [r.group, r.requests]), [[null, 28]]);

        const byDay = await s.audit.usage({ ...q, by: 'day' });
        assert.deepEqual(byDay.map((r) => [r.group, r.requests, r.completionTokens]), [[Date.UTC(2025, 0, 15), 25, 100], [Date.UTC(2025, 0, 16), 3, 60]]);

        const byHour = await s.audit.usage({ ...q, by: 'hour' });
        assert.deepEqual(byHour.map((r) => [r.group, r.requests]), [[Date.UTC(2025, 0, 15, 10), 25], [Date.UTC(2025, 0, 16, 11), 3]]);

        const [all] = await s.audit.usage({ ...q, by: 'all' });
        // 23 allowed durations: 1..20, 100, 200, 300 → rank 12 (p50) and rank 22 (p95).
        assertUsage([all!], [{ group: null, label: null, requests: 28, refused: 5, promptTokens: 90, completionTokens: 160, p50Ms: 12, p95Ms: 200 }]);

        const bob = await s.audit.usage({ ...q, by: 'key', principalId: 'key_b' });
        assert.deepEqual(bob.map((r) => r.group), ['key_b']);
        assert.deepEqual(await s.audit.usage({ since: T0 + 10 * DAY, until: T0 + 11 * DAY, by: 'key' }), []);
      }));

      it('prune deletes records older than the cut-off, in slices, and nothing else', withStore(async (s) => {
        const old = Array.from({ length: 12_000 }, (_, i) => auditRec({ at: T0 - DAY + i, requestId: `old${i}` }));
        for (let i = 0; i < old.length; i += 3000) await s.audit.append(old.slice(i, i + 3000));
        await s.audit.append([auditRec({ at: T0, requestId: 'keep1' }), auditRec({ at: T0 + 1, requestId: 'keep2' })]);
        assert.equal(await s.audit.prune(T0), 12_000);
        assert.deepEqual((await s.audit.query({})).map((r) => r.requestId), ['keep1', 'keep2']);
        assert.equal(await s.audit.prune(T0), 0);
      }));

      it('admin events: recorded, filtered by key, action or prefix and time, newest first on request', withStore(async (s) => {
        await s.audit.recordAdmin({ at: T0, actor: 'server:gh@n1', action: 'config.initial', keyId: null, detail: { snapshot: { listen: '127.0.0.1:11435' } } });
        await s.audit.recordAdmin({ at: T0 + 5, actor: 'server:gh@n1', action: 'config.change', keyId: null, detail: { changes: { listen: { from: 'a', to: 'b' } } } });
        await s.audit.recordAdmin({ at: T0 + 9, actor: 'cli:x@y', action: 'key.revoke', keyId: 'key_z', detail: { name: 'z' } });
        const cfg = await s.audit.adminEvents({ action: 'config.', order: 'desc', limit: 1 });
        assert.equal(cfg.length, 1);
        assert.equal(cfg[0]!.action, 'config.change');
        assert.deepEqual(cfg[0]!.detail, { changes: { listen: { from: 'a', to: 'b' } } });
        assert.deepEqual((await s.audit.adminEvents({ action: 'config.initial' })).map((e) => e.at), [T0]);
        assert.deepEqual((await s.audit.adminEvents({ keyId: 'key_z' })).map((e) => e.actor), ['cli:x@y']);
        assert.deepEqual((await s.audit.adminEvents({ since: T0 + 1, until: T0 + 9 })).map((e) => e.action), ['config.change']);
        const [first] = await s.audit.adminEvents({ limit: 1 });
        assert.equal((await s.audit.adminEvents({ afterId: first!.id })).length, 2);
      }));
    });

    describe('blob uploads', () => {
      const D1 = `sha256:${'1'.repeat(64)}`;
      const D2 = `sha256:${'2'.repeat(64)}`;
      const D3 = `sha256:${'3'.repeat(64)}`;

      it('an upload is recorded per digest and per uploader: who and when, nothing else', withStore(async (s, t) => {
        await s.blobs.recordUpload({ digest: D1, principalId: 'key_a', principalName: 'alice', uploadedAt: T0 });
        await s.blobs.recordUpload({ digest: D2, principalId: 'key_a', principalName: 'alice', uploadedAt: T0 + 1 });
        await s.blobs.recordUpload({ digest: D1, principalId: 'key_b', principalName: 'bob', uploadedAt: T0 + 2 });
        assert.deepEqual((await s.blobs.uploadedBy('key_a', [D1, D2, D3, D1])).sort(), [D1, D2]);
        assert.deepEqual(await s.blobs.uploadedBy('key_b', [D2, D3]), [], 'another key\'s upload is not this key\'s');
        assert.deepEqual(await s.blobs.uploadedBy('key_b', [D1]), [D1]);
        assert.deepEqual(await s.blobs.uploadedBy('key_c', [D1, D2]), []);
        assert.deepEqual(await s.blobs.uploadedBy('key_a', []), []);
        assert.deepEqual(await s.blobs.uploadsOf(D1), [
          { digest: D1, principalId: 'key_a', principalName: 'alice', uploadedAt: T0 },
          { digest: D1, principalId: 'key_b', principalName: 'bob', uploadedAt: T0 + 2 },
        ]);
        assert.deepEqual(await s.blobs.uploadsOf(D3), []);
        // Another process (a replica, or the CLI) sees the same records.
        const other = await t.open();
        try {
          assert.deepEqual((await other.blobs.uploadedBy('key_a', [D1, D2])).sort(), [D1, D2]);
        } finally {
          await other.close();
        }
      }));

      it('recording the same upload again keeps the first record', withStore(async (s) => {
        await s.blobs.recordUpload({ digest: D1, principalId: 'key_a', principalName: 'alice', uploadedAt: T0 });
        await s.blobs.recordUpload({ digest: D1, principalId: 'key_a', principalName: 'alice (renamed)', uploadedAt: T0 + HOUR });
        assert.deepEqual(await s.blobs.uploadsOf(D1), [{ digest: D1, principalId: 'key_a', principalName: 'alice', uploadedAt: T0 }]);
      }));

      it('a lookup of many digests at once answers for each', withStore(async (s) => {
        const many = Array.from({ length: 70 }, (_, i) => `sha256:${i.toString(16).padStart(64, '0')}`);
        for (const d of many.filter((_, i) => i % 3 === 0)) await s.blobs.recordUpload({ digest: d, principalId: 'key_a', principalName: 'alice', uploadedAt: T0 });
        assert.deepEqual((await s.blobs.uploadedBy('key_a', many)).sort(), many.filter((_, i) => i % 3 === 0).sort());
      }));
    });
  });
}

export async function waitFor(pred: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
