/**
 * Microbenchmark: API-key verification with 100,000 keys in the store (issue target: < 50 µs
 * p99). Builds a real SQLite key store in a temp dir, loads it into the KeyCache the server uses,
 * then times `authenticateApiKey` one call at a time for valid keys, wrong keys and mistyped
 * keys, and prints percentiles. Also times the ollama CLI's Ed25519 check for comparison, and
 * OIDC JWT bearer tokens (auth/oidc/): the cached path (a token seen before: hash and lookup,
 * target p99 ≤ 100 µs) and, for reference, a first verification (signature check, async).
 *
 *   npm run build && node dist/bench/key-verify.js [--keys 100000] [--samples 200000]
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateApiKey, KEY_PREFIX } from '../src/auth/api-key.js';
import { authenticateApiKey } from '../src/auth/authenticate.js';
import { KeyCache } from '../src/auth/key-cache.js';
import { OidcAuthenticator } from '../src/auth/oidc/authenticator.js';
import { PolicyCache } from '../src/auth/policy-cache.js';
import type { AuthRequest, AuthResult } from '../src/auth/authenticator.js';
import { startBenchIssuer } from './lib/jwks.js';
import { SshAuthenticator } from '../src/auth/ssh-auth.js';
import { encodeEd25519Blob, ED25519_KEY_TYPE } from '../src/auth/ssh/wire.js';
import { sshFingerprint, formatPublicKeyLine } from '../src/auth/ssh/public-key.js';
import { ReplayGuard } from '../src/auth/ssh/replay-guard.js';
import { systemClock } from '../src/core/clock.js';
import { openStores } from '../src/store/index.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
}

function percentiles(ns: Float64Array): string {
  const s = Array.from(ns).sort((a, b) => a - b);
  const at = (q: number) => (s[Math.min(s.length - 1, Math.floor(q * s.length))]! / 1000).toFixed(2);
  return `p50 ${at(0.5)} µs   p90 ${at(0.9)} µs   p99 ${at(0.99)} µs   p99.9 ${at(0.999)} µs   max ${(s[s.length - 1]! / 1000).toFixed(1)} µs`;
}

function time(samples: number, fn: (i: number) => void): Float64Array {
  const out = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    fn(i);
    out[i] = Number(process.hrtime.bigint() - t0);
  }
  return out;
}

async function main(): Promise<void> {
  const nKeys = arg('keys', 100_000);
  const samples = arg('samples', 200_000);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-keybench-'));
  try {
    const stores = await openStores({ dataDir: dir, role: 'server' });
    const keys: string[] = [];
    const t0 = Date.now();
    for (let i = 0; i < nKeys; i++) {
      const k = generateApiKey();
      keys.push(k.key);
      await stores.keys.create(
        { id: `key_b${i}`, name: `bench-${i}`, kind: 'api_key', hash: k.hash, hint: k.hint, fingerprint: null, publicKey: null, scopes: ['inference'], models: i % 2 ? ['llama3*'] : null, limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, expiresAt: null },
        { actor: 'bench' },
      );
    }
    const cache = new KeyCache(stores.keys);
    const t1 = Date.now();
    await cache.refresh();
    console.log(`${nKeys} keys stored in ${((t1 - t0) / 1000).toFixed(1)} s; loaded into the cache in ${Date.now() - t1} ms (${cache.size} keys)`);
    console.log(`node ${process.version}, ${samples} timed calls each, one at a time\n`);

    const wrong = Array.from({ length: 1000 }, () => generateApiKey().key);
    const typo = keys.slice(0, 1000).map((k) => k.slice(0, KEY_PREFIX.length + 10) + (k[KEY_PREFIX.length + 10] === 'a' ? 'b' : 'a') + k.slice(KEY_PREFIX.length + 11));
    // Warm up the JIT on every path first.
    for (let i = 0; i < 50_000; i++) {
      authenticateApiKey(keys[i % nKeys]!, cache, systemClock);
      authenticateApiKey(wrong[i % 1000]!, cache, systemClock);
      authenticateApiKey(typo[i % 1000]!, cache, systemClock);
    }
    let ok = 0;
    const valid = time(samples, (i) => {
      if (authenticateApiKey(keys[(i * 7919) % nKeys]!, cache, systemClock).ok) ok++;
    });
    if (ok !== samples) throw new Error(`only ${ok} of ${samples} valid keys verified`);
    const unknown = time(samples, (i) => void authenticateApiKey(wrong[i % 1000]!, cache, systemClock));
    const mistyped = time(samples, (i) => void authenticateApiKey(typo[i % 1000]!, cache, systemClock));
    console.log(`API key, valid (${nKeys} in store):  ${percentiles(valid)}`);
    console.log(`API key, unknown:                  ${percentiles(unknown)}`);
    console.log(`API key, bad checksum:             ${percentiles(mistyped)}`);

    // The ollama CLI's Ed25519 token: one registered key, fresh token per call as the CLI sends.
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
    const blob = encodeEd25519Blob(raw);
    await stores.keys.create(
      { id: 'key_ssh', name: 'cli', kind: 'ssh_key', hash: null, hint: null, fingerprint: sshFingerprint(blob), publicKey: formatPublicKeyLine(raw), scopes: ['inference'], models: null, limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, expiresAt: null },
      { actor: 'bench' },
    );
    await cache.refresh();
    const ssh = new SshAuthenticator(cache, systemClock, { windowSec: 300, replayGuard: null, fileKeys: () => new Map() });
    const ts = String(Math.floor(Date.now() / 1000));
    const tokens = Array.from({ length: 256 }, (_, i) => {
      const path = `/api/chat${i}`;
      return { path, token: `${blob.toString('base64')}:${sign(null, Buffer.from(`POST,${path}?ts=${ts}`), privateKey).toString('base64')}` };
    });
    const sshSamples = Math.min(samples, 20_000);
    let sshOk = 0;
    const ed = time(sshSamples, (i) => {
      const t = tokens[i % 256]!;
      if (ssh.authenticate(t.token, { method: 'POST', path: t.path, query: `ts=${ts}` }).ok) sshOk++;
    });
    if (sshOk !== sshSamples) throw new Error('Ed25519 tokens did not verify');
    console.log(`Ed25519 CLI token (${ED25519_KEY_TYPE}):      ${percentiles(ed)}`);

    // ssh.replay: once — what the guard costs per token and how much memory a full guard holds.
    global.gc?.();
    // Measured from before the token strings exist: the guard keeps each token's text (88 chars).
    const before = process.memoryUsage().heapUsed;
    const guard = new ReplayGuard({ windowSec: 300 });
    const sigs = Array.from({ length: 100_000 }, (_, i) => `${i.toString(36).padStart(8, '0')}${'A'.repeat(78)}==`);
    const now = Math.floor(Date.now() / 1000);
    const fresh = time(100_000, (i) => void guard.check(sigs[i]!, now, now));
    global.gc?.();
    const held = process.memoryUsage().heapUsed - before; // includes the 100k token strings the guard holds
    const replays = time(100_000, (i) => void guard.check(sigs[i]!, now, now));
    console.log(`replay guard, new token:           ${percentiles(fresh)}`);
    console.log(`replay guard, replayed token:      ${percentiles(replays)}`);
    console.log(`replay guard holding ${guard.size} tokens (its cap): ~${(held / 1024 / 1024).toFixed(1)} MiB of heap${global.gc ? '' : ' (run with --expose-gc for a steadier figure)'}`);
    await jwtBench(stores, samples);
    await stores.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** JWT bearer tokens from a loopback issuer, through the authenticator the server composes. */
