import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sign as cryptoSign, verify as cryptoVerify, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateEcdsaKeyPair,
  generateKeyPair,
  generateRsaKeyPair,
  loadOllamaSigner,
  sshKeygenFingerprint,
} from '../../../test/helpers/ollama-signer.js';
import { createEd25519KeyObject, describePublicKeyLineFailure, formatPublicKeyLine, parsePublicKeyLine, sshFingerprint } from './public-key.js';

// docs/ollama-api-notes.md §5.6; fingerprint from `ssh-keygen -lf` on that line.
const DOC_PUB_LINE = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILzt5urQzUIGmii92Tyt+ZGyWlKhnZd7yqwUr0cercQS';
const DOC_FINGERPRINT = 'SHA256:aTafwUHOFq28MooKQcdAyrHii+pg/pibZ26G3pSU/O0';

describe('parsePublicKeyLine', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-pubkey-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('parses the line from the doc example and fingerprints it like ssh-keygen', () => {
    const r = parsePublicKeyLine(DOC_PUB_LINE);
    assert.ok(r.ok);
    assert.equal(r.type, 'ssh-ed25519');
    assert.equal(r.blob.length, 51);
    assert.equal(r.rawKey.length, 32);
    assert.equal(r.comment, '');
    assert.equal(r.fingerprint, DOC_FINGERPRINT);
  });

  it('matches `ssh-keygen -lf` for several generated keys', () => {
    for (let i = 0; i < 5; i++) {
      const pair = generateKeyPair(dir, 'ed25519', `fp_${i}`, `user${i}@host`);
      const r = parsePublicKeyLine(readFileSync(pair.publicKeyPath, 'utf8'));
      assert.ok(r.ok, `key ${i}`);
      assert.equal(r.fingerprint, sshKeygenFingerprint(pair.publicKeyPath));
      assert.equal(r.comment, `user${i}@host`);
    }
  });

  it('keeps spaces inside the comment and tolerates tabs, CRLF and surrounding blanks', () => {
    const r = parsePublicKeyLine(`  ssh-ed25519\t${DOC_PUB_LINE.split(' ')[1]}   my laptop  key \r\n`);
    assert.ok(r.ok);
    assert.equal(r.comment, 'my laptop  key');
  });

  it('builds a KeyObject that verifies signatures made with the matching private key', () => {
    const pair = generateKeyPair(dir, 'ed25519', 'kobj');
    const r = parsePublicKeyLine(readFileSync(pair.publicKeyPath, 'utf8'));
    assert.ok(r.ok);
    const key = createEd25519KeyObject(r.rawKey);
    assert.equal(key.asymmetricKeyType, 'ed25519');
    const signer = loadOllamaSigner(pair.privateKeyPath);
    const sig = Buffer.from(signer.signChallenge('x'), 'base64');
    assert.equal(cryptoVerify(null, Buffer.from('x'), key, sig), true);
  });

  it('formatPublicKeyLine reproduces the .pub line', () => {
    const pair = generateKeyPair(dir, 'ed25519', 'fmt', 'me@box');
    const text = readFileSync(pair.publicKeyPath, 'utf8').trimEnd();
    const r = parsePublicKeyLine(text);
    assert.ok(r.ok);
    assert.equal(formatPublicKeyLine(r.rawKey, r.comment), text);
    assert.equal(formatPublicKeyLine(r.rawKey), text.split(' ').slice(0, 2).join(' '));
  });

  it('names RSA and ECDSA keys from ssh-keygen as unsupported', () => {
    const rsa = parsePublicKeyLine(readFileSync(generateRsaKeyPair(dir).publicKeyPath, 'utf8'));
    const ecdsa = parsePublicKeyLine(readFileSync(generateEcdsaKeyPair(dir).publicKeyPath, 'utf8'));
    assert.deepEqual(rsa, { ok: false, reason: 'unsupported-key-type', keyType: 'ssh-rsa' });
    assert.deepEqual(ecdsa, { ok: false, reason: 'unsupported-key-type', keyType: 'ecdsa-sha2-nistp256' });
    assert.equal(
      describePublicKeyLineFailure(rsa as never),
      'key type ssh-rsa is not supported; the ollama CLI uses ssh-ed25519 keys',
    );
  });

  it('reports key data whose type disagrees with the type field', () => {
    const rsaData = readFileSync(generateRsaKeyPair(dir, 'mismatch').publicKeyPath, 'utf8').split(' ')[1];
    assert.deepEqual(parsePublicKeyLine(`ssh-ed25519 ${rsaData}`), { ok: false, reason: 'type-mismatch', keyType: 'ssh-rsa' });
  });

  const b64 = DOC_PUB_LINE.split(' ')[1]!;
  const failures: Array<[string, string, string]> = [
    ['empty line', '', 'empty'],
    ['blank line', ' \t ', 'empty'],
    ['type only', 'ssh-ed25519', 'missing-key-data'],
    ['key options prefix', `from="10.0.0.1" ssh-ed25519 ${b64}`, 'bad-key-type-field'],
    ['unpadded base64', `ssh-ed25519 ${b64.slice(0, -1)}`, 'bad-base64'],
    ['URL-safe base64', `ssh-ed25519 ${b64.replace('+', '-')}`, 'bad-base64'],
    ['key data cut short', `ssh-ed25519 ${b64.slice(0, 64)}`, 'bad-key-data'],
    ['key data with a trailing group', `ssh-ed25519 ${Buffer.concat([Buffer.from(b64, 'base64'), Buffer.from('xyz')]).toString('base64')}`, 'bad-key-data'],
  ];
  for (const [label, line, reason] of failures) {
    it(`fails with ${reason}: ${label}`, () => {
      const r = parsePublicKeyLine(line);
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.reason, reason);
      assert.ok(!r.ok && describePublicKeyLineFailure(r).length > 0);
    });
  }
});

describe('sshFingerprint', () => {
  it('is SHA256: + 43 unpadded base64 chars', () => {
    assert.match(sshFingerprint(Buffer.from('anything')), /^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe('createEd25519KeyObject', () => {
  it('round-trips with a key Node generated', () => {
    const priv = createPrivateKey({ key: Buffer.from('302e020100300506032b657004220420' + '11'.repeat(32), 'hex'), format: 'der', type: 'pkcs8' });
    const x = Buffer.from(priv.export({ format: 'jwk' }).x!, 'base64url');
    const sig = cryptoSign(null, Buffer.from('m'), priv);
    assert.equal(cryptoVerify(null, Buffer.from('m'), createEd25519KeyObject(x), sig), true);
  });
  it('refuses a key that is not 32 bytes', () => assert.throws(() => createEd25519KeyObject(Buffer.alloc(33)), RangeError));
});
