// Property-based checks of the whole Ed25519 request authenticator (token parsing, key lookup,
// timestamp window, challenge binding, standing), with tokens made by an independent signer
// (test/helpers/ollama-signer.ts: ssh-keygen keys, sshpk + node:crypto). A signed request is
// accepted exactly when it is the request that was signed, by a registered key in good standing,
// inside the window; every edit of method, path, query, timestamp or token is refused.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { generateKeyPair, loadOllamaSigner, sshKeygenFingerprint, type OllamaSigner } from '../../test/helpers/ollama-signer.js';
import { ManualClock } from '../core/clock.js';
import type { KeyRecord, KeyStore } from '../store/types.js';
import { extractCredential } from './credentials.js';
import { KeyCache } from './key-cache.js';
import { SshAuthenticator } from './ssh-auth.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sshprop-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Party {
  name: 'good' | 'revoked' | 'stranger';
  signer: OllamaSigner;
}
function party(name: Party['name']): Party & { record: KeyRecord | null } {
  const kp = generateKeyPair(dir, 'ed25519', `id_${name}`);
  const signer = loadOllamaSigner(readFileSync(kp.privateKeyPath));
  const record: KeyRecord | null =
    name === 'stranger'
      ? null
      : {
          id: name, name, kind: 'ssh_key', hash: null, hint: null, fingerprint: sshKeygenFingerprint(kp.publicKeyPath), publicKey: readFileSync(kp.publicKeyPath, 'utf8').trim().split(' ').slice(0, 2).join(' '),
          scopes: ['inference'], models: null, limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, policyId: null, createdAt: 0, expiresAt: null,
          revokedAt: name === 'revoked' ? 1 : null, lastUsedAt: null, updatedAt: 0, version: 1,
        };
  return { name, signer, record };
}
const parties = [party('good'), party('revoked'), party('stranger')];
const cache = new KeyCache({ changesSince: async () => ({ version: 1, records: parties.flatMap((p) => (p.record ? [p.record] : [])) }) } as unknown as KeyStore);
await cache.refresh();
const NOW = 1_760_000_000;
const WINDOW = 300;
const clock = new ManualClock(NOW * 1000);
const auth = new SshAuthenticator(cache, clock, { windowSec: WINDOW, replayGuard: null, fileKeys: () => new Map() });

const METHODS = ['GET', 'HEAD', 'POST', 'DELETE'];
const PATHS = ['/', '/api/tags', '/api/chat', '/api/pull', '/api/blobs/sha256:' + 'a'.repeat(64), '/v1/models/llama3:latest', '/api/tags/', '/API/tags', '/api//tags', '/api/tags;x'];

const tsArb = fc.oneof(fc.integer({ min: NOW - 2 * WINDOW, max: NOW + 2 * WINDOW }), fc.constantFrom(NOW, NOW - WINDOW, NOW + WINDOW, NOW - WINDOW - 1, NOW + WINDOW + 1, 0));

type Tamper = (token: string, other: string) => string;
const tamper: fc.Arbitrary<{ name: string; f: Tamper }> = fc.oneof(
  fc.constant({ name: 'none', f: ((t) => t) as Tamper }),
  fc.constantFrom('Bearer ', 'bearer  ', 'BEARER ').map((p) => ({ name: 'bearer', f: ((t) => p + t) as Tamper })),
  fc.nat().map((i) => ({ name: 'flip', f: ((t) => { const k = i % t.length; return t.slice(0, k) + (t[k] === 'A' ? 'B' : 'A') + t.slice(k + 1); }) as Tamper })),
  fc.constant({ name: 'other key part', f: ((t, o) => o.split(':')[0] + ':' + t.split(':')[1]) as Tamper }),
  fc.constant({ name: 'other signature', f: ((t, o) => t.split(':')[0] + ':' + o.split(':')[1]) as Tamper }),
  fc.nat().map((n) => ({ name: 'truncate', f: ((t) => t.slice(0, n % t.length)) as Tamper })),
  fc.constant({ name: 'pad', f: ((t) => t + '=') as Tamper }),
);

const scenario = fc.record({
  who: fc.constantFrom(...parties),
  method: fc.constantFrom(...METHODS),
  path: fc.constantFrom(...PATHS),
  ts: tsArb,
  reqMethod: fc.option(fc.constantFrom(...METHODS), { nil: undefined, freq: 3 }),
  reqPath: fc.option(fc.constantFrom(...PATHS), { nil: undefined, freq: 3 }),
  query: fc.constantFrom('same', 'same', 'same', 'plus-one', 'leading-zero', 'extra-param', 'param-first', 'upper', 'plus-sign', 'empty', 'none', 'double'),
  tamper,
});

function queryFor(kind: string, ts: number): string {
  switch (kind) {
    case 'same': return `ts=${ts}`;
    case 'plus-one': return `ts=${ts + 1}`;
    case 'leading-zero': return `ts=0${ts}`;
    case 'extra-param': return `ts=${ts}&model=x`;
    case 'param-first': return `model=x&ts=${ts}`;
    case 'upper': return `TS=${ts}`;
    case 'plus-sign': return `ts=+${ts}`;
    case 'empty': return 'ts=';
    case 'double': return `ts=${ts}&ts=${ts}`;
    default: return '';
  }
}

describe('SshAuthenticator (properties)', () => {
  it('accepts exactly the signed request, from a registered key in good standing, inside the window', () => {
    const other = parties[2]!.signer.signRequest({ method: 'GET', path: '/api/tags', nowSec: NOW }).authorization;
    fc.assert(
      fc.property(scenario, (s) => {
        const token = s.who.signer.signRequest({ method: s.method, path: s.path, nowSec: s.ts }).authorization;
        const header = s.tamper.f(token, other);
        const req = { method: s.reqMethod ?? s.method, path: s.reqPath ?? s.path, query: queryFor(s.query, s.ts) };
        const cred = extractCredential(header, undefined);
        const ok = cred.kind === 'ssh' ? auth.authenticate(cred.token, req).ok : false;
        const reference =
          s.who.name === 'good' &&
          (s.tamper.name === 'none' || s.tamper.name === 'bearer' || header === token) &&
          req.method === s.method &&
          req.path === s.path &&
          req.query === `ts=${s.ts}` &&
          s.ts > 0 &&
          Math.abs(s.ts - NOW) <= WINDOW;
        assert.equal(ok, reference, JSON.stringify({ who: s.who.name, signed: [s.method, s.path, s.ts], req, tamper: s.tamper.name }));
      }),
      { numRuns: 4000 },
    );
  });

  it('never throws on arbitrary tokens and requests', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 10 }), fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), (token, method, path, query) => {
        auth.authenticate(token, { method, path, query });
      }),
      { numRuns: 3000 },
    );
  });
});
