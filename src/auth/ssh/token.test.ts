import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateEcdsaKeyPair,
  generateKeyPair,
  generateRsaKeyPair,
  loadOllamaSigner,
  type OllamaSigner,
} from '../../../test/helpers/ollama-signer.js';
import { createEd25519KeyObject } from './public-key.js';
import {
  buildChallenge,
  checkTimestamp,
  describeTokenFailure,
  parseOllamaToken,
  verifyOllamaSignature,
  type OllamaToken,
} from './token.js';

// Known-answer vector from docs/ollama-api-notes.md §5.6.
const DOC_KEY_B64 = 'AAAAC3NzaC1lZDI1NTE5AAAAILzt5urQzUIGmii92Tyt+ZGyWlKhnZd7yqwUr0cercQS';
const DOC_SIG_B64 = 'vqnIe0ov7PV1LNJiDzBU6BO9FouTv6TUNp8KHXUglEFeTa+oog+ns4rkl41/5K2T035jkHNMpQ7O30ce3E10Bg==';
const DOC_TOKEN = `${DOC_KEY_B64}:${DOC_SIG_B64}`;
const DOC_TS = 1724300000;

function parseOk(header: string): OllamaToken {
  const r = parseOllamaToken(header);
  if (!r.ok) assert.fail(`expected a token, got ${r.reason}`);
  return r;
}

/** The whole per-request check, as the gateway will compose it. */
function verifiesAt(header: string, method: string, url: string, nowSec: number, windowSec = 30): boolean {
  const token = parseOllamaToken(header);
  if (!token.ok) return false;
  const [path, query] = url.split('?') as [string, string | undefined];
  const tsRaw = query?.startsWith('ts=') ? query.slice(3) : undefined;
  const ts = checkTimestamp(tsRaw, nowSec, windowSec);
  if (!ts.ok || tsRaw === undefined) return false;
  return verifyOllamaSignature(createEd25519KeyObject(token.rawKey), buildChallenge(method, path, tsRaw), token.signature);
}

describe('known-answer vector (docs/ollama-api-notes.md §5.6)', () => {
  it('parses into a 32-byte key and a 64-byte signature', () => {
    const t = parseOk(DOC_TOKEN);
    assert.equal(t.keyB64, DOC_KEY_B64);
    assert.equal(t.signatureB64, DOC_SIG_B64);
    assert.equal(t.blob.toString('base64'), DOC_KEY_B64);
    assert.deepEqual(t.rawKey, Buffer.from(DOC_KEY_B64, 'base64').subarray(19));
    assert.equal(t.signature.length, 64);
  });

  it('verifies over "POST,/api/chat?ts=1724300000", with a KeyObject or a raw key', () => {
    const t = parseOk(DOC_TOKEN);
    const challenge = buildChallenge('POST', '/api/chat', DOC_TS);
    assert.equal(challenge, 'POST,/api/chat?ts=1724300000');
    assert.equal(verifyOllamaSignature(createEd25519KeyObject(t.rawKey), challenge, t.signature), true);
    assert.equal(verifyOllamaSignature(t.rawKey, challenge, t.signature), true);
    assert.equal(verifyOllamaSignature(t.rawKey, Buffer.from(challenge), t.signature), true);
    assert.equal(verifiesAt(DOC_TOKEN, 'POST', '/api/chat?ts=1724300000', DOC_TS + 5), true);
  });

  for (const [label, method, path, ts] of [
    ['method', 'GET', '/api/chat', '1724300000'],
    ['method case', 'post', '/api/chat', '1724300000'],
    ['path', 'POST', '/api/generate', '1724300000'],
    ['trailing slash', 'POST', '/api/chat/', '1724300000'],
    ['mount prefix left in', 'POST', '/ollama/api/chat', '1724300000'],
    ['ts', 'POST', '/api/chat', '1724300001'],
    ['ts with leading zero', 'POST', '/api/chat', '01724300000'],
  ] as const) {
    it(`fails when the ${label} is tampered`, () => {
      const t = parseOk(DOC_TOKEN);
      assert.equal(verifyOllamaSignature(t.rawKey, buildChallenge(method, path, ts), t.signature), false);
    });
  }

  it('fails with a different key', () => {
    const t = parseOk(DOC_TOKEN);
    const other = Buffer.from(t.rawKey);
    other[5] = other[5]! ^ 1;
    assert.equal(verifyOllamaSignature(other, buildChallenge('POST', '/api/chat', DOC_TS), t.signature), false);
  });

  it('fails for every single-bit flip of the signature', () => {
    const t = parseOk(DOC_TOKEN);
    const key = createEd25519KeyObject(t.rawKey);
    const challenge = buildChallenge('POST', '/api/chat', DOC_TS);
    for (let bit = 0; bit < 512; bit++) {
      const sig = Buffer.from(t.signature);
      sig[bit >> 3] = sig[bit >> 3]! ^ (1 << (bit & 7));
      assert.equal(verifyOllamaSignature(key, challenge, sig), false, `bit ${bit}`);
    }
  });

  it('rejects the malleable twin S + L (so a replay guard keyed on the signature holds)', () => {
    const t = parseOk(DOC_TOKEN);
    const L = (1n << 252n) + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(t.signature[32 + i]!);
    const twin = Buffer.from(t.signature);
    const s2 = s + L;
    for (let i = 0; i < 32; i++) twin[32 + i] = Number((s2 >> BigInt(8 * i)) & 0xffn);
    assert.equal(verifyOllamaSignature(t.rawKey, buildChallenge('POST', '/api/chat', DOC_TS), twin), false);
  });
});

