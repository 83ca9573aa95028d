import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Test certificates, made at test time with the openssl CLI into a temp dir: server certificates
 * for localhost/127.0.0.1, a client CA, and client certificates signed by it or self-signed.
 * EC P-256 keys (fast to make); valid from now for 2 days unless told otherwise.
 */

export interface Pair {
  cert: string;
  key: string;
  /** `AB:CD:…` as Node's fingerprint256 gives it. */
  fingerprint256: string;
  pem: Buffer;
  keyPem: Buffer;
}

export function haveOpenssl(): boolean {
  return spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function pair(dir: string, name: string): Pair {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  const pem = readFileSync(cert);
  return { cert, key, pem, keyPem: readFileSync(key), fingerprint256: new X509Certificate(pem).fingerprint256 };
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Self-signed server certificate for localhost and 127.0.0.1. */
export function serverCert(dir: string, name: string): Pair {
  writeFileSync(join(dir, 'server.cnf'), '[req]\ndistinguished_name=dn\nprompt=no\n[dn]\n[ext]\nbasicConstraints=critical,CA:TRUE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nkeyUsage=critical,digitalSignature,keyCertSign\nextendedKeyUsage=serverAuth\n');
  openssl(['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=localhost/O=${name}`, '-config', 'server.cnf', '-extensions', 'ext'], dir);
  return pair(dir, name);
}

/** A CA for client certificates. */
export function clientCa(dir: string, name = 'client-ca'): Pair {
  writeFileSync(join(dir, 'ca.cnf'), '[req]\ndistinguished_name=dn\nprompt=no\n[dn]\n[ext]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
  openssl(['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', '/CN=Gatehouse Test Client CA', '-config', 'ca.cnf', '-extensions', 'ext'], dir);
  return pair(dir, name);
}

/** A client certificate with `subject` (OpenSSL form, e.g. "/O=Example/CN=alice"), signed by `ca` or self-signed. */
export function clientCert(dir: string, name: string, subject: string, ca: Pair | null): Pair {
  writeFileSync(join(dir, 'client.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  if (ca) {
    openssl(['req', '-new', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`, '-out', `${name}.pem`, '-days', '2', '-extfile', 'client.ext'], dir);
  } else {
    writeFileSync(join(dir, 'self.cnf'), '[req]\ndistinguished_name=dn\nprompt=no\n[dn]\n[ext]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
    openssl(['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', subject, '-config', 'self.cnf', '-extensions', 'ext'], dir);
  }
  return pair(dir, name);
}
