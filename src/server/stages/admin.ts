import type { AdminApi } from '../../admin/api.js';
import { isAdminPath, matchAdminRoute } from '../../admin/routes.js';
import { GatewayError, refuse } from '../../core/errors.js';
import { admin as adminDialect } from '../../dialects/index.js';
import type { Call } from '../../request/call.js';
import { inviteBody } from '../expect-continue.js';
import { readBody } from '../read-body.js';
import type { GatewayContext } from './context.js';
import { sendRefusal } from './refusal.js';
import { CONTINUE, SUSPENDED, type StageResult } from './stage.js';

/**
 * The admin API (/admin/v1, admin/) on the request path. `adminRoute` (from the route stage)
 * matches the path exactly against admin/routes.ts and puts the row on the call, so the usual
 * stages run: authenticate (the whole chain; failures count against the address), authorize (the
 * row's scope: `admin:read`, `admin:keys` or `admin`, `keys:self` for /me/keys; 403 without it). `admin`, right after authorize, then reads the body (JSON only,
 * 64 KiB at most), lets admin/api.ts answer, and writes its JSON (or the CSV a report was asked as). Nothing is ever forwarded; the
 * audit record carries the route id (`admin.keys.create`, …) like any other request.
 */

/** Admin bodies are small JSON objects; anything bigger is a mistake or an attack. */
export const ADMIN_MAX_BODY = 64 * 1024;

export function adminRoute(call: Call, gw: GatewayContext): StageResult {
  call.dialect = adminDialect;
  if (!gw.admin) return refuse('GW_ERR_ROUTE_NOT_FOUND', 'not found: the admin API is not served on this listener; the operator can turn it on with admin.listen: main (or HOST:PORT for a listener of its own)');
  if (!isAdminPath(call.path)) return refuse('GW_ERR_ROUTE_NOT_FOUND', 'not found: this listener serves the admin API (/admin/v1) only');
  const m = matchAdminRoute(call.method, call.path);
  if (!m.ok) {
    return m.status === 405
      ? refuse('GW_ERR_METHOD_NOT_ALLOWED', `method not allowed: ${m.reason}`, { headers: { allow: m.allow ?? '' } })
      : refuse('GW_ERR_ROUTE_NOT_FOUND', 'not found: no such admin API route; the routes are listed in GET /admin/v1/openapi.json');
  }
  call.route = m.route.def;
  call.scope.route = m.route.def;
  return CONTINUE;
}

export function admin(call: Call, gw: GatewayContext): StageResult {
  if (call.route!.local !== 'admin') return CONTINUE;
  const api = gw.admin!;
  const req = call.req;
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') return refuse('GW_ERR_BODY_ENCODING', 'send the admin API request body uncompressed');
  const declared = req.headers['content-length'];
  const hasBody = (declared !== undefined && declared !== '0') || req.headers['transfer-encoding'] !== undefined;
  const type = req.headers['content-type'] ?? '';
  if (hasBody && !/^application\/json\s*(;|$)/i.test(type)) return refuse('GW_ERR_BODY_ENCODING', `the admin API takes JSON bodies: send Content-Type: application/json (got ${JSON.stringify(type.slice(0, 60))})`);
  inviteBody(req, call.res, ADMIN_MAX_BODY); // Expect: 100-continue: only now, authenticated and authorized
  readBody(req, ADMIN_MAX_BODY, gw.config.timeouts.client_body, (body) => {
    if (body instanceof GatewayError) return sendRefusal(call, body);
    call.scope.bytesIn = body.length;
    void answer(call, gw, api, body);
  });
  return SUSPENDED;
}

async function answer(call: Call, gw: GatewayContext, api: AdminApi, body: Buffer): Promise<void> {
  const m = matchAdminRoute(call.method, call.path);
  if (!m.ok) return; // matched in adminRoute: cannot happen
  let out;
  try {
    out = await api.answer(m.route, m.params, call.query, body, call.principal!);
  } catch (err) {
    if (err instanceof GatewayError) return sendRefusal(call, err);
    gw.log.error({ err: (err as Error).message, request_id: call.scope.id, route: m.route.id }, 'admin API request failed');
    return sendRefusal(call, refuse('GW_ERR_INTERNAL', 'the admin API request failed inside Gatehouse; the operator can find the cause in the gateway log under this request id'));
  }
  const res = call.res;
  if (res.destroyed) return;
  const text = out.contentType ? String(out.body) : JSON.stringify(out.body);
  const headers: Record<string, string | number> = { 'content-type': out.contentType ?? 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', 'x-request-id': call.scope.id };
  if (call.cors) Object.assign(headers, call.cors);
  res.writeHead(out.status, headers);
  res.end(call.method === 'HEAD' ? undefined : text);
  call.scope.bytesOut = Buffer.byteLength(text);
}
