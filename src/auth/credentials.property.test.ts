// Property-based checks of credential parsing and API-key authentication, the first code every
// attacker's header reaches: it never throws, and it never authenticates a request that a plain
// reading of the documented formats (Bearer <key>, Basic base64(user:key), x-api-key: <key>, all
// present ones agreeing) would not authenticate as that key.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { systemClock } from '../core/clock.js';
import type { KeyRecord, KeyStore } from '../store/types.js';
import { generateApiKey } from './api-key.js';
import { authenticateApiKey } from './authenticate.js';
import { extractCredential } from './credentials.js';
import { KeyCache } from './key-cache.js';

const ACTIVE = generateApiKey();
const REVOKED = generateApiKey();
const EXPIRED = generateApiKey();

function record(id: string, k: { hash: string; hint: string }, extra: Partial<KeyRecord> = {}): KeyRecord {
  return {
    id, name: id, kind: 'api_key', hash: k.hash, hint: k.hint, fingerprint: null, publicKey: null, scopes: ['inference'], models: null,
    limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, policyId: null, createdAt: 0, expiresAt: null, revokedAt: null, lastUsedAt: null, updatedAt: 0, version: 1, ...extra,
  };
}
const records = [record('active', ACTIVE), record('revoked', REVOKED, { revokedAt: 1 }), record('expired', EXPIRED, { expiresAt: 1 })];
const cache = new KeyCache({ changesSince: async () => ({ version: 1, records }) } as unknown as KeyStore);
await cache.refresh();

/**
 * The reference: what a careful reader of the formats accepts as "this request presents `key`".
 * Deliberately written differently from credentials.ts (regular expressions over the whole value)
 * and a little more permissive about whitespace, so only real over-acceptance fails the property.
 */
function referencePresents(key: string, authorization: string | undefined, xApiKey: string | string[] | undefined): boolean {
  const presented: string[] = [];
  if (Array.isArray(xApiKey)) return false;
  if (xApiKey !== undefined) presented.push(xApiKey.trim());
  if (authorization !== undefined) {
    const bearer = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization);
    const basic = /^\s*basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(authorization);
    if (bearer) presented.push(bearer[1]!);
    else if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon === -1) return false;
      presented.push(decoded.slice(colon + 1));
    } else return false;
  }
  return presented.length > 0 && presented.every((p) => p === key);
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const flip = (s: string, i: number): string => {
  const k = i % s.length;
  const c = s[k]!;
  return s.slice(0, k) + (c === 'A' ? 'B' : 'A') + s.slice(k + 1);
};

/** Key-like tokens: the real keys, near misses of the active one, and junk. */
const token = fc.oneof(
  fc.constantFrom(ACTIVE.key, REVOKED.key, EXPIRED.key, ACTIVE.key.toUpperCase(), ACTIVE.key.slice(0, -1), `${ACTIVE.key}A`, `${ACTIVE.key}:x`, ACTIVE.hash, ACTIVE.hint, 'gatehouse_', ''),
  fc.nat().map((i) => flip(ACTIVE.key, i)),
  fc.string({ maxLength: 70 }),
  fc.string({ unit: fc.constantFrom(...'gatehouse_0123456789ABCDEFabcdef :=+/'.split('')), maxLength: 70 }),
);
const ws = fc.constantFrom('', ' ', '  ', '\t', ' \t', '\u00a0', '\n');
const authorization = fc.oneof(
  fc.constant(undefined),
  fc.tuple(ws, fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Token', 'Basic', 'Bearer:', ''), fc.constantFrom(' ', '  ', '\t', ''), token, ws).map(([a, s, sep, t, z]) => `${a}${s}${sep}${t}${z}`),
  fc.tuple(fc.constantFrom('Basic ', 'basic ', 'Basic  '), fc.string({ maxLength: 12 }), fc.constantFrom(':', '', '::'), token).map(([s, user, colon, t]) => s + b64(user + colon + t)),
  fc.string({ maxLength: 120 }),
);
const xApiKey = fc.oneof(
  fc.constant(undefined),
  fc.tuple(ws, token, ws).map(([a, t, z]) => a + t + z),
  fc.array(token, { minLength: 2, maxLength: 3 }),
);

describe('extractCredential + authenticateApiKey (properties)', () => {
  it('never throws, on any header values', () => {
    fc.assert(
      fc.property(fc.option(fc.string({ unit: 'binary', maxLength: 5000 }), { nil: undefined }), fc.oneof(fc.constant(undefined), fc.string({ unit: 'binary', maxLength: 300 }), fc.array(fc.string())), (a, x) => {
        const c = extractCredential(a, x);
        if (c.kind === 'api_key') authenticateApiKey(c.key, cache, systemClock);
      }),
      { numRuns: 3000 },
    );
  });

  it('never authenticates a request that does not present exactly the active key (and only the active key)', () => {
    fc.assert(
      fc.property(authorization, xApiKey, (a, x) => {
        const c = extractCredential(a, x);
        if (c.kind !== 'api_key') return;
        const r = authenticateApiKey(c.key, cache, systemClock);
        if (!r.ok) return;
        assert.equal(r.principal.id, 'active', 'a revoked or expired key authenticated');
        assert.ok(referencePresents(ACTIVE.key, a, x), `authenticated ${JSON.stringify({ authorization: a, xApiKey: x })}`);
      }),
      { numRuns: 20_000 },
    );
  });

  it('the documented forms of the active key always authenticate (Bearer any case, Basic any user, x-api-key, both agreeing)', () => {
    fc.assert(
      fc.property(fc.constantFrom('Bearer', 'bearer', 'BEARER'), fc.string({ maxLength: 20 }).filter((u) => !u.includes(':')), fc.constantFrom(' ', '  '), (scheme, user, sep) => {
        const forms: Array<[string | undefined, string | undefined]> = [
          [`${scheme}${sep}${ACTIVE.key}`, undefined],
          [`Basic ${b64(`${user}:${ACTIVE.key}`)}`, undefined],
          [undefined, ACTIVE.key],
          [`${scheme} ${ACTIVE.key}`, ACTIVE.key],
        ];
        for (const [a, x] of forms) {
          const c = extractCredential(a, x);
          assert.equal(c.kind, 'api_key', JSON.stringify([a, x]));
          assert.equal(c.kind === 'api_key' && authenticateApiKey(c.key, cache, systemClock).ok, true);
        }
      }),
    );
  });

  it('a token with a colon is always read as an Ed25519 token, never as an API key', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 80 }), (l, r) => {
        const c = extractCredential(`Bearer ${l.replace(/\s/g, '')}:${r.replace(/\s/g, '')}`, undefined);
        assert.notEqual(c.kind, 'api_key');
      }),
    );
  });
});
