import type { Config } from '../config/schema.js';
import type { LoadedKeys } from './keys.js';
import type { Finding } from './types.js';

/**
 * auth.oidc rules that name a policy that does not exist: whoever matches such a rule first is
 * refused (GW_ERR_AUTH_JWT_POLICY_MISSING) until the policy is created or the rule corrected.
 */
export function oidcChecks(loaded: LoadedKeys, config: Config): Finding[] {
  if (config.auth.oidc.length === 0 || !('records' in loaded) || !loaded.policyNames) return [];
  const known = new Set(loaded.policyNames);
  const missing: string[] = [];
  config.auth.oidc.forEach((o, i) => o.rules.forEach((r, j) => {
    if (!known.has(r.policy)) missing.push(`auth.oidc[${i}].rules[${j}] (group "${r.group}" → policy "${r.policy}", ${o.issuer})`);
  }));
  if (missing.length === 0) {
    return [{ id: 'oidc.rules', severity: 'ok', title: `${config.auth.oidc.length} OpenID issuer${config.auth.oidc.length === 1 ? '' : 's'}; every rule names a policy that exists` }];
  }
  return [{
    id: 'oidc.rules_missing_policy', severity: 'warning',
    title: `${missing.length} OIDC rule${missing.length === 1 ? ' names a policy' : 's name policies'} that do${missing.length === 1 ? 'es' : ''} not exist: ${missing.slice(0, 5).join('; ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`,
    detail: 'Identities whose first matching rule is one of these are refused (403 GW_ERR_AUTH_JWT_POLICY_MISSING).',
    fix: 'Create the policy (gatehouse policies create NAME …) or correct the rule in the config.',
  }];
}