describe('parseOllamaToken: Bearer prefix', () => {
  for (const prefix of ['Bearer ', 'bearer ', 'BEARER ', 'bEaReR ', 'Bearer   ']) {
    it(`accepts ${JSON.stringify(prefix)}`, () => {
      const t = parseOk(prefix + DOC_TOKEN);
      assert.equal(t.keyB64, DOC_KEY_B64);
      assert.equal(t.signatureB64, DOC_SIG_B64);
    });
  }
  for (const prefix of ['Bearer', 'Bearer\t', 'Basic ', 'Token ', ' ', 'Bearer: ', 'Bearer ' + 'Bearer ']) {
    it(`rejects ${JSON.stringify(prefix)}`, () => assert.equal(parseOllamaToken(prefix + DOC_TOKEN).ok, false));
  }
});

describe('parseOllamaToken: malformed input', () => {
  const sigBody = DOC_SIG_B64.slice(0, 86);
  const cases: Array<[string, string, string]> = [
    ['empty', '', 'empty'],
    ['only a prefix', 'Bearer ', 'empty'],
    ['no colon', DOC_KEY_B64 + DOC_SIG_B64, 'missing-separator'],
    ['too long', 'A'.repeat(20_000), 'too-long'],
    ['colon only', ':', 'bad-key-encoding'],
    ['key not base64', `${'!'.repeat(68)}:${DOC_SIG_B64}`, 'bad-key-encoding'],
    ['key 72 chars of ed25519', `${Buffer.concat([Buffer.from(DOC_KEY_B64, 'base64'), Buffer.from('abc')]).toString('base64')}:${DOC_SIG_B64}`, 'malformed-key'],
    ['key cut to 64 chars', `${DOC_KEY_B64.slice(0, 64)}:${DOC_SIG_B64}`, 'malformed-key'],
    ['key with a bad char after the prefix', `${DOC_KEY_B64.slice(0, 30)}*${DOC_KEY_B64.slice(31)}:${DOC_SIG_B64}`, 'bad-key-encoding'],
    ['signature 87 chars', `${DOC_KEY_B64}:${DOC_SIG_B64.slice(1)}`, 'bad-signature-length'],
    ['signature 89 chars', `${DOC_KEY_B64}:A${DOC_SIG_B64}`, 'bad-signature-length'],
    ['empty signature', `${DOC_KEY_B64}:`, 'bad-signature-length'],
    ['second colon', `${DOC_KEY_B64}:${DOC_SIG_B64.slice(0, 87)}:`, 'bad-signature-encoding'],
    ['signature without padding (66 bytes)', `${DOC_KEY_B64}:${sigBody}AA`, 'bad-signature-length'],
    ['signature with one pad (65 bytes)', `${DOC_KEY_B64}:${sigBody}A=`, 'bad-signature-length'],
    // The last data char is 'g' (0b100000); 'h' (0b100001) decodes to the same byte but sets a bit
    // under the padding: a second spelling of the same signature.
    ['non-canonical signature spelling', `${DOC_KEY_B64}:${DOC_SIG_B64.slice(0, 85)}h==`, 'bad-signature-encoding'],
    ['URL-safe signature', `${DOC_KEY_B64}:${DOC_SIG_B64.replace('+', '-')}`, 'bad-signature-encoding'],
    ['trailing space', `${DOC_TOKEN} `, 'bad-signature-length'],
    ['leading space', ` ${DOC_TOKEN}`, 'bad-key-encoding'],
  ];
  for (const [label, header, reason] of cases) {
    it(`${reason}: ${label}`, () => {
      const r = parseOllamaToken(header);
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.reason, reason);
      assert.ok(!r.ok && describeTokenFailure(r).length > 0);
    });
  }

  it('the non-canonical spelling really decodes to the same bytes with a lenient decoder', () => {
    const canonical = Buffer.from(DOC_SIG_B64, 'base64');
    const twin = Buffer.from(`${DOC_SIG_B64.slice(0, 85)}h==`, 'base64');
    assert.deepEqual(twin, canonical);
  });

  it('names a security-key type', () => {
    const blob = Buffer.concat([
      Buffer.from([0, 0, 0, 26]), Buffer.from('sk-ssh-ed25519@openssh.com'),
      Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 1),
      Buffer.from([0, 0, 0, 4]), Buffer.from('ssh:'),
    ]);
    assert.deepEqual(parseOllamaToken(`${blob.toString('base64')}:${DOC_SIG_B64}`), {
      ok: false, reason: 'unsupported-key-type', keyType: 'sk-ssh-ed25519@openssh.com',
    });
  });
});

