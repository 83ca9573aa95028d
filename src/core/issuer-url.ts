/** Which URLs may name an OpenID provider or its keys (config/oidc.ts, auth/oidc/issuer-keys.ts). Pure. */

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Why an issuer URL is not acceptable, or null when it is. https only: the discovery document and
 * the keys it points at decide who may sign in, so fetching them over plain http would let anyone
 * on the path choose the keys. Loopback http is allowed for a provider on the same machine (and
 * tests). No query, fragment or credentials: the issuer is compared to a token's `iss` exactly.
 */
export function issuerProblem(s: string): string | null {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return 'is not a URL; write the issuer exactly as the provider publishes it, e.g. https://login.example.com/realms/acme';
  }
  if (u.username || u.password || u.search || u.hash) return 'must have no credentials, query or fragment';
  if (u.protocol === 'https:') return null;
  if (u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname)) return null;
  if (u.protocol === 'http:') return `must be https (http is allowed only on loopback: http://127.0.0.1:PORT, http://localhost:PORT, http://[::1]:PORT), got ${u.host}`;
  return 'must be an https URL';
}
