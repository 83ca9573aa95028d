import { GatewayError, refuse } from '../../core/errors.js';
import type { AuthAnswer, AuthRequest, AuthResult, Authenticator } from '../../auth/authenticator.js';
import type { Credential } from '../../auth/credentials.js';
import { ADMIN_PREFIX } from '../../admin/routes.js';
import { readCookie, type CookieNames } from './cookies.js';
import type { SessionPrincipals } from './session-principal.js';
import { csrfMatches, type ConsoleSessions } from './sessions.js';

/**
 * The console's session cookie as a credential, for the admin API only (/admin/v1), and only when
 * the request carries no other credential (a header credential always wins: a script's key is
 * never mixed up with a browser's session). A request that changes something (any method but GET
 * and HEAD) must also carry the session's X-CSRF-Token, or it is refused before anything is read.
 */
export class ConsoleSessionAuthenticator implements Authenticator {
  readonly #sessions: ConsoleSessions;
  readonly #principals: SessionPrincipals;
  readonly #cookies: CookieNames;

  constructor(sessions: ConsoleSessions, principals: SessionPrincipals, cookies: CookieNames) {
    this.#sessions = sessions;
    this.#principals = principals;
    this.#cookies = cookies;
  }

  authenticate(credential: Credential, request: AuthRequest): AuthAnswer | null {
    if (credential.kind !== 'none' || !request.path.startsWith(`${ADMIN_PREFIX}/`)) return null;
    const secret = readCookie(request.req.headers.cookie, this.#cookies.session);
    if (secret === undefined) return null;
    return this.#check(secret, request);
  }

  async #check(secret: string, request: AuthRequest): Promise<AuthResult> {
    let found;
    try {
      found = await this.#sessions.find(secret);
    } catch {
      return { ok: false, error: refuse('GW_ERR_STORE_UNAVAILABLE', 'console sessions cannot be read right now (the store is not answering); try again shortly') };
    }
    if (!found) return { ok: false, error: refuse('GW_ERR_CONSOLE_SESSION', 'no console session, or it has ended (signed out, unused too long, or past its time); sign in again at /console/') };
    if (request.method !== 'GET' && request.method !== 'HEAD' && !csrfMatches(request.req.headers['x-csrf-token'], found.csrf)) {
      return { ok: false, error: refuse('GW_ERR_CONSOLE_CSRF', 'a change made with a console session needs its X-CSRF-Token header (the csrf value of GET /console/api/session); nothing was changed') };
    }
    const p = this.#principals.resolve(found.record.principal, found.record.expiresAt);
    return p instanceof GatewayError ? { ok: false, error: p } : { ok: true, principal: p };
  }
}
