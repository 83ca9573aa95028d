import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { generateEcdsaKeyPair, generateKeyPair, generateRsaKeyPair } from '../../../test/helpers/ollama-signer.js';
import { describeWireKeyFailure, encodeEd25519Blob, parseEd25519Blob, readKeyType } from './wire.js';

/** SSH `string`: uint32 length + bytes. */
function sshString(data: string | Uint8Array): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

const RAW = Buffer.alloc(32, 7);
const GOOD = Buffer.concat([sshString('ssh-ed25519'), sshString(RAW)]);

function pubBlob(pubPath: string): Buffer {
  return Buffer.from(readFileSync(pubPath, 'utf8').split(' ')[1]!, 'base64');
}

describe('parseEd25519Blob', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-wire-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('returns the 32 raw key bytes of a well-formed blob', () => {
    const r = parseEd25519Blob(GOOD);
    assert.ok(r.ok);
    assert.deepEqual(r.rawKey, RAW);
  });

  it('reads the key from an ssh-keygen .pub file', () => {
    const pair = generateKeyPair(dir);
    const blob = pubBlob(pair.publicKeyPath);
    const r = parseEd25519Blob(blob);
    assert.ok(r.ok);
    assert.deepEqual(r.rawKey, blob.subarray(19));
  });

  it('works on a Uint8Array view with a non-zero offset', () => {
    const padded = Buffer.concat([Buffer.alloc(5, 0xaa), GOOD, Buffer.alloc(3, 0xbb)]);
    const view = new Uint8Array(padded.buffer, padded.byteOffset + 5, GOOD.length);
    const r = parseEd25519Blob(view);
    assert.ok(r.ok);
    assert.deepEqual(r.rawKey, RAW);
  });

  it('names RSA and ECDSA key types from ssh-keygen', () => {
    const rsa = parseEd25519Blob(pubBlob(generateRsaKeyPair(dir).publicKeyPath));
    const ecdsa = parseEd25519Blob(pubBlob(generateEcdsaKeyPair(dir).publicKeyPath));
    assert.deepEqual(rsa, { ok: false, reason: 'unsupported-key-type', keyType: 'ssh-rsa' });
    assert.deepEqual(ecdsa, { ok: false, reason: 'unsupported-key-type', keyType: 'ecdsa-sha2-nistp256' });
    assert.equal(describeWireKeyFailure(rsa as never), 'key type ssh-rsa is not supported; the ollama CLI uses ssh-ed25519 keys');
  });

  it('names security-key and certificate types', () => {
    const sk = Buffer.concat([sshString('sk-ssh-ed25519@openssh.com'), sshString(RAW), sshString('ssh:')]);
    assert.deepEqual(parseEd25519Blob(sk), { ok: false, reason: 'unsupported-key-type', keyType: 'sk-ssh-ed25519@openssh.com' });
    const cert = Buffer.concat([sshString('ssh-ed25519-cert-v01@openssh.com'), sshString(Buffer.alloc(32))]);
    assert.deepEqual(parseEd25519Blob(cert), { ok: false, reason: 'unsupported-key-type', keyType: 'ssh-ed25519-cert-v01@openssh.com' });
  });

  const cases: Array<[string, Buffer, string]> = [
    ['empty', Buffer.alloc(0), 'truncated'],
    ['3 bytes', Buffer.from([0, 0, 0]), 'truncated'],
    ['type length past the end', Buffer.concat([uint32(11), Buffer.from('ssh-ed')]), 'truncated'],
    ['zero-length type', Buffer.concat([uint32(0), sshString(RAW)]), 'bad-key-type-name'],
    ['huge type length', Buffer.concat([uint32(0xffffffff), Buffer.from('ssh-ed25519')]), 'bad-key-type-name'],
    ['type with a control char', Buffer.concat([sshString('ssh-ed\n25519'), sshString(RAW)]), 'bad-key-type-name'],
    ['type with a space', Buffer.concat([sshString('ssh rsa'), sshString(RAW)]), 'bad-key-type-name'],
    ['no key length', sshString('ssh-ed25519'), 'truncated'],
    ['key length cut', Buffer.concat([sshString('ssh-ed25519'), Buffer.from([0, 0])]), 'truncated'],
    ['huge key length', Buffer.concat([sshString('ssh-ed25519'), uint32(0xffffffff), RAW]), 'truncated'],
    ['key shorter than declared', Buffer.concat([sshString('ssh-ed25519'), uint32(32), RAW.subarray(0, 31)]), 'truncated'],
    ['31-byte key', Buffer.concat([sshString('ssh-ed25519'), sshString(RAW.subarray(0, 31))]), 'bad-key-length'],
    ['33-byte key', Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.alloc(33))]), 'bad-key-length'],
    ['trailing byte', Buffer.concat([GOOD, Buffer.from([0])]), 'trailing-bytes'],
    ['trailing string', Buffer.concat([GOOD, sshString('x')]), 'trailing-bytes'],
  ];
  for (const [label, blob, reason] of cases) {
    it(`fails with ${reason}: ${label}`, () => {
      const r = parseEd25519Blob(blob);
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.reason, reason);
      assert.equal(typeof describeWireKeyFailure(r as never), 'string');
    });
  }

  it('never throws and only accepts 51-byte ed25519 blobs, for any bytes of length 0..500 (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 500 }), (bytes) => {
        const r = parseEd25519Blob(bytes);
        if (r.ok) {
          assert.equal(bytes.length, 51);
          assert.deepEqual(Buffer.from(bytes), encodeEd25519Blob(r.rawKey));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on arbitrary bytes behind a valid ed25519 header (property)', () => {
    const header = GOOD.subarray(0, 19);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 100 }), (tail) => {
        const r = parseEd25519Blob(Buffer.concat([header, tail]));
        assert.equal(r.ok, tail.length === 32);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('readKeyType', () => {
  it('reads the type from a prefix of a blob', () => {
    const r = readKeyType(Buffer.concat([sshString('ssh-rsa'), Buffer.from([0, 0])]));
    assert.deepEqual(r, { ok: true, keyType: 'ssh-rsa', next: 11 });
  });
});

describe('encodeEd25519Blob', () => {
  it('is the inverse of parseEd25519Blob', () => assert.deepEqual(encodeEd25519Blob(RAW), GOOD));
  it('refuses keys that are not 32 bytes', () => assert.throws(() => encodeEd25519Blob(Buffer.alloc(31)), RangeError));
});
