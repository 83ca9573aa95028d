// The test signer must be trustworthy on its own before verifier tests rely on it. These checks use
// only sshpk, Node crypto and ssh-keygen — never src/auth/ssh.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sshpk from 'sshpk';
import { generateEcdsaKeyPair, generateKeyPair, generateRsaKeyPair, loadOllamaSigner, sshKeygenFingerprint, type KeyPairPaths } from './ollama-signer.js';

describe('ollama-signer (test helper)', () => {
  let dir: string;
  let pair: KeyPairPaths;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-signer-'));
    pair = generateKeyPair(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('generateKeyPair writes an OpenSSH private key and a .pub line', () => {
    assert.match(readFileSync(pair.privateKeyPath, 'utf8'), /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    assert.match(readFileSync(pair.publicKeyPath, 'utf8'), /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} test-ed25519\n$/);
    assert.ok(statSync(pair.privateKeyPath).size > 0);
  });

  it('uses field 2 of the .pub line as the token key, as auth.Sign does', () => {
    const signer = loadOllamaSigner(pair.privateKeyPath);
    const pubField = readFileSync(pair.publicKeyPath, 'utf8').split(' ')[1];
    assert.equal(signer.publicKeyB64, pubField);
    assert.equal(signer.publicKeyB64.length, 68);
  });

  it('produces the CLI request shape: path?ts=N and <68 chars>:<88 chars>', () => {
    const signer = loadOllamaSigner(pair.privateKeyPath);
    const req = signer.signRequest({ method: 'POST', path: '/api/chat', nowSec: 1724300000 });
    assert.equal(req.url, '/api/chat?ts=1724300000');
    assert.equal(req.ts, 1724300000);
    const [key, sig, ...rest] = req.authorization.split(':');
    assert.equal(rest.length, 0);
    assert.equal(key, signer.publicKeyB64);
    assert.equal(sig?.length, 88);
    assert.ok(sig?.endsWith('=='));
  });

  it('defaults ts to the current second', () => {
    const signer = loadOllamaSigner(pair.privateKeyPath);
    const before = Math.floor(Date.now() / 1000);
    const req = signer.signRequest({ method: 'GET', path: '/api/tags' });
    const afterSec = Math.floor(Date.now() / 1000);
    assert.ok(req.ts >= before && req.ts <= afterSec);
  });

  it('signs exactly "METHOD,path?ts=N" with the key in the .pub file (checked via sshpk + Node)', () => {
    const signer = loadOllamaSigner(readFileSync(pair.privateKeyPath, 'utf8'));
    const req = signer.signRequest({ method: 'HEAD', path: '/', nowSec: 1700000000 });
    const pub = sshpk.parseKey(readFileSync(pair.publicKeyPath), 'ssh');
    const raw = pub.parts.find((p) => p.name === 'A')!.data;
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
    const sig = Buffer.from(req.authorization.split(':')[1]!, 'base64');
    assert.equal(cryptoVerify(null, Buffer.from('HEAD,/?ts=1700000000'), key, sig), true);
    assert.equal(cryptoVerify(null, Buffer.from('HEAD,/?ts=1700000001'), key, sig), false);
  });

  it('matches sshpk’s own Ed25519 signature byte for byte (Ed25519 is deterministic)', () => {
    const signer = loadOllamaSigner(pair.privateKeyPath);
    const key = sshpk.parsePrivateKey(readFileSync(pair.privateKeyPath), 'ssh');
    const s = key.createSign('sha512');
    s.update(Buffer.from('GET,/api/tags?ts=1'));
    assert.equal(signer.signChallenge('GET,/api/tags?ts=1'), s.sign().toBuffer('raw').toString('base64'));
  });

  it('makes RSA and ECDSA key pairs for negative tests, and signs with them', () => {
    const rsa = loadOllamaSigner(generateRsaKeyPair(dir).privateKeyPath);
    const ecdsa = loadOllamaSigner(generateEcdsaKeyPair(dir).privateKeyPath);
    assert.equal(rsa.keyType, 'rsa');
    assert.equal(ecdsa.keyType, 'ecdsa');
    assert.ok(rsa.publicKeyB64.startsWith('AAAAB3NzaC1yc2E'));
    assert.ok(ecdsa.publicKeyB64.startsWith('AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY'));
    assert.ok(rsa.signRequest({ method: 'GET', path: '/' }).authorization.includes(':'));
    assert.ok(ecdsa.signRequest({ method: 'GET', path: '/' }).authorization.includes(':'));
  });

  it('sshKeygenFingerprint returns the SHA256 field of ssh-keygen -lf', () => {
    const fp = sshKeygenFingerprint(pair.publicKeyPath);
    assert.match(fp, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(sshKeygenFingerprint(pair.privateKeyPath), fp);
  });
});
