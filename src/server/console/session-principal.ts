import { refuse, type GatewayError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import type { KeyCache } from '../../auth/key-cache.js';
import type { PolicyCache } from '../../auth/policy-cache.js';
import { IssuerPolicies } from '../../auth/policy-mapping.js';
import type { ResolvedPrincipal } from '../../auth/principal.js';
import { identityPrincipal } from '../../auth/oidc/identity.js';
import { API_KEY_STANDING, checkStanding } from '../../auth/standing.js';
import type { SessionPrincipal } from '../../store/types.js';

/**
 * Who a console session acts for, worked out again on every request from what is current: a key's
 * session follows the key (revoked or expired: the session is refused; new scopes apply at once);
 * an identity's follows its policy, and only while a rule of its issuer under auth.oidc still gives
 * that policy (as personal keys do: auth/personal-keys.ts). Its groups are those of sign-in.
 */
export class SessionPrincipals {
  readonly #keys: KeyCache;
  readonly #clock: Clock;
  readonly #given: IssuerPolicies;

  constructor(keys: KeyCache, policies: PolicyCache, clock: Clock, issuers: readonly { issuer: string; rules: readonly { policy: string }[] }[]) {
    this.#keys = keys;
    this.#clock = clock;
    this.#given = new IssuerPolicies(issuers, policies);
  }

  resolve(p: SessionPrincipal, sessionEnd: number): ResolvedPrincipal | GatewayError {
    if (p.kind === 'key') {
      const key = this.#keys.byId(p.keyId);
      if (!key) return ended('the key it was opened with no longer exists');
      const r = checkStanding(key, this.#clock, API_KEY_STANDING);
      return r.ok ? r.principal : ended(r.error.message);
    }
    if (p.kind !== 'oidc') return ended('it was never completed');
    const g = this.#given.given(p.issuer, p.policyId);
    if (!('policy' in g)) return ended(`no rule of ${p.issuer} under auth.oidc gives its policy any more`);
    // As a token's principal is built, with the name shown at sign-in and the policy as it is now.
    return identityPrincipal(p.issuer, p.subject, p.name, g.policy, sessionEnd);
  }
}

function ended(why: string): GatewayError {
  return refuse('GW_ERR_CONSOLE_SESSION', `your console session has ended: ${why}; sign in again`);
}
