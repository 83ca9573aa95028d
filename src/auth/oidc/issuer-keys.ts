import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { issuerProblem } from '../../core/issuer-url.js';

/**
 * One issuer's signing keys. Discovery (`<issuer>/.well-known/openid-configuration`) is read once
 * and names the key set (`jwks_uri`); its `issuer` must equal the configured one exactly (OpenID
 * Connect Discovery §4.3), so a document served for someone else is refused. The key set is jose's
 * remote JWKS: cached, fetched again when a token names a key id it lacks (key rollover, no
 * restart) but at most once per `minRefreshMs`, so made-up key ids cannot make Gatehouse hammer
 * the provider. Keys come only from here: a token's own `jku`, `x5u` or `jwk` header is never used.
 */

const DISCOVERY_TIMEOUT_MS = 5000;
/** A failed discovery is tried again on a later token, not sooner than this. */
const RETRY_AFTER_FAILURE_MS = 5000;
const MAX_DISCOVERY_BYTES = 512 * 1024;

export class ProviderUnavailable extends Error {}

export class IssuerKeys {
  readonly issuer: string;
  readonly #minRefreshMs: number;
  #keys: JWTVerifyGetKey | null = null;
  #pending: Promise<JWTVerifyGetKey> | null = null;
  #failedAt = 0;
  #lastFailure = '';

  constructor(issuer: string, minRefreshMs: number) {
    this.issuer = issuer;
    this.#minRefreshMs = minRefreshMs;
  }

  /** The key set, discovering it first if need be. Rejects with ProviderUnavailable. */
  keys(): Promise<JWTVerifyGetKey> {
    if (this.#keys) return Promise.resolve(this.#keys);
    if (Date.now() - this.#failedAt < RETRY_AFTER_FAILURE_MS) return Promise.reject(new ProviderUnavailable(this.#lastFailure));
    this.#pending ??= this.#discover().then(
      (k) => {
        this.#keys = k;
        this.#pending = null;
        return k;
      },
      (err: unknown) => {
        this.#pending = null;
        this.#failedAt = Date.now();
        this.#lastFailure = (err as Error).message;
        throw new ProviderUnavailable(this.#lastFailure);
      },
    );
    return this.#pending;
  }

  async #discover(): Promise<JWTVerifyGetKey> {
    const url = `${this.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let doc: unknown;
    try {
      // No redirects: the document must come from the issuer itself (docs/threat-model.md C2).
      const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS), headers: { accept: 'application/json' } });
      if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
      const text = await res.text();
      if (text.length > MAX_DISCOVERY_BYTES) throw new Error(`${url} is larger than ${MAX_DISCOVERY_BYTES} bytes`);
      doc = JSON.parse(text);
    } catch (err) {
      throw new Error(`discovery at ${url} failed: ${(err as Error).message}`);
    }
    const d = (typeof doc === 'object' && doc !== null ? doc : {}) as { issuer?: unknown; jwks_uri?: unknown };
    if (d.issuer !== this.issuer) throw new Error(`discovery at ${url} names issuer ${JSON.stringify(d.issuer)}, not ${this.issuer}`);
    if (typeof d.jwks_uri !== 'string' || issuerProblem(d.jwks_uri)) throw new Error(`discovery at ${url} has no usable jwks_uri (it must be https, or http on loopback)`);
    return createRemoteJWKSet(new URL(d.jwks_uri), { cooldownDuration: this.#minRefreshMs, timeoutDuration: DISCOVERY_TIMEOUT_MS, cacheMaxAge: 10 * 60_000 });
  }
}