describe('tokens from the independent sshpk-based signer', () => {
  let dir: string;
  let signer: OllamaSigner;
  const now = 1_750_000_000;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-token-'));
    signer = loadOllamaSigner(generateKeyPair(dir).privateKeyPath);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const paths = ['/', '/api/chat', '/api/tags', `/api/blobs/sha256:${'ab12'.repeat(16)}`, '/v1/models/llama3:latest', '/api/user/keys/AAAA_b-c'];
  for (const method of ['GET', 'HEAD', 'POST', 'DELETE']) {
    for (const path of paths) {
      it(`verifies ${method} ${path}`, () => {
        const req = signer.signRequest({ method, path, nowSec: now });
        assert.equal(verifiesAt(req.authorization, method, req.url, now), true);
        assert.equal(verifiesAt(`Bearer ${req.authorization}`, method, req.url, now), true);
        assert.equal(verifiesAt(req.authorization, method === 'GET' ? 'HEAD' : 'GET', req.url, now), false);
      });
    }
  }

  it('verifies with the current clock', () => {
    const req = signer.signRequest({ method: 'HEAD', path: '/' });
    assert.equal(verifiesAt(req.authorization, 'HEAD', req.url, Math.floor(Date.now() / 1000)), true);
  });

  it('a token from one key does not verify under another key', () => {
    const other = parseOk(loadOllamaSigner(generateKeyPair(dir, 'ed25519', 'other').privateKeyPath).signRequest({ method: 'GET', path: '/', nowSec: now }).authorization);
    const mine = parseOk(signer.signRequest({ method: 'GET', path: '/', nowSec: now }).authorization);
    assert.equal(verifyOllamaSignature(other.rawKey, buildChallenge('GET', '/', now), mine.signature), false);
  });

  it('refuses RSA and ECDSA keys with the key type named', () => {
    const rsa = loadOllamaSigner(generateRsaKeyPair(dir).privateKeyPath).signRequest({ method: 'GET', path: '/api/tags', nowSec: now });
    const ecdsa = loadOllamaSigner(generateEcdsaKeyPair(dir).privateKeyPath).signRequest({ method: 'GET', path: '/api/tags', nowSec: now });
    const r1 = parseOllamaToken(rsa.authorization);
    const r2 = parseOllamaToken(`Bearer ${ecdsa.authorization}`);
    assert.deepEqual(r1, { ok: false, reason: 'unsupported-key-type', keyType: 'ssh-rsa' });
    assert.deepEqual(r2, { ok: false, reason: 'unsupported-key-type', keyType: 'ecdsa-sha2-nistp256' });
    assert.equal(describeTokenFailure(r1 as never), 'key type ssh-rsa is not supported; the ollama CLI uses ssh-ed25519 keys');
  });
});

