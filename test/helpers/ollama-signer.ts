// A test-only stand-in for the `ollama` CLI's request signer (Go `auth.Sign` + `api/client.go`),
// written independently of src/auth/ssh so that verifier tests do not check the code against itself:
// keys come from real `ssh-keygen` files, are parsed with sshpk, and signatures are made with Node's
// crypto (Ed25519) or sshpk (other key types, for negative tests).

import { execFileSync } from 'node:child_process';
import { createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sshpk from 'sshpk';

const SSH_KEYGEN = '/usr/bin/ssh-keygen';

export type TestKeyType = 'ed25519' | 'rsa' | 'ecdsa';

export interface KeyPairPaths {
  privateKeyPath: string;
  publicKeyPath: string;
}

export interface SignedRequest {
  /** What the CLI requests: the API path plus `?ts=<seconds>`. */
  url: string;
  /** The `Authorization` header value: `<pubkey b64>:<signature b64>`, no scheme. */
  authorization: string;
  ts: number;
}

export interface SignRequestOptions {
  method: string;
  path: string;
  /** Unix seconds; defaults to the current time, as the CLI does. */
  nowSec?: number;
}

export interface OllamaSigner {
  /** sshpk's key type name: 'ed25519', 'rsa', 'ecdsa'. */
  keyType: string;
  /** Field 2 of the `.pub` line: base64 of the SSH wire-format public key. */
  publicKeyB64: string;
  /** base64 signature over the exact challenge bytes. */
  signChallenge(challenge: string): string;
  signRequest(options: SignRequestOptions): SignedRequest;
}

/**
 * Loads an unencrypted OpenSSH private key (as `ssh-keygen -N ""` writes it) from a path or PEM text.
 * sshpk's own PKCS#8 output for Ed25519 is rejected by OpenSSL 3 ("wrong tag"), so the Node key is
 * built from the seed (`k`) and public point (`A`) as a JWK instead.
 */
export function loadOllamaSigner(source: string | Buffer): OllamaSigner {
  const pem = typeof source === 'string' && !source.includes('-----BEGIN') ? readFileSync(source) : source;
  const key = sshpk.parsePrivateKey(pem, 'ssh');
  const publicKeyB64 = key.toPublic().toBuffer('rfc4253').toString('base64');
  const signChallenge = key.type === 'ed25519' ? ed25519Signer(key) : sshpkSigner(key);
  return {
    keyType: key.type,
    publicKeyB64,
    signChallenge,
    signRequest({ method, path, nowSec }: SignRequestOptions): SignedRequest {
      // Mirrors Go: strconv.FormatInt(time.Now().Unix(), 10) and fmt.Sprintf("%s,%s?ts=%s", ...).
      const ts = nowSec ?? Math.floor(Date.now() / 1000);
      const challenge = method + ',' + path + '?ts=' + String(ts);
      return { url: path + '?ts=' + String(ts), authorization: publicKeyB64 + ':' + signChallenge(challenge), ts };
    },
  };
}

function keyPart(key: sshpk.PrivateKey, name: sshpk.AlgorithmPart): Buffer {
  const part = key.parts.find((p) => p.name === name);
  if (part === undefined) throw new Error(`private key has no '${name}' part`);
  return part.data;
}

/** Node KeyObject for an sshpk Ed25519 private key (seed `k`, public point `A`). */
export function ed25519PrivateKeyObject(key: sshpk.PrivateKey): KeyObject {
  return createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: keyPart(key, 'k').toString('base64url'), x: keyPart(key, 'A').toString('base64url') },
    format: 'jwk',
  });
}

function ed25519Signer(key: sshpk.PrivateKey): (challenge: string) => string {
  const privateKey = ed25519PrivateKeyObject(key);
  // Pure Ed25519 over the challenge bytes, raw 64-byte signature, standard padded base64.
  return (challenge) => cryptoSign(null, Buffer.from(challenge, 'utf8'), privateKey).toString('base64');
}

/** For RSA/ECDSA keys: a plausible signature, only so negative tests can send a complete token. */
function sshpkSigner(key: sshpk.PrivateKey): (challenge: string) => string {
  return (challenge) => {
    const signer = key.createSign('sha256');
    signer.update(Buffer.from(challenge, 'utf8'));
    return signer.sign().toBuffer('ssh').toString('base64');
  };
}

/**
 * Runs `ssh-keygen -t <type> -N "" -f <dir>/<fileName> -q` and returns the two paths.
 * `dir` must exist and `fileName` must not (ssh-keygen would prompt to overwrite).
 */
export function generateKeyPair(dir: string, type: TestKeyType = 'ed25519', fileName = `id_${type}`, comment = `test-${type}`): KeyPairPaths {
  const privateKeyPath = join(dir, fileName);
  const bits = type === 'rsa' ? ['-b', '2048'] : type === 'ecdsa' ? ['-b', '256'] : [];
  execFileSync(SSH_KEYGEN, ['-t', type, ...bits, '-N', '', '-C', comment, '-f', privateKeyPath, '-q'], { stdio: 'ignore' });
  return { privateKeyPath, publicKeyPath: `${privateKeyPath}.pub` };
}

export function generateRsaKeyPair(dir: string, fileName = 'id_rsa'): KeyPairPaths {
  return generateKeyPair(dir, 'rsa', fileName);
}

export function generateEcdsaKeyPair(dir: string, fileName = 'id_ecdsa'): KeyPairPaths {
  return generateKeyPair(dir, 'ecdsa', fileName);
}

/** The fingerprint `ssh-keygen -lf <file>` prints (second field), e.g. `SHA256:abc...`. */
export function sshKeygenFingerprint(keyFile: string): string {
  const out = execFileSync(SSH_KEYGEN, ['-lf', keyFile], { encoding: 'utf8' });
  const field = out.trim().split(/\s+/)[1];
  if (field === undefined) throw new Error(`unexpected ssh-keygen -lf output: ${out}`);
  return field;
}
