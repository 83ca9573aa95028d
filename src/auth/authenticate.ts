import { refuse, type GatewayError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import { hashApiKey, hasKeyShape, isWellFormedApiKey, KEY_PREFIX } from './api-key.js';
import type { AuthRequest, AuthResult, Authenticator } from './authenticator.js';
import type { Credential } from './credentials.js';
import type { KeyCache } from './key-cache.js';
import type { PersonalKeyGate } from './personal-keys.js';
import { API_KEY_STANDING, checkStanding } from './standing.js';

/**
 * API-key authentication: one step for every non-public route, no fallback principal
 * (docs/threat-model.md B5). Unknown, revoked and expired keys are all refused with 401; the message says
 * which, because the person holding a revoked key needs to know to ask for a new one.
 */

export type { AuthResult } from './authenticator.js';

export const HOW_TO_GET_A_KEY = 'ask the gateway operator for a key (`gatehouse keys create --name NAME`) and send it as "Authorization: Bearer <key>"';

/** Claims every API-key credential (Bearer without `:`, x-api-key, Basic password). */
export class ApiKeyAuthenticator implements Authenticator {
  readonly #keys: KeyCache;
  readonly #clock: Clock;
  readonly #personal: PersonalKeyGate | null;

  /** `personal`: with auth.oidc, personal keys are checked against the rules (auth/personal-keys.ts). */
  constructor(keys: KeyCache, clock: Clock, personal: PersonalKeyGate | null = null) {
    this.#keys = keys;
    this.#clock = clock;
    this.#personal = personal;
  }

  authenticate(credential: Credential, _request: AuthRequest): AuthResult | null {
    if (credential.kind !== 'api_key') return null;
    const r = authenticateApiKey(credential.key, this.#keys, this.#clock);
    if (r.ok && r.principal.owner) {
      // Without auth.oidc no identity can be mapped: a personal key left from before is disabled.
      const refused = this.#personal ? this.#personal.check(r.principal) : personalWithoutOidc(r.principal.name);
      if (refused) return { ok: false, error: refused };
    }
    return r;
  }
}

export function authenticateApiKey(key: string, cache: KeyCache, clock: Clock): AuthResult {
  // Only inputs of a key's length and prefix are hashed (bounded work whatever a client sends).
  // The full shape and checksum check runs only when the hash is unknown, to say why: every
  // stored hash is of a key Gatehouse generated, so a hit is a well-formed key, and checking the
  // checksum first cost ~4k instructions on every authenticated request (about 2%).
  const hash = hasKeyShape(key) ? hashApiKey(key) : null;
  const principal = hash === null ? undefined : cache.byHash(hash);
  if (!principal) {
    // A rotated key's previous secret: still good during the overlap, then refused as rotated.
    const old = hash === null ? undefined : cache.byPreviousHash(hash);
    if (old) return clock.now() < old.until ? checkStanding(old.principal, clock, API_KEY_STANDING) : rotatedKey(old.principal.name, old.until);
    const hint = isWellFormedApiKey(key) ? '' : key.startsWith(KEY_PREFIX) ? ' (it looks like a Gatehouse key but is mistyped or truncated)' : ` (Gatehouse keys start with "${KEY_PREFIX}")`;
    return { ok: false, error: refuse('GW_ERR_AUTH_INVALID', `invalid API key${hint}; ${HOW_TO_GET_A_KEY}`) };
  }
  return checkStanding(principal, clock, API_KEY_STANDING);
}

function rotatedKey(name: string, until: number): AuthResult {
  return { ok: false, error: refuse('GW_ERR_AUTH_ROTATED', `this API key ("${name}") was rotated and its previous secret stopped working at ${new Date(until).toISOString()}; use the new secret issued by the rotation, or ask the gateway operator for it (gatehouse keys rotate NAME)`) };
}

function personalWithoutOidc(name: string): GatewayError {
  return refuse('GW_ERR_AUTH_PERSONAL_KEY_DISABLED', `this personal key ("${name}") is disabled: no identity provider is configured on this gateway (auth.oidc); ask the operator`);
}

export function missingCredential(): GatewayError {
  return refuse('GW_ERR_AUTH_MISSING', `this gateway requires an API key; ${HOW_TO_GET_A_KEY}`);
}

export function malformedCredential(c: Extract<Credential, { kind: 'malformed' }>): GatewayError {
  return refuse('GW_ERR_AUTH_MALFORMED', `${c.reason}; ${HOW_TO_GET_A_KEY}`);
}

/** A credential no authenticator on this gateway claims. */
export function unclaimedCredential(): GatewayError {
  return refuse('GW_ERR_AUTH_INVALID', `this gateway does not accept that kind of credential; ${HOW_TO_GET_A_KEY}`);
}