describe('checkTimestamp', () => {
  const now = 1_000_000;
  const w = 30;
  it('accepts the exact window boundaries', () => {
    assert.deepEqual(checkTimestamp(String(now), now, w), { ok: true, ts: now });
    assert.deepEqual(checkTimestamp(String(now - w), now, w), { ok: true, ts: now - w });
    assert.deepEqual(checkTimestamp(String(now + w), now, w), { ok: true, ts: now + w });
  });
  it('is stale one second past the window', () => {
    assert.deepEqual(checkTimestamp(String(now - w - 1), now, w), { ok: false, reason: 'stale', skewSec: -31 });
  });
  it('is future one second past the window', () => {
    assert.deepEqual(checkTimestamp(String(now + w + 1), now, w), { ok: false, reason: 'future', skewSec: 31 });
  });
  it('with a zero window accepts only the current second', () => {
    assert.equal(checkTimestamp(String(now), now, 0).ok, true);
    assert.equal(checkTimestamp(String(now - 1), now, 0).ok, false);
    assert.equal(checkTimestamp(String(now + 1), now, 0).ok, false);
  });
  it('is missing when the parameter is absent', () => {
    assert.deepEqual(checkTimestamp(undefined, now, w), { ok: false, reason: 'missing' });
  });
  it('accepts 12 digits and "0" syntactically', () => {
    assert.deepEqual(checkTimestamp('999999999999', 999999999999, w), { ok: true, ts: 999999999999 });
    assert.deepEqual(checkTimestamp('0', now, w), { ok: false, reason: 'stale', skewSec: -now });
    assert.deepEqual(checkTimestamp('0', 0, w), { ok: true, ts: 0 });
  });
  for (const raw of ['', ' ', '+1000000', '-1000000', ' 1000000', '1000000 ', '1e6', '1000000.0', '0x0F4240', '01000000', '1000000000000', '１００００００', '1_000_000', 'NaN', 'Infinity', '10\u00000000']) {
    it(`is malformed: ${JSON.stringify(raw)}`, () => {
      assert.deepEqual(checkTimestamp(raw, now, w), { ok: false, reason: 'malformed' });
    });
  }
});

describe('verifyOllamaSignature: defensive', () => {
  const t = parseOk(DOC_TOKEN);
  const challenge = buildChallenge('POST', '/api/chat', DOC_TS);
  it('returns false for a non-Ed25519 KeyObject instead of verifying with a default digest', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.equal(verifyOllamaSignature(publicKey, challenge, t.signature), false);
  });
  it('returns false for a private KeyObject', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    assert.equal(verifyOllamaSignature(privateKey, challenge, t.signature), false);
  });
  it('returns false for wrong key or signature sizes', () => {
    assert.equal(verifyOllamaSignature(t.rawKey.subarray(0, 31), challenge, t.signature), false);
    assert.equal(verifyOllamaSignature(t.rawKey, challenge, t.signature.subarray(0, 63)), false);
    assert.equal(verifyOllamaSignature(t.rawKey, challenge, Buffer.alloc(65)), false);
  });
  it('returns false for an all-zero key and signature', () => {
    assert.equal(verifyOllamaSignature(Buffer.alloc(32), challenge, Buffer.alloc(64)), false);
  });
});

describe('buildChallenge', () => {
  it('joins method, path and ts as the Go client does', () => {
    assert.equal(buildChallenge('HEAD', '/', '1'), 'HEAD,/?ts=1');
    assert.equal(buildChallenge('GET', '/api/blobs/sha256:00', 5), 'GET,/api/blobs/sha256:00?ts=5');
  });
});
