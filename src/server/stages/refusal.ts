import { refuse, type GatewayError } from '../../core/errors.js';
import type { Call } from '../../request/call.js';
import type { MatchResult } from '../../routes/match.js';
import { sendError } from '../respond.js';

/**
 * Answers a refusal in the call's dialect's shape, with its CORS headers, and records it. An upstream
 * failure (`upstreamFailure`) is answered the same way but stays an allowed request in the audit:
 * Gatehouse let it through, Ollama failed it.
 */
export function sendRefusal(call: Call, err: GatewayError, upstreamFailure = false): void {
  const scope = call.scope;
  if (!upstreamFailure) scope.decision = 'refused';
  scope.reason = err.code;
  const cors = call.cors;
  const headers: Record<string, string> = cors ? { ...cors } : {};
  // A model the key may not use must look exactly like a model Ollama does not have, which
  // reaches the client through the proxy with its overhead header.
  if (err.code === 'GW_ERR_MODEL_NOT_FOUND') headers['x-gatehouse-overhead-ms'] = (performance.now() - scope.start).toFixed(3);
  scope.bytesOut = sendError(call.res, err, call.dialect, scope.id, headers);
}

/** The refusal for a path no route takes: 404, 405 with Allow, or 400 for a bad digest. */
export function noRoute(m: Extract<MatchResult, { ok: false }>): GatewayError {
  return m.status === 405
    ? refuse('GW_ERR_METHOD_NOT_ALLOWED', `method not allowed: ${m.reason}`, { headers: { allow: m.allow ?? '' } })
    : m.status === 400
      ? refuse('GW_ERR_BODY_INVALID', m.reason)
      : refuse('GW_ERR_ROUTE_NOT_FOUND', `not found: Gatehouse forwards only the Ollama API routes (see the README's route table)`);
}
