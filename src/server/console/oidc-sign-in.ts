import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { issuerProblem } from '../../core/issuer-url.js';

/**
 * The console's sign-in through an OpenID provider: the authorization code flow with PKCE (S256),
 * the code exchanged on the back channel. The identity is the access token's, checked by the same
 * authenticator as an API call's JWT (auth/oidc/: issuer, audience, algorithms, expiry, groups →
 * policy), so the console grants exactly what that token would get through the API.
 */

export interface ConsoleOidcConfig {
  issuer: string;
  client_id: string;
  client_secret_file?: string | undefined;
  resource?: string | undefined;
  scopes: readonly string[];
}

interface Endpoints {
  authorization: string;
  token: string;
}

const DISCOVERY_TTL_MS = 3_600_000;
const FETCH_TIMEOUT_MS = 10_000;

export class OidcSignIn {
  readonly cfg: ConsoleOidcConfig;
  readonly #secret: string | null;
  #endpoints: { at: number; value: Endpoints } | null = null;

  constructor(cfg: ConsoleOidcConfig) {
    this.cfg = cfg;
    // Read once at start: a missing file is a start-up error, not a failed sign-in later.
    this.#secret = cfg.client_secret_file ? readFileSync(cfg.client_secret_file, 'utf8').trim() : null;
  }

  /** The provider's host, for the sign-in button. */
  get label(): string {
    return new URL(this.cfg.issuer).host;
  }

  /** Where to send the browser, and the PKCE verifier to keep until the callback. */
  async start(redirectUri: string, state: string, codeVerifier: string): Promise<string> {
    const e = await this.#discover();
    const u = new URL(e.authorization);
    const q = u.searchParams;
    q.set('response_type', 'code');
    q.set('client_id', this.cfg.client_id);
    q.set('redirect_uri', redirectUri);
    q.set('scope', ['openid', ...this.cfg.scopes.filter((s) => s !== 'openid')].join(' '));
    q.set('state', state);
    q.set('code_challenge', createHash('sha256').update(codeVerifier).digest('base64url'));
    q.set('code_challenge_method', 'S256');
    if (this.cfg.resource) q.set('resource', this.cfg.resource);
    return u.toString();
  }

  /** The access token for this code, or why there is none. */
  async exchange(code: string, redirectUri: string, codeVerifier: string): Promise<{ accessToken: string } | { error: string }> {
    const e = await this.#discover();
    const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: codeVerifier });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (this.#secret !== null) {
      // client_secret_basic: each part form-encoded first (RFC 6749 §2.3.1).
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(this.cfg.client_id)}:${encodeURIComponent(this.#secret)}`).toString('base64')}`;
    } else body.set('client_id', this.cfg.client_id);
    if (this.cfg.resource) body.set('resource', this.cfg.resource);
    const r = await fetch(e.token, { method: 'POST', headers, body, redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    const j = (await r.json().catch(() => ({}))) as { access_token?: unknown; error?: unknown; error_description?: unknown };
    if (!r.ok || typeof j.access_token !== 'string') {
      const why = typeof j.error === 'string' ? `${j.error}${typeof j.error_description === 'string' ? `: ${j.error_description}` : ''}` : `HTTP ${r.status}`;
      return { error: `the provider did not give a token (${why.slice(0, 300)})` };
    }
    return { accessToken: j.access_token };
  }

  async #discover(): Promise<Endpoints> {
    const now = Date.now();
    if (this.#endpoints && now - this.#endpoints.at < DISCOVERY_TTL_MS) return this.#endpoints.value;
    const url = `${this.cfg.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const r = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!r.ok) throw new Error(`discovery at ${url} answered HTTP ${r.status}`);
    const d = (await r.json()) as { issuer?: unknown; authorization_endpoint?: unknown; token_endpoint?: unknown };
    if (d.issuer !== this.cfg.issuer) throw new Error(`discovery at ${url} names issuer ${JSON.stringify(d.issuer)}, not ${this.cfg.issuer}`);
    const endpoint = (v: unknown, what: string): string => {
      const why = typeof v === 'string' ? issuerProblem(v.split('?')[0]!) : 'is missing';
      if (why) throw new Error(`discovery at ${url}: ${what} ${why}`);
      return v as string;
    };
    const value = { authorization: endpoint(d.authorization_endpoint, 'authorization_endpoint'), token: endpoint(d.token_endpoint, 'token_endpoint') };
    this.#endpoints = { at: now, value };
    return value;
  }
}

/** A PKCE code verifier: 256 random bits, base64url (43 characters, within RFC 7636's 43–128). */
export function newCodeVerifier(): string {
  return randomBytes(32).toString('base64url');
}
