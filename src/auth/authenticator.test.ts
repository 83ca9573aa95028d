import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import type { KeyRecord, KeyStore } from '../store/types.js';
import { generateApiKey } from './api-key.js';
import { ApiKeyAuthenticator } from './authenticate.js';
import { AuthenticatorChain, type AuthRequest, type AuthResult, type Authenticator } from './authenticator.js';
import { ClientCertAuthenticator } from './client-cert.js';
import type { Credential } from './credentials.js';
import { JwtRefusal, looksLikeJwt } from './jwt-refusal.js';
import { KeyCache } from './key-cache.js';
import { OllamaTokenAuthenticator, type SshAuthenticator } from './ssh-auth.js';
import { API_KEY_STANDING, checkStanding, CLIENT_CERT_STANDING, SSH_KEY_STANDING } from './standing.js';
import { principalFromRecord } from './principal.js';

const ACTIVE = generateApiKey();
const REVOKED = generateApiKey();
const EXPIRED = generateApiKey();
function record(id: string, hash: string, o: Partial<KeyRecord> = {}): KeyRecord {
  return {
    id, name: id, kind: 'api_key', hash, hint: '', fingerprint: null, publicKey: null, scopes: ['inference'], models: null,
    limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, policyId: null, createdAt: 0, expiresAt: null, revokedAt: null, lastUsedAt: null, updatedAt: 0, version: 1, ...o,
  };
}
const records = [record('active', ACTIVE.hash), record('revoked', REVOKED.hash, { revokedAt: 1 }), record('expired', EXPIRED.hash, { expiresAt: 1000 })];
const keys = new KeyCache({ changesSince: async () => ({ version: 1, records }) } as unknown as KeyStore);
await keys.refresh();

const JWT = [{ alg: 'RS256', typ: 'JWT', kid: 'k1' }, { sub: 'alice', iss: 'https://login.example' }].map((o) => Buffer.from(JSON.stringify(o)).toString('base64url')).join('.') + '.c2lnbmF0dXJl';

/** A request as the chain sees it: headers as sent (raw list too), a plain-HTTP socket unless given. */
function request(headers: [string, string][], socket: object = {}): AuthRequest {
  const h: Record<string, string> = {};
  for (const [k, v] of headers) h[k.toLowerCase()] ??= v;
  const req = { headers: h, rawHeaders: headers.flat(), socket } as unknown as IncomingMessage;
  return { req, method: 'POST', path: '/api/chat', query: '' };
}

const apiKeys = new ApiKeyAuthenticator(keys, systemClock);
const disabledSsh = new OllamaTokenAuthenticator(null);
/** These authenticators all answer synchronously: the chain's answer is never a promise here. */
class SyncChain extends AuthenticatorChain {
  override authenticate(r: AuthRequest): AuthResult {
    const a = super.authenticate(r);
    assert.ok(!(a instanceof Promise));
    return a as AuthResult;
  }
}

const defaultChain = new SyncChain([new JwtRefusal(), apiKeys, disabledSsh]);
const code = (r: AuthResult | null): string | null => (r === null ? null : r.ok ? `ok:${r.principal.id}` : r.error.code);
const apiKey = (key: string): Credential => ({ kind: 'api_key', key });
const none: Credential = { kind: 'none' };
const ssh: Credential = { kind: 'ssh', token: 'AAAA:BBBB' };

