import { refuse, type GatewayError } from '../../core/errors.js';
import type { ResolvedPrincipal } from '../../auth/principal.js';
import type { Config } from '../../config/schema.js';
import { missingModelMessage, presetStreamHeaders } from '../../policy/missing-model.js';
import type { ModelRef } from '../../policy/model-name.js';
import { ollamaNotFound, type UpstreamAnswer } from '../../proxy/missing-model-answer.js';
import type { Call } from '../../request/call.js';
import type { RouteDef } from '../../routes/table.js';

/**
 * Cloud models need the cloud switch and scope; every model must be on the key's allowlist. A
 * model off the allowlist gives GW_ERR_MODEL_NOT_ALLOWED, which the caller answers as Ollama
 * answers a missing model (hide); any other refusal takes precedence, as it would for a model
 * that really is missing.
 */
export function modelDenied(models: readonly (ModelRef & { field?: string })[], p: ResolvedPrincipal, route: RouteDef, config: Config): GatewayError | null {
  let hidden: GatewayError | null = null;
  for (const m of models) {
    if (m.cloud) {
      if (!config.routes.cloud) return refuse('GW_ERR_ROUTE_DISABLED', 'Ollama cloud models are disabled on this gateway (they spend the server owner\'s ollama.com account); the operator can enable them with routes.cloud: true');
      if (!p.scopes.has('cloud')) return refuse('GW_ERR_SCOPE_MISSING', `this key ("${p.name}") lacks the "cloud" scope needed for cloud models`);
    }
    if (!hidden && !p.allowlist.allows(m.canonical)) hidden = modelNotAllowed(route, m.raw, m.field ?? null);
  }
  return hidden;
}

/**
 * A model the key may not use: recorded as refused (GW_ERR_MODEL_NOT_ALLOWED, for operators),
 * then, once the request has passed every check and the limiter as a real one would, answered
 * with Ollama's own 404 for a missing model, through the proxy path (stages/forward.ts). So status,
 * headers, body and limit accounting are those of a model that does not exist.
 */
export function hide(call: Call, err: GatewayError, route: RouteDef, stream: boolean): UpstreamAnswer {
  call.scope.decision = 'refused';
  call.scope.reason = err.code;
  return ollamaNotFound(route.dialect, err.message, presetStreamHeaders(route, stream));
}

/** A model the key may not use, with the text Ollama gives that route for a model it does not have. */
function modelNotAllowed(route: RouteDef, raw: string, field: string | null): GatewayError {
  return refuse('GW_ERR_MODEL_NOT_ALLOWED', missingModelMessage(route, raw, field));
}

/** A path parameter that is no model name at all (nothing to hide: no such model can exist). */
export function invalidModelParam(name: string): GatewayError {
  return refuse('GW_ERR_MODEL_NOT_FOUND', `model '${name}' not found`);
}
