import { refuse, type GatewayError } from '../core/errors.js';
import type { IssuerRules } from './oidc/identity.js';
import type { PolicyCache } from './policy-cache.js';
import { IssuerPolicies } from './policy-mapping.js';
import type { ResolvedPrincipal } from './principal.js';

/**
 * Personal keys (`/admin/v1/me/keys`) belong to a signed-in identity and carry the policy its
 * groups mapped to when the key was made. They work only while that mapping exists: a rule of the
 * owner's issuer in `auth.oidc` still names the key's policy. Removing the rule (or the issuer)
 * disables every personal key made under it, with no key to hunt down; putting it back restores
 * them. Revoking a key, or deleting the policy, works as for any key.
 *
 * The owner's groups are not known when the key is used (no token comes with it), so the check is
 * "some rule still gives this policy", not "this person is still in that group": removing a person
 * from a group at the provider does not disable their keys; the operator revokes them (README).
 */
export class PersonalKeyGate {
  readonly #given: IssuerPolicies;

  constructor(issuers: readonly IssuerRules[], policies: PolicyCache) {
    this.#given = new IssuerPolicies(issuers, policies);
  }

  /** null: the key may be used; else why not. Only personal keys (with an owner) are checked. */
  check(p: ResolvedPrincipal): GatewayError | null {
    const owner = p.owner;
    if (!owner) return null;
    const g = this.#given.given(owner.issuer, p.policyId);
    if ('policy' in g) return null;
    if (g.missing === 'issuer') return disabled(p, `its owner's identity provider (${owner.issuer}) is no longer configured on this gateway`);
    return disabled(p, `its policy${g.name ? ` "${g.name}"` : ''} is no longer given by any rule of ${owner.issuer} under auth.oidc[].rules`);
  }
}

function disabled(p: ResolvedPrincipal, why: string): GatewayError {
  return refuse('GW_ERR_AUTH_PERSONAL_KEY_DISABLED', `this personal key ("${p.name}") is disabled: ${why}; sign in and create a new one (POST /admin/v1/me/keys), or ask the operator`);
}
