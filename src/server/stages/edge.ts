import type { IncomingMessage, ServerResponse } from 'node:http';
import { refuse } from '../../core/errors.js';
import { requestId } from '../../core/ids.js';
import { Call } from '../../request/call.js';
import { RequestScope } from '../../request/scope.js';
import { dialectForPath, ollama } from '../../dialects/index.js';
import { matchRoute } from '../../routes/match.js';
import { derived } from '../../config/resolved.js';
import type { GatewayContext } from './context.js';
import { CONTINUE, SUSPENDED, type StageResult } from './stage.js';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The call for a request that has just arrived: its id (a client's X-Request-Id only from a
 * trusted proxy), its client address (X-Forwarded-For only from trusted_proxies), its record.
 */
export function openCall(req: IncomingMessage, res: ServerResponse, gw: GatewayContext): Call {
  const start = performance.now();
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q + 1);
  const peer = req.socket.remoteAddress ?? '';
  const fwdId = req.headers['x-request-id'];
  const id = typeof fwdId === 'string' && SAFE_REQUEST_ID.test(fwdId) && gw.clientAddress.trusts(peer) ? fwdId : requestId();
  const scope = new RequestScope(id, start, gw.clientAddress.resolve(peer, req.headers['x-forwarded-for']), req.method ?? 'GET', path);
  // The dialect is the path's once the edge has read it (dialectForPath); until then, Ollama's.
  return new Call(req, res, scope, path, query, ollama, gw.observer);
}

/** Shutting down, Host allowlist (DNS rebinding), base_path, CORS (a foreign Origin refused, a preflight answered). */
export function edge(call: Call, gw: GatewayContext): StageResult {
  if (gw.health.shuttingDown) {
    // A request that arrives on a kept-alive connection while shutting down: answer it and
    // close, so the client retries on a replica that is not going away.
    call.res.shouldKeepAlive = false;
    call.dialect = dialectForPath(call.path);
    return refuse('GW_ERR_SHUTTING_DOWN', 'the gateway is shutting down; retry shortly', { headers: { 'retry-after': '1' } });
  }
  const req = call.req;
  const host = gw.hostCheck(req.headers.host);
  if (!host.ok) {
    call.dialect = dialectForPath(call.path);
    return refuse(host.malformed ? 'GW_ERR_HOST_MALFORMED' : 'GW_ERR_HOST_REJECTED', host.reason);
  }

  const base = gw.basePath;
  if (base) {
    const path = call.path;
    if (path !== base && !path.startsWith(base + '/')) {
      call.dialect = dialectForPath(path);
      return refuse('GW_ERR_ROUTE_NOT_FOUND', `not found; this gateway serves under ${base}/`);
    }
    call.path = path.slice(base.length) || '/';
  }
  call.dialect = dialectForPath(call.path);

  const origin = req.headers.origin;
  if (origin !== undefined && !(gw.console && isConsoleOrigin(origin, call.path, req, gw))) {
    if (!gw.cors.enabled || !gw.cors.allows(origin)) {
      return refuse('GW_ERR_ORIGIN_REJECTED', `browser origin ${JSON.stringify(origin.slice(0, 100))} is not allowed; the operator can list it in cors.origins`);
    }
    if (req.method === 'OPTIONS') return preflight(call, gw, origin);
    call.cors = gw.cors.responseHeaders(origin);
  }
  return CONTINUE;
}

/** CORS preflight: answered here, never forwarded. */
function preflight(call: Call, gw: GatewayContext, origin: string): StageResult {
  const wanted = call.req.headers['access-control-request-method'];
  const m = matchRoute(typeof wanted === 'string' ? wanted : 'GET', call.path);
  if (!m.ok) return refuse('GW_ERR_ROUTE_NOT_FOUND', 'not found');
  call.scope.route = m.route;
  call.res.writeHead(204, { ...gw.cors.preflightHeaders(origin, undefined, undefined), 'x-request-id': call.scope.id, 'content-length': 0 });
  call.res.end();
  return SUSPENDED;
}

/**
 * The console's own page calling its session endpoints and the admin API: the browser sends Origin
 * on those POSTs, and it is this gateway's own origin, not a cross-origin request (CORS does not
 * apply). The Host it is compared with has passed the Host allowlist above, so a page at a
 * rebinding name (whose Origin matches its own Host) has already been refused there.
 */
function isConsoleOrigin(origin: string, path: string, req: IncomingMessage, gw: GatewayContext): boolean {
  if (!path.startsWith('/console/') && !path.startsWith('/admin/v1/')) return false;
  const host = req.headers.host;
  return host !== undefined && origin === `${derived(gw.config).tls ? 'https' : 'http'}://${host}`;
}
