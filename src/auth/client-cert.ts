import type { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Clock } from '../core/clock.js';
import { refuse } from '../core/errors.js';
import type { AuthRequest, AuthResult, Authenticator } from './authenticator.js';
import type { Credential } from './credentials.js';
import type { KeyCache } from './key-cache.js';
import type { ResolvedPrincipal } from './principal.js';
import { checkStanding, CLIENT_CERT_STANDING } from './standing.js';

/**
 * TLS client certificates (mTLS) as a way to authenticate, used only when a request carries no
 * other credential. A certificate maps to a principal of kind `client_cert` in one of two ways,
 * both stored in the key record's `fingerprint` column (unique, and indexed by the key cache):
 *
 *   cert:sha256:AB:CD:…        the certificate itself, pinned by its SHA-256 fingerprint. The TLS
 *                              handshake proves the client holds the private key, so a pinned
 *                              certificate needs no CA (self-signed is fine); its validity dates
 *                              are still enforced.
 *   cert:subject:CN=…, O=…     any certificate with exactly this subject that verified against
 *                              tls.client_ca. Without a CA anyone could mint such a certificate, so
 *                              a subject mapping is only consulted when the chain verified; the
 *                              server is given tls.client_ca as its only trust anchor (never the
 *                              public roots), so "verified" means "issued by your CA".
 *
 * Cost: nothing for plain-HTTP requests (one property read); one certificate parse per
 * credential-less request over TLS.
 */

export const CERT_FINGERPRINT_PREFIX = 'cert:sha256:';
export const CERT_SUBJECT_PREFIX = 'cert:subject:';

/** The stored form of a pinned certificate: `cert:sha256:` + the colon-separated upper-case hex SHA-256. */
export function certFingerprintId(cert: X509Certificate): string {
  return CERT_FINGERPRINT_PREFIX + cert.fingerprint256.toUpperCase();
}

/** The stored form of a subject mapping. */
export function certSubjectId(canonical: string): string {
  return CERT_SUBJECT_PREFIX + canonical;
}

/** A certificate's subject in the one form Gatehouse compares: `CN=alice, O=Example` in certificate order. */
export function subjectOfCertificate(cert: X509Certificate): string {
  return canonicalSubject(cert.subject.split('\n'));
}

/**
 * Normalises a subject typed by a person: `CN=alice, O=Example`, `CN=alice,O=Example` or the
 * OpenSSL style `/CN=alice/O=Example` all become `CN=alice, O=Example`. Order is kept (and
 * significant). Returns null when it is not a list of ATTR=value parts.
 */
export function parseSubject(text: string): string | null {
  const t = text.trim();
  if (t === '') return null;
  const parts = t.startsWith('/') ? t.slice(1).split('/') : t.split(/(?<!\\),/);
  const out = parts.map((p) => p.trim()).filter((p) => p !== '');
  if (out.length === 0 || out.some((p) => !/^[A-Za-z][A-Za-z0-9.]*\s*=\s*\S/.test(p))) return null;
  return canonicalSubject(out);
}

function canonicalSubject(parts: string[]): string {
  return parts
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      return `${p.slice(0, eq).trim().toUpperCase()}=${p.slice(eq + 1).trim()}`;
    })
    .join(', ');
}

/** validFrom/validTo as epoch ms (Node 20 gives OpenSSL's text form, e.g. "Nov 27 04:15:00 2026 GMT"). */
export function certValidity(cert: X509Certificate): { notBefore: number; notAfter: number } {
  return { notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) };
}

const ADD_CERT = 'the operator can register it with: gatehouse keys add-cert --name NAME --cert-file <your certificate>';

/**
 * Authenticates the TLS peer certificate of the request's connection. Returns null when there is
 * nothing to look at (plain HTTP, or no certificate sent): the caller then answers "credential
 * missing" as before.
 */
export function authenticateClientCert(socket: Socket, keys: KeyCache, clock: Clock): AuthResult | null {
  if ((socket as TLSSocket).encrypted !== true) return null;
  const tls = socket as TLSSocket;
  const cert = tls.getPeerX509Certificate();
  if (!cert) return null;
  const fingerprint = certFingerprintId(cert);
  let principal = byKind(keys.byFingerprint(fingerprint));
  const pinned = principal !== undefined;
  if (!principal && tls.authorized) principal = byKind(keys.byFingerprint(certSubjectId(subjectOfCertificate(cert))));
  if (!principal) {
    const why = tls.authorized ? '' : ' (it did not verify against a client CA configured on this gateway, so only a pin by fingerprint could match it)';
    return { ok: false, error: refuse('GW_ERR_AUTH_INVALID', `your TLS client certificate ${fingerprint.slice(CERT_FINGERPRINT_PREFIX.length)} is not registered${why}; ${ADD_CERT}, or send an API key`) };
  }
  const now = clock.now();
  if (pinned) {
    // A verified chain already had its dates checked by OpenSSL; a pinned one may be self-signed.
    const { notBefore, notAfter } = certValidity(cert);
    if (!(now >= notBefore && now < notAfter)) {
      const when = now < notBefore ? `is not valid before ${cert.validFrom}` : `expired at ${cert.validTo}`;
      return { ok: false, error: refuse('GW_ERR_AUTH_EXPIRED', `your TLS client certificate ("${principal.name}") ${when}; ask the operator to register a renewed one`) };
    }
  }
  return checkStanding(principal, clock, CLIENT_CERT_STANDING);
}

/**
 * TLS client certificates as one authenticator, composed only when the listener asks for them
 * (tls.client_auth optional or require). Looked at only when the request carries no header
 * credential: a header credential always takes precedence over the connection's certificate.
 */
export class ClientCertAuthenticator implements Authenticator {
  readonly #keys: KeyCache;
  readonly #clock: Clock;

  constructor(keys: KeyCache, clock: Clock) {
    this.#keys = keys;
    this.#clock = clock;
  }

  authenticate(credential: Credential, request: AuthRequest): AuthResult | null {
    return credential.kind === 'none' ? authenticateClientCert(request.req.socket, this.#keys, this.#clock) : null;
  }
}

function byKind(p: ResolvedPrincipal | undefined): ResolvedPrincipal | undefined {
  return p && p.kind === 'client_cert' ? p : undefined;
}
