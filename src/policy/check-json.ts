import type { GatewayError } from '../core/errors.js';
import type { Principal } from '../core/types.js';
import type { RouteDef } from '../routes/table.js';
import { inspectJson, type NamedModel } from './inspect-request.js';
import type { RequestBody } from './json-body.js';
import { checkManageRequest, type ManageRules } from './manage.js';
import type { RequestPolicy } from './request-policy.js';

/**
 * Everything Gatehouse decides about a JSON body, in the order it decides it: field types and
 * model names, the model allowlist, the management rules, the resource clamps, and finally the
 * bytes to forward. One pure function, so the request path and the differential tests against
 * Go (test/differential) exercise exactly the same code.
 */

export interface JsonCheckDeps {
  policy: RequestPolicy;
  manage: ManageRules;
  /**
   * The allowlist and cloud checks for the models the body names (the gateway's own rule). A
   * GW_ERR_MODEL_NOT_ALLOWED answer is carried as `notAllowed`; any other error refuses.
   */
  modelDenied(models: readonly NamedModel[]): GatewayError | null;
}

export type JsonCheck =
  | { ok: false; error: GatewayError; models: readonly NamedModel[] }
  | {
      ok: true;
      models: readonly NamedModel[];
      /** Set when a model is off the key's allowlist: nothing may be forwarded (see above). */
      notAllowed: GatewayError | null;
      stream: boolean;
      injectedUsage: boolean;
      reserveTokens: number;
      promptEstimate: number;
      maxOutput: number;
      /** keep_alive: 0 (the model is unloaded after this request). */
      unload: boolean;
      /** The body to forward, in pieces (views of the client's bytes where nothing changed). */
      forward: Buffer[];
      forwardLength: number;
    };

const NONE: readonly NamedModel[] = [];

export function checkJsonBody(route: RouteDef, body: RequestBody, p: Principal, deps: JsonCheckDeps): JsonCheck {
  const inspected = inspectJson(route, body);
  if (!('body' in inspected)) return { ok: false, error: inspected, models: NONE };
  const models = inspected.models;
  // A model off the allowlist is not refused here: the request path answers it as Ollama answers
  // for a model it does not have, after the same checks and limits as any request (notAllowed).
  const access = deps.modelDenied(models);
  const notAllowed = access?.code === 'GW_ERR_MODEL_NOT_ALLOWED' ? access : null;
  const denied = (notAllowed ? null : access) ?? checkManageRequest(route, body.fields, models, deps.manage);
  if (denied) return { ok: false, error: denied, models };
  const applied = deps.policy.apply(route, body, p, body.bytes.length);
  if (!('reserveTokens' in applied)) return { ok: false, error: applied, models };
  const forward = body.forwardPieces();
  let forwardLength = 0;
  for (let i = 0; i < forward.length; i++) forwardLength += forward[i]!.length;
  return {
    ok: true,
    models,
    notAllowed,
    stream: inspected.stream,
    injectedUsage: inspected.injectedUsage,
    reserveTokens: applied.reserveTokens,
    promptEstimate: applied.promptEstimate,
    maxOutput: applied.maxOutput,
    unload: applied.unload,
    forward,
    forwardLength,
  };
}
