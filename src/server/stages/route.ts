import { refuse } from '../../core/errors.js';
import type { Call } from '../../request/call.js';
import { matchRoute } from '../../routes/match.js';
import type { GatewayContext } from './context.js';
import { CONTINUE, SUSPENDED, type StageResult } from './stage.js';

/**
 * Exact route match on the raw path (404, 405 with Allow, 400 for a bad digest otherwise). A public
 * route is answered here (/healthz, /readyz) or forwarded without credentials: its credentials are
 * ignored, and never forwarded.
 */
export function route(call: Call, gw: GatewayContext): StageResult {
  const m = matchRoute(call.method, call.path);
  if (!m.ok) {
    return m.status === 405
      ? refuse('GW_ERR_METHOD_NOT_ALLOWED', `method not allowed: ${m.reason}`, { headers: { allow: m.allow ?? '' } })
      : m.status === 400
        ? refuse('GW_ERR_BODY_INVALID', m.reason)
        : refuse('GW_ERR_ROUTE_NOT_FOUND', `not found: Gatehouse forwards only the Ollama API routes (see the README's route table)`);
  }
  const r = m.route;
  call.route = r;
  call.scope.route = r;
  call.upstreamPath = m.upstreamPath;
  call.param = m.param;
  // The route's dialect is the one its path gives (routes/table.ts); from here on it shapes refusals.
  call.dialect = r.dialect;

  if (r.scope === null) {
    if (r.local && r.local !== 'metrics') {
      gw.health.answer(r.local, call.res, call.scope, call.cors);
      return SUSPENDED;
    }
    call.next = gw.forwardAt;
  }
  return CONTINUE;
}
