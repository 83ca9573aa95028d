import { refuse, type GatewayError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import { hashApiKey, hasKeyShape, isWellFormedApiKey, KEY_PREFIX } from './api-key.js';
import type { Credential } from './credentials.js';
import type { KeyCache } from './key-cache.js';
import type { ResolvedPrincipal } from './principal.js';

/**
 * API-key authentication: one step for every non-public route, no fallback principal
 * (docs/threat-model.md B5). Unknown, revoked and expired keys are all refused with 401; the message says
 * which, because the person holding a revoked key needs to know to ask for a new one.
 */

export const HOW_TO_GET_A_KEY = 'ask the gateway operator for a key (`gatehouse keys create --name NAME`) and send it as "Authorization: Bearer <key>"';

export type AuthResult = { ok: true; principal: ResolvedPrincipal } | { ok: false; error: GatewayError };

export function authenticateApiKey(key: string, cache: KeyCache, clock: Clock): AuthResult {
  // Only inputs of a key's length and prefix are hashed (bounded work whatever a client sends).
  // The full shape and checksum check runs only when the hash is unknown, to say why: every
  // stored hash is of a key Gatehouse generated, so a hit is a well-formed key, and checking the
  // checksum first cost ~4k instructions on every authenticated request (about 2%).
  const principal = hasKeyShape(key) ? cache.byHash(hashApiKey(key)) : undefined;
  if (!principal) {
    const hint = isWellFormedApiKey(key) ? '' : key.startsWith(KEY_PREFIX) ? ' (it looks like a Gatehouse key but is mistyped or truncated)' : ` (Gatehouse keys start with "${KEY_PREFIX}")`;
    return { ok: false, error: refuse('GW_ERR_AUTH_INVALID', `invalid API key${hint}; ${HOW_TO_GET_A_KEY}`) };
  }
  return checkStanding(principal, clock, false);
}

/** Revocation and expiry, shared by API keys and SSH keys. */
export function checkStanding(principal: ResolvedPrincipal, clock: Clock, ssh: boolean): AuthResult {
  if (principal.revokedAt !== null) {
    return { ok: false, error: refuse(ssh ? 'GW_ERR_AUTH_SSH_REVOKED' : 'GW_ERR_AUTH_REVOKED', `this ${ssh ? 'SSH key' : 'API key'} ("${principal.name}") was revoked; ask the gateway operator for a new one`) };
  }
  if (principal.expiresAt !== null && clock.now() >= principal.expiresAt) {
    const when = new Date(principal.expiresAt).toISOString();
    return { ok: false, error: refuse(ssh ? 'GW_ERR_AUTH_SSH_EXPIRED' : 'GW_ERR_AUTH_EXPIRED', `this ${ssh ? 'SSH key' : 'API key'} ("${principal.name}") expired at ${when}; ask the gateway operator to extend it (\`gatehouse keys update ${principal.id} --expires 30d\`)`) };
  }
  return { ok: true, principal };
}

export function missingCredential(): GatewayError {
  return refuse('GW_ERR_AUTH_MISSING', `this gateway requires an API key; ${HOW_TO_GET_A_KEY}`);
}

export function malformedCredential(c: Extract<Credential, { kind: 'malformed' }>): GatewayError {
  return refuse('GW_ERR_AUTH_MALFORMED', `${c.reason}; ${HOW_TO_GET_A_KEY}`);
}
