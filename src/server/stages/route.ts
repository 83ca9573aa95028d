import type { Call } from '../../request/call.js';
import { isAdminPath } from '../../admin/routes.js';
import { isConsolePath } from '../console/handler.js';
import { matchRoute } from '../../routes/match.js';
import { adminRoute } from './admin.js';
import type { GatewayContext } from './context.js';
import { noRoute } from './refusal.js';
import { CONTINUE, SUSPENDED, type StageResult } from './stage.js';
import { describe } from './verify.js';

/**
 * Exact route match on the raw path (404, 405 with Allow, 400 for a bad digest otherwise). A public
 * route is answered here (/healthz, /readyz) or forwarded without credentials: its credentials are
 * ignored, and never forwarded.
 */
export function route(call: Call, gw: GatewayContext): StageResult {
  if (gw.console && isConsolePath(call.path)) {
    // The console answers its files and sessions itself; what it shows comes from /admin/v1.
    gw.console.answer(call);
    return SUSPENDED;
  }
  if (gw.adminOnly || isAdminPath(call.path)) return adminRoute(call, gw);
  const m = matchRoute(call.method, call.path);
  if (!m.ok) return noRoute(m);
  const r = m.route;
  call.route = r;
  call.scope.route = r;
  call.upstreamPath = m.upstreamPath;
  call.param = m.param;
  // The route's dialect is the one its path gives (routes/table.ts); from here on it shapes refusals.
  call.dialect = r.dialect;

  if (r.scope === null) {
    // Forward-auth: from here on the call is the request the proxy describes.
    if (r.local === 'verify') return describe(call);
    if (r.local === 'healthz' || r.local === 'readyz') {
      gw.health.answer(r.local, call.res, call.scope, call.cors);
      return SUSPENDED;
    }
    call.next = gw.forwardAt;
  }
  return CONTINUE;
}
