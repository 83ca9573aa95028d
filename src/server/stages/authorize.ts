import { endpointAllowed } from '../../auth/ssh/authorized-keys.js';
import { refuse, type GatewayError } from '../../core/errors.js';
import { isModelRef, parseModelRef } from '../../policy/model-name.js';
import { scopeGrants, type Principal, type Scope } from '../../core/types.js';
import { NOT_FOR_PERSONAL_KEYS } from '../../auth/principal.js';
import type { Call } from '../../request/call.js';
import type { GatewayContext } from './context.js';
import { hide, invalidModelParam, modelDenied } from './model-access.js';
import { CONTINUE, SUSPENDED, type StageResult } from './stage.js';

/**
 * What the authenticated principal may do here: the route gate (operator switch), its scope, the
 * endpoint list of authorized_keys principals; then /metrics (on this listener only with
 * metrics.listen: main) and a model named in the path, checked against the key's allowlist.
 */
export function authorize(call: Call, gw: GatewayContext): StageResult {
  const route = call.route!;
  const p = call.principal!;
  const cfg = gw.config.routes;
  if (route.gate === 'manage' && !cfg.manage) {
    return refuse('GW_ERR_ROUTE_DISABLED', `model management (${route.method} ${route.path}) is disabled on this gateway; the operator can enable it with routes.manage: true`);
  }
  if (route.gate === 'cloud' && !cfg.cloud) {
    return refuse('GW_ERR_ROUTE_DISABLED', `Ollama cloud and account routes are disabled on this gateway; the operator can enable them with routes.cloud: true`);
  }
  if (route.scope && !p.scopes.has(route.scope) && !scopeGrants(p.scopes, route.scope)) return scopeMissing(p, route.scope, `${route.method} ${route.path}`);
  if (p.endpoints && !endpointAllowed(p.endpoints, call.path)) {
    return refuse('GW_ERR_ENDPOINT_NOT_ALLOWED', `this key ("${p.name}") may not call ${call.path} (its endpoint list in the authorized_keys file does not include it)`);
  }

  if (route.local === 'metrics') {
    // Authenticated like every protected route; answered here only with metrics.listen: main.
    if (!gw.metricsEndpoint) return refuse('GW_ERR_ROUTE_NOT_FOUND', 'not found: /metrics is not served on this listener (the operator can set metrics.listen: main to serve it here)');
    gw.metricsEndpoint(call.res, call.scope, call.cors);
    return SUSPENDED;
  }

  const param = call.param;
  if (param !== null && route.param?.kind === 'model') {
    const ref = parseModelRef(param);
    if (isModelRef(ref)) call.scope.models = [ref.canonical];
    const err: GatewayError | null = isModelRef(ref) ? modelDenied([ref], p, route, gw.config) : invalidModelParam(param);
    if (err?.code === 'GW_ERR_MODEL_NOT_ALLOWED') call.hidden = hide(call, err, route, false);
    else if (err) return err;
  }
  return CONTINUE;
}

/**
 * The 403 for a missing scope, saying where that scope would come from: the key's own grants, its
 * policy (keys with one, and signed-in identities), or nowhere (a personal key never manages, and
 * only a signed-in identity has personal keys).
 */
function scopeMissing(p: Principal & { policyId?: string | null; owner?: unknown }, scope: Scope, what: string): GatewayError {
  const lacks = `${p.kind === 'oidc' ? 'your identity' : 'this key'} ("${p.name}") lacks the "${scope}" scope needed for ${what}`;
  if (p.owner !== undefined && NOT_FOR_PERSONAL_KEYS.has(scope)) return refuse('GW_ERR_SCOPE_MISSING', `${lacks}: a personal key never has an admin scope, keys:self or models:manage; use your sign-in token (JWT) for that`);
  if (scope === 'keys:self' && p.kind !== 'oidc') return refuse('GW_ERR_SCOPE_MISSING', `${lacks}: personal keys are made by people signed in with their identity provider (a JWT from an issuer under auth.oidc whose policy has keys:self); an operator makes other keys with POST /admin/v1/keys or \`gatehouse keys create\``);
  const scopes = [...p.scopes, scope].join(',');
  if (p.policyId) return refuse('GW_ERR_SCOPE_MISSING', `${lacks}; its scopes come from policy ${p.policyId}: the operator can add it with: gatehouse policies update ${p.policyId} --scopes ${scopes}`);
  return refuse('GW_ERR_SCOPE_MISSING', `${lacks}; the operator can add it with: gatehouse keys update ${p.id} --scopes ${scopes}`);
}
