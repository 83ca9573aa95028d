import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AuthRequest, AuthResult } from '../../src/auth/authenticator.js';
import { OidcAuthenticator } from '../../src/auth/oidc/authenticator.js';
import { PolicyCache } from '../../src/auth/policy-cache.js';
import { systemClock, type Clock } from '../../src/core/clock.js';
import type { PolicyRecord, PolicyStore } from '../../src/store/types.js';
import { startProvider, type TestProvider } from '../helpers/oidc.js';

/**
 * The JWT authenticator in-process, against a real OpenID provider: the first sight of a token is
 * a promise, every later use of it is answered synchronously; policy changes reach a cached
 * identity; the principal is stable per identity; the token's expiry still applies from the cache.
 */

function policy(id: string, name: string, models: string[] | null, version: number): PolicyRecord {
  return { id, name, scopes: ['inference'], models, limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, createdAt: 0, updatedAt: 0, deletedAt: null, version };
}

/** A policy store whose next change the test decides. */
class Policies {
  pending: PolicyRecord[] = [];
  version = 0;
  readonly store = { changesSince: async () => ({ version: ++this.version, records: this.pending.splice(0) }) } as unknown as PolicyStore;
}

describe('OidcAuthenticator (in-process, real provider)', () => {
  let idp: TestProvider;
  const req = {} as AuthRequest;
  before(async () => {
    idp = await startProvider([{ id: 'alice', groups: ['ml'], name: 'Alice' }, { id: 'bob', groups: ['ml'] }]);
  });
  after(async () => {
    await idp?.close();
  });
  const make = async (p: Policies, clock: Clock = systemClock) => {
    const cache = new PolicyCache(p.store);
    await cache.refresh();
    const a = new OidcAuthenticator([{ issuer: idp.issuer, audience: 'gatehouse', claims: { subject: 'sub', name: 'preferred_username', groups: 'groups' }, rules: [{ group: 'ml', policy: 'ml' }], jwks_min_refresh: 30_000 }], cache, clock);
    return { a, cache };
  };
  const cred = (key: string) => ({ kind: 'api_key' as const, key });

  it('first sight is a promise; later uses are synchronous and give the same principal', async () => {
    const p = new Policies();
    p.pending.push(policy('pol_ml0000000001', 'ml', ['llama3*'], 1));
    const { a } = await make(p);
    const token = await idp.token('alice');
    const first = a.authenticate(cred(token), req);
    assert.ok(first instanceof Promise);
    const r1 = await first;
    assert.ok(r1.ok, JSON.stringify(r1));
    const again = a.authenticate(cred(token), req);
    assert.ok(again !== null && !(again instanceof Promise), 'cached: no promise');
    assert.ok(again.ok);
    assert.equal(again.principal, r1.principal, 'the same frozen principal while the policy is unchanged');
    const pr = r1.principal;
    assert.equal(pr.kind, 'oidc');
    assert.equal(pr.issuer, idp.issuer);
    assert.equal(pr.subject, 'alice');
    assert.equal(pr.name, `Alice (alice @ ${idp.issuer})`);
    assert.equal(pr.policyId, 'pol_ml0000000001');
    assert.match(pr.id, /^oidc:[A-Za-z0-9_-]{22}$/);
    // Another token of the same identity: the same principal id; another identity: another.
    const r2 = (await a.authenticate(cred(await idp.token('alice')), req)) as AuthResult;
    const r3 = (await a.authenticate(cred(await idp.token('bob')), req)) as AuthResult;
    assert.ok(r2.ok && r3.ok);
    assert.equal(r2.principal.id, pr.id);
    assert.notEqual(r3.principal.id, pr.id);
    assert.equal(r3.principal.name, `bob @ ${idp.issuer}`);
  });

  it('a policy change reaches a cached identity at the next refresh; a deleted policy refuses it', async () => {
    const p = new Policies();
    p.pending.push(policy('pol_ml0000000002', 'ml', ['llama3*'], 1));
    const { a, cache } = await make(p);
    const token = await idp.token('alice');
    const r = (await a.authenticate(cred(token), req)) as AuthResult;
    assert.ok(r.ok);
    assert.deepEqual(r.principal.models, ['llama3*']);
    p.pending.push(policy('pol_ml0000000002', 'ml', ['qwen*'], 2));
    await cache.refresh();
    const changed = a.authenticate(cred(token), req) as AuthResult;
    assert.ok(changed.ok);
    assert.deepEqual(changed.principal.models, ['qwen*']);
    p.pending.push({ ...policy('pol_ml0000000002', 'ml', ['qwen*'], 3), deletedAt: 1 });
    await cache.refresh();
    const gone = a.authenticate(cred(token), req) as AuthResult;
    assert.ok(!gone.ok);
    assert.equal(gone.error.code, 'GW_ERR_AUTH_JWT_POLICY_MISSING');
  });

  it('a cached token still expires: past exp + 60 s it is refused from the cache', async () => {
    const p = new Policies();
    p.pending.push(policy('pol_ml0000000003', 'ml', null, 1));
    let now = Date.now();
    const clock = { now: () => now } as Clock;
    const { a } = await make(p, clock);
    const exp = Math.floor(now / 1000) + 120;
    const token = await idp.sign({ iss: idp.issuer, aud: 'gatehouse', sub: 'carol', groups: ['ml'], exp });
    assert.ok(((await a.authenticate(cred(token), req)) as AuthResult).ok);
    now = exp * 1000 + 59_000;
    assert.ok((a.authenticate(cred(token), req) as AuthResult).ok, 'within the skew');
    now = exp * 1000 + 61_000;
    const late = await a.authenticate(cred(token), req);
    assert.ok(late && !late.ok);
    assert.equal(late.error.code, 'GW_ERR_AUTH_JWT_EXPIRED');
  });

  it('API keys and ollama CLI tokens are not its to answer', async () => {
    const { a } = await make(new Policies());
    assert.equal(a.authenticate(cred('gatehouse_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG'), req), null);
    assert.equal(a.authenticate({ kind: 'ssh', token: 'AAAA:BBBB' }, req), null);
    assert.equal(a.authenticate({ kind: 'none' }, req), null);
    assert.equal(a.authenticate(cred('a.b.c'), req), null, 'not a JWT: the API-key check says what it is');
  });
});