describe('authenticators: each claims its own credentials and says "not mine" to the rest', () => {
  it('API keys: claims every api_key credential, nothing else', () => {
    const r = request([]);
    assert.equal(code(apiKeys.authenticate(apiKey(ACTIVE.key), r)), 'ok:active');
    assert.equal(code(apiKeys.authenticate(apiKey('nope'), r)), 'GW_ERR_AUTH_INVALID');
    assert.equal(apiKeys.authenticate(none, r), null);
    assert.equal(apiKeys.authenticate(ssh, r), null);
  });

  it('Ed25519 tokens: claims ssh credentials; refuses them saying why when ssh is off; hands them to the SshAuthenticator when on', () => {
    const r = request([]);
    assert.equal(disabledSsh.authenticate(apiKey(ACTIVE.key), r), null);
    assert.equal(disabledSsh.authenticate(none, r), null);
    assert.equal(code(disabledSsh.authenticate(ssh, r)), 'GW_ERR_AUTH_SSH_DISABLED');
    const seen: unknown[] = [];
    const fake = { authenticate: (token: string, req: unknown) => (seen.push(token, req), { ok: false, error: { code: 'X' } }) } as unknown as SshAuthenticator;
    new OllamaTokenAuthenticator(fake).authenticate(ssh, r);
    assert.deepEqual(seen, ['AAAA:BBBB', r]);
  });

  it('client certificates: looked at only without a header credential; plain HTTP is "not mine"', () => {
    const certs = new ClientCertAuthenticator(keys, systemClock);
    const touched = { encrypted: true, getPeerX509Certificate: () => assert.fail('a header credential must win over the certificate') };
    assert.equal(certs.authenticate(apiKey(ACTIVE.key), request([], touched)), null);
    assert.equal(certs.authenticate(ssh, request([], touched)), null);
    assert.equal(certs.authenticate(none, request([])), null);
    // TLS without a certificate sent: nothing to look at.
    assert.equal(certs.authenticate(none, request([], { encrypted: true, getPeerX509Certificate: () => undefined })), null);
  });

  it('JWT refusal: claims only a Bearer value shaped like a JWT', () => {
    const jwt = new JwtRefusal();
    assert.equal(code(jwt.authenticate(apiKey(JWT), request([['Authorization', `Bearer ${JWT}`]]))), 'GW_ERR_AUTH_JWT_UNSUPPORTED');
    assert.equal(code(jwt.authenticate(apiKey(JWT), request([['authorization', `bearer  ${JWT}`]]))), 'GW_ERR_AUTH_JWT_UNSUPPORTED');
    // The same token in x-api-key or a Basic password is an API key attempt, answered as one.
    assert.equal(jwt.authenticate(apiKey(JWT), request([['x-api-key', JWT]])), null);
    assert.equal(jwt.authenticate(apiKey(JWT), request([['Authorization', `Basic ${Buffer.from(`u:${JWT}`).toString('base64')}`]])), null);
    assert.equal(jwt.authenticate(apiKey(ACTIVE.key), request([['Authorization', `Bearer ${ACTIVE.key}`]])), null);
    // Anything with a Gatehouse key's prefix is passed over before the shape is looked at.
    const prefixed = `gatehouse_${JWT}`;
    assert.equal(jwt.authenticate(apiKey(prefixed), request([['Authorization', `Bearer ${prefixed}`]])), null);
    assert.equal(jwt.authenticate(none, request([])), null);
    assert.equal(jwt.authenticate(ssh, request([])), null);
  });

  it('JWT shape: three non-empty base64url segments, the first a JSON object with "alg"', () => {
    assert.equal(looksLikeJwt(JWT), true);
    assert.equal(looksLikeJwt(ACTIVE.key), false);
    const [h, p, s] = JWT.split('.');
    for (const near of [`${h}.${p}`, `${h}.${p}.${s}.x`, `${h}..${s}`, `.${p}.${s}`, `${h}.${p}.`, `${h}.${p}.s+g`, `${h}.p=.${s}`,
      `${Buffer.from('{"typ":"JWT"}').toString('base64url')}.${p}.${s}`, `${Buffer.from('["alg"]').toString('base64url')}.${p}.${s}`,
      `${Buffer.from('not json').toString('base64url')}.${p}.${s}`, 'a.b.c']) {
      assert.equal(looksLikeJwt(near), false, near);
    }
  });
});

