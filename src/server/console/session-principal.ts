import { refuse, type GatewayError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import type { KeyCache } from '../../auth/key-cache.js';
import type { PolicyCache } from '../../auth/policy-cache.js';
import type { ResolvedPrincipal } from '../../auth/principal.js';
import { principalId } from '../../auth/oidc/identity.js';
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
  readonly #policies: PolicyCache;
  readonly #clock: Clock;
  /** issuer → the policy names its rules give. */
  readonly #mapped: ReadonlyMap<string, ReadonlySet<string>>;

  constructor(keys: KeyCache, policies: PolicyCache, clock: Clock, issuers: readonly { issuer: string; rules: readonly { policy: string }[] }[]) {
    this.#keys = keys;
    this.#policies = policies;
    this.#clock = clock;
    this.#mapped = new Map(issuers.map((i) => [i.issuer, new Set(i.rules.map((r) => r.policy))]));
  }

  resolve(p: SessionPrincipal, sessionEnd: number): ResolvedPrincipal | GatewayError {
    if (p.kind === 'key') {
      const key = this.#keys.byId(p.keyId);
      if (!key) return ended('the key it was opened with no longer exists');
      const r = checkStanding(key, this.#clock, API_KEY_STANDING);
      return r.ok ? r.principal : ended(r.error.message);
    }
    if (p.kind !== 'oidc') return ended('it was never completed');
    const policy = this.#policies.byId(p.policyId);
    if (!policy || !this.#mapped.get(p.issuer)?.has(policy.name)) return ended(`no rule of ${p.issuer} under auth.oidc gives its policy any more`);
    // As auth/oidc/identity.ts principalOf builds it from a token, with the name shown at sign-in.
    return Object.freeze({
      id: principalId(p.issuer, p.subject), name: p.name, kind: 'oidc' as const, expiresAt: sessionEnd,
      scopes: policy.scopes, models: policy.models, limits: policy.limits, clamps: policy.clamps, allowlist: policy.allowlist,
      revokedAt: null, policyId: policy.id, issuer: p.issuer, subject: p.subject,
    });
  }
}

function ended(why: string): GatewayError {
  return refuse('GW_ERR_CONSOLE_SESSION', `your console session has ended: ${why}; sign in again`);
}
