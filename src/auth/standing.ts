import type { Clock } from '../core/clock.js';
import { refuse, type ErrorCode } from '../core/errors.js';
import type { AuthResult } from './authenticator.js';
import type { ResolvedPrincipal } from './principal.js';

/**
 * The one standing check every authenticator ends with: a principal that was revoked, or whose
 * expiry has passed, is refused however it authenticated. Only the wording differs, per kind of
 * credential (the person holding a revoked key needs to know to ask for a new one).
 */

export interface StandingWords {
  readonly revokedCode: ErrorCode;
  readonly expiredCode: ErrorCode;
  revoked(p: ResolvedPrincipal): string;
  expired(p: ResolvedPrincipal, when: string): string;
}

const extend = (p: ResolvedPrincipal): string => `\`gatehouse keys update ${p.id} --expires 30d\``;

export const API_KEY_STANDING: StandingWords = {
  revokedCode: 'GW_ERR_AUTH_REVOKED',
  expiredCode: 'GW_ERR_AUTH_EXPIRED',
  revoked: (p) => `this API key ("${p.name}") was revoked; ask the gateway operator for a new one`,
  expired: (p, when) => `this API key ("${p.name}") expired at ${when}; ask the gateway operator to extend it (${extend(p)})`,
};

export const SSH_KEY_STANDING: StandingWords = {
  revokedCode: 'GW_ERR_AUTH_SSH_REVOKED',
  expiredCode: 'GW_ERR_AUTH_SSH_EXPIRED',
  revoked: (p) => `this SSH key ("${p.name}") was revoked; ask the gateway operator for a new one`,
  expired: (p, when) => `this SSH key ("${p.name}") expired at ${when}; ask the gateway operator to extend it (${extend(p)})`,
};

export const CLIENT_CERT_STANDING: StandingWords = {
  revokedCode: 'GW_ERR_AUTH_REVOKED',
  expiredCode: 'GW_ERR_AUTH_EXPIRED',
  revoked: (p) => `the client certificate principal "${p.name}" was revoked; ask the gateway operator for access`,
  expired: (p, when) => `the client certificate principal "${p.name}" expired at ${when}; ask the operator to extend it (${extend(p)})`,
};

/** Revocation and expiry, shared by every authenticator. */
export function checkStanding(principal: ResolvedPrincipal, clock: Clock, words: StandingWords): AuthResult {
  if (principal.revokedAt !== null) return { ok: false, error: refuse(words.revokedCode, words.revoked(principal)) };
  if (principal.expiresAt !== null && clock.now() >= principal.expiresAt) {
    return { ok: false, error: refuse(words.expiredCode, words.expired(principal, new Date(principal.expiresAt).toISOString())) };
  }
  return { ok: true, principal };
}
