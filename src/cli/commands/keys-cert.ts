import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expandHome } from '../../config/paths.js';
import type { Config } from '../../config/schema.js';
import { certFingerprintId, certSubjectId, certValidity, parseSubject, subjectOfCertificate } from '../../auth/client-cert.js';

/**
 * What `gatehouse keys add-cert` stores for a TLS client certificate principal, worked out from the
 * command's options. Pure apart from reading the files named.
 *
 *   --cert-file FILE                  pin that certificate (SHA-256 fingerprint)
 *   --cert-file FILE --match subject  any certificate with FILE's subject, issued by tls.client_ca
 *   --subject "CN=alice, O=Example"   the same, subject typed out
 */

export interface CertRegistration {
  /** The `fingerprint` column: `cert:sha256:…` or `cert:subject:…`. */
  fingerprint: string;
  /** The `public_key` column: a one-line description (subject, issuer, expiry), public information. */
  summary: string;
  match: 'fingerprint' | 'subject';
  /** Things the operator should know (configuration that would keep this from working). */
  notes: string[];
}

export function certRegistration(o: { certFile?: string | undefined; subject?: string | undefined; match?: string | undefined }, tls: Config['tls'], now = Date.now()): CertRegistration | { error: string } {
  const match = o.match ?? (o.subject !== undefined ? 'subject' : 'fingerprint');
  if (match !== 'fingerprint' && match !== 'subject') return { error: `--match takes fingerprint or subject, not "${match}"` };
  if (o.subject !== undefined && o.certFile !== undefined) return { error: 'give --cert-file or --subject, not both' };
  if (match === 'fingerprint' && o.subject !== undefined) return { error: '--subject maps by subject; --match fingerprint needs --cert-file' };

  const notes: string[] = [];
  if (tls.client_auth === 'none') notes.push('this configuration has tls.client_auth: none, so the gateway does not ask for client certificates yet; set it to optional or require (with tls.cert/tls.key)');

  let cert: X509Certificate | null = null;
  if (o.certFile !== undefined) {
    let pem: Buffer;
    try {
      pem = readFileSync(expandHome(o.certFile));
    } catch (err) {
      return { error: `cannot read --cert-file: ${(err as Error).message}` };
    }
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem.toString('latin1'))) {
      return { error: `${o.certFile} contains a PRIVATE KEY: give the certificate only (the private key never leaves the client)` };
    }
    try {
      cert = new X509Certificate(pem);
    } catch (err) {
      return { error: `${o.certFile} is not a PEM or DER certificate (${(err as Error).message})` };
    }
    const { notAfter } = certValidity(cert);
    if (Number.isFinite(notAfter) && notAfter <= now) notes.push(`this certificate expired at ${cert.validTo}: it will be refused until renewed`);
  } else if (o.subject === undefined) {
    return { error: 'add-cert needs --cert-file FILE (pin that certificate), optionally with --match subject, or --subject "CN=…"' };
  }

  if (match === 'fingerprint') {
    const c = cert!;
    return { fingerprint: certFingerprintId(c), summary: summarize(c), match, notes };
  }

  const subject = cert ? subjectOfCertificate(cert) : parseSubject(o.subject!);
  if (!subject) return { error: `--subject "${o.subject}" is not a distinguished name like "CN=alice, O=Example"` };
  if (!tls.client_ca) {
    notes.push('a subject mapping is only used for certificates that verify against tls.client_ca, and none is configured; set tls.client_ca (or pin the certificate with --match fingerprint)');
  } else if (cert) {
    const issued = caCertificates(tls.client_ca).some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
    if (!issued) notes.push(`${o.certFile} was not issued directly by a CA in tls.client_ca (${tls.client_ca}); certificates with this subject must verify against it to be accepted`);
  }
  return { fingerprint: certSubjectId(subject), summary: `x509 subject="${subject}" (any certificate with this subject issued by tls.client_ca)`, match, notes };
}

function summarize(c: X509Certificate): string {
  return `x509 subject="${subjectOfCertificate(c)}" issuer="${c.issuer.split('\n').join(', ')}" not_after="${c.validTo}"`;
}

function caCertificates(file: string): X509Certificate[] {
  try {
    const text = readFileSync(file, 'utf8');
    return (text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
  } catch {
    return [];
  }
}