async function jwtBench(stores: Awaited<ReturnType<typeof openStores>>, samples: number): Promise<void> {
  const idp = await startBenchIssuer();
  try {
    await stores.policies.create({ id: 'pol_benchoidc00', name: 'bench-oidc', scopes: ['inference'], models: null, limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {} }, { actor: 'bench' });
    const policies = new PolicyCache(stores.policies);
    await policies.refresh();
    const oidc = new OidcAuthenticator(
      [{ issuer: idp.issuer, audience: 'gatehouse', claims: { subject: 'sub', name: 'preferred_username', groups: 'groups' }, rules: [{ group: 'other', policy: 'nope' }, { group: 'ml', policy: 'bench-oidc' }], jwks_min_refresh: 30_000 }],
      policies,
      systemClock,
    );
    const request = {} as AuthRequest;
    const nTokens = 1000;
    const tokens = await Promise.all(Array.from({ length: nTokens }, (_, i) => idp.token({ sub: `user-${i}`, groups: ['staff', 'ml'] })));
    // First sight of each token: discovery and key fetch (first only), then ES256 verification.
    const first = new Float64Array(nTokens);
    for (let i = 0; i < nTokens; i++) {
      const t0 = process.hrtime.bigint();
      const r = await oidc.authenticate({ kind: 'api_key', key: tokens[i]! }, request);
      first[i] = Number(process.hrtime.bigint() - t0);
      if (!r || !(await r).ok) throw new Error(`token ${i} did not verify: ${JSON.stringify(r && (await r))}`);
    }
    const sync = (i: number): AuthResult => {
      const r = oidc.authenticate({ kind: 'api_key', key: tokens[i % nTokens]! }, request);
      if (r === null || r instanceof Promise) throw new Error('a cached token must be answered synchronously');
      return r;
    };
    for (let i = 0; i < 50_000; i++) sync(i);
    let ok = 0;
    const cached = time(samples, (i) => {
      if (sync((i * 7919) % nTokens).ok) ok++;
    });
    if (ok !== samples) throw new Error(`only ${ok} of ${samples} cached tokens verified`);
    console.log(`JWT, cached (${nTokens} tokens):         ${percentiles(cached)}`);
    console.log(`JWT, first sight (ES256, async):    ${percentiles(first.subarray(1))}  (the first, with discovery and key fetch: ${(first[0]! / 1e6).toFixed(1)} ms)`);
  } finally {
    await idp.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
