import type { PolicyCache, ResolvedPolicy } from './policy-cache.js';

/**
 * Whether the rules under auth.oidc still give a policy to people from an issuer: what keeps a
 * personal key (auth/personal-keys.ts) and a console session (server/console/session-principal.ts)
 * working after sign-in, when no token (and so no groups) comes with the request. The check is
 * "some rule of that issuer names this policy", read against the policies as they are now.
 */
export class IssuerPolicies {
  /** issuer → the policy names its rules give. */
  readonly #mapped: ReadonlyMap<string, ReadonlySet<string>>;
  readonly #policies: PolicyCache;

  constructor(issuers: readonly { issuer: string; rules: readonly { policy: string }[] }[], policies: PolicyCache) {
    this.#mapped = new Map(issuers.map((i) => [i.issuer, new Set(i.rules.map((r) => r.policy))]));
    this.#policies = policies;
  }

  /**
   * The policy, while a rule of the issuer gives it; else what is missing: the issuer itself, or a
   * rule naming the policy (`name`: the policy's, when it still exists).
   */
  given(issuer: string, policyId: string | null): { policy: ResolvedPolicy } | { missing: 'issuer' } | { missing: 'rule'; name: string | null } {
    const mapped = this.#mapped.get(issuer);
    if (!mapped) return { missing: 'issuer' };
    const policy = policyId === null ? undefined : this.#policies.byId(policyId);
    if (!policy || !mapped.has(policy.name)) return { missing: 'rule', name: policy?.name ?? null };
    return { policy };
  }
}