describe('the chain: order and precedence', () => {
  it('a duplicate Authorization header, then a malformed credential, are refused before any authenticator looks', () => {
    const never: Authenticator = { authenticate: () => assert.fail('must not be asked') };
    const chain = new SyncChain([never]);
    const dup = chain.authenticate(request([['Authorization', `Bearer ${ACTIVE.key}`], ['authorization', `Bearer ${ACTIVE.key}`]]));
    assert.equal(code(dup), 'GW_ERR_AUTH_MALFORMED');
    assert.match(dup.ok ? '' : dup.error.message, /^Authorization was sent more than once/);
    assert.equal(code(chain.authenticate(request([['Authorization', 'Digest abc']]))), 'GW_ERR_AUTH_MALFORMED');
  });

  it('the first authenticator that claims the credential answers; no credential and nobody claiming → missing', () => {
    const asked: string[] = [];
    const named = (name: string, answer: AuthResult | null): Authenticator => ({ authenticate: () => (asked.push(name), answer) });
    const claim: AuthResult = { ok: false, error: { code: 'GW_ERR_AUTH_INVALID' } as never };
    const chain = new SyncChain([named('first', null), named('second', claim), named('third', claim)]);
    assert.equal(chain.authenticate(request([['x-api-key', 'k']])), claim);
    assert.deepEqual(asked, ['first', 'second']);
    assert.equal(code(new SyncChain([]).authenticate(request([]))), 'GW_ERR_AUTH_MISSING');
    assert.equal(code(new SyncChain([]).authenticate(request([['x-api-key', 'k']]))), 'GW_ERR_AUTH_INVALID');
  });

  it('as composed by default: JWT before API keys; a near-JWT is an invalid API key; an Ed25519 token with ssh off says so', () => {
    assert.equal(code(defaultChain.authenticate(request([['Authorization', `Bearer ${JWT}`]]))), 'GW_ERR_AUTH_JWT_UNSUPPORTED');
    assert.equal(code(defaultChain.authenticate(request([['Authorization', 'Bearer a.b.c']]))), 'GW_ERR_AUTH_INVALID');
    assert.equal(code(defaultChain.authenticate(request([['Authorization', `Bearer ${ACTIVE.key}`]]))), 'ok:active');
    assert.equal(code(defaultChain.authenticate(request([['x-api-key', ACTIVE.key]]))), 'ok:active');
    assert.equal(code(defaultChain.authenticate(request([['Authorization', 'AAAA:BBBB']]))), 'GW_ERR_AUTH_SSH_DISABLED');
    assert.equal(code(defaultChain.authenticate(request([]))), 'GW_ERR_AUTH_MISSING');
  });
});

describe('standing: one revoked/expired check, worded per kind of credential', () => {
  const at = (ms: number): Clock => ({ now: () => ms }) as Clock;
  const p = (o: Partial<KeyRecord>) => principalFromRecord(record('k1', 'h', o));

  it('API keys go through it', () => {
    const r = defaultChain.authenticate(request([['Authorization', `Bearer ${REVOKED.key}`]]));
    assert.equal(code(r), 'GW_ERR_AUTH_REVOKED');
    assert.equal(r.ok ? '' : r.error.message, 'this API key ("revoked") was revoked; ask the gateway operator for a new one');
    const e = defaultChain.authenticate(request([['Authorization', `Bearer ${EXPIRED.key}`]]));
    assert.equal(code(e), 'GW_ERR_AUTH_EXPIRED');
    assert.match(e.ok ? '' : e.error.message, /^this API key \("expired"\) expired at 1970-01-01T00:00:01\.000Z; ask the gateway operator to extend it/);
  });

  it('the same check, with each kind\'s codes and words', () => {
    const revoked = p({ revokedAt: 5 });
    const expired = p({ expiresAt: 10 });
    const cases = [
      [API_KEY_STANDING, 'GW_ERR_AUTH_REVOKED', 'GW_ERR_AUTH_EXPIRED', 'this API key ("k1")'],
      [SSH_KEY_STANDING, 'GW_ERR_AUTH_SSH_REVOKED', 'GW_ERR_AUTH_SSH_EXPIRED', 'this SSH key ("k1")'],
      [CLIENT_CERT_STANDING, 'GW_ERR_AUTH_REVOKED', 'GW_ERR_AUTH_EXPIRED', 'the client certificate principal "k1"'],
    ] as const;
    for (const [words, rc, ec, who] of cases) {
      const r = checkStanding(revoked, at(0), words);
      assert.equal(code(r), rc);
      assert.ok(!r.ok && r.error.message.startsWith(`${who} was revoked`));
      const e = checkStanding(expired, at(10), words);
      assert.equal(code(e), ec);
      assert.ok(!e.ok && e.error.message.startsWith(`${who} expired at 1970-01-01T00:00:00.010Z`));
      assert.ok(!e.ok && e.error.message.endsWith('(`gatehouse keys update k1 --expires 30d`)'));
      assert.equal(code(checkStanding(expired, at(9), words)), 'ok:k1');
    }
  });
});
