import { refuse } from '../../core/errors.js';
import { headerCount } from '../../core/raw-headers.js';
import { dialectForPath } from '../../dialects/index.js';
import type { Call } from '../../request/call.js';
import { describeForwarded } from '../../routes/forwarded.js';
import { matchRoute } from '../../routes/match.js';
import { noRoute } from './refusal.js';
import { CONTINUE, SUSPENDED, type StageResult } from './stage.js';

/**
 * Forward-auth (`GET /auth/verify`): a reverse proxy (nginx `auth_request`, Caddy `forward_auth`,
 * Traefik ForwardAuth) asks whether the request it holds may pass, describing it in
 * X-Forwarded-Method and X-Forwarded-Uri and passing on its headers, credentials included.
 *
 * `describe` (from the route stage) turns the call into that request: its method, path and query
 * (so an ollama CLI signature is checked against what the client signed) and its route. The usual
 * stages then run on it: authenticate, authorize (gate, scope, endpoint list, a model in the path),
 * no body (the proxy sends it to Ollama; a model named there cannot be checked), admit (one request
 * against rpm; token routes reserve 1 token, given back at once). `verify`, after admit, answers:
 * 200 with the principal's identity and no body, or the 404 Ollama gives for a missing model when
 * the path names a model off the allowlist, or 403 for model management, whose safety rules need
 * the body. Every refusal is the one the request itself would get,
 * in its route's dialect. Nothing is ever forwarded. The audit record has route `auth.verify` and
 * the described method and path.
 */
export function describe(call: Call): StageResult {
  const req = call.req;
  const raw = req.rawHeaders;
  if (headerCount(raw, 'x-forwarded-method') > 1 || headerCount(raw, 'x-forwarded-uri') > 1) {
    return refuse('GW_ERR_FORWARD_AUTH_INVALID', 'X-Forwarded-Method and X-Forwarded-Uri must each be sent once');
  }
  const d = describeForwarded(req.headers['x-forwarded-method'] as string | undefined, req.headers['x-forwarded-uri'] as string | undefined);
  if (!d.ok) return refuse('GW_ERR_FORWARD_AUTH_INVALID', `forward-auth: ${d.reason}`);

  const scope = call.scope;
  call.method = scope.method = d.method;
  call.path = scope.path = d.path;
  call.query = d.query;
  call.dialect = dialectForPath(d.path);
  const m = matchRoute(d.method, d.path);
  if (!m.ok) return noRoute(m);
  const route = m.route;
  call.dialect = route.dialect;
  if (route.local) {
    return refuse('GW_ERR_ROUTE_NOT_FOUND', `not found: ${route.path} is answered by Gatehouse itself, not by Ollama; there is nothing behind a proxy to check it for`);
  }
  call.route = route;
  call.upstreamPath = m.upstreamPath;
  call.param = m.param;
  call.verifying = true;
  if (route.scope === null) {
    // Gatehouse forwards this route without credentials; so may the proxy.
    allow(call, []);
    return SUSPENDED;
  }
  // Admit reserves this much: one token for routes that use tokens, so that a key whose budget is
  // spent is refused, and never charged (the admission is released with no usage).
  call.promptEstimate = call.reserveTokens = route.accounting === 'none' ? 0 : 1;
  return CONTINUE;
}

/** After admit: answers a forward-auth check; any other request goes on. */
export function verify(call: Call): StageResult {
  if (!call.verifying) return CONTINUE;
  const admission = call.admission;
  call.admission = null;
  admission?.release(null);
  if (call.route?.gate === 'manage') {
    // Reached only by a principal that may manage models (gate on, scope held): the rules that make
    // management safe (manage.registries, no `insecure`, no server file paths, create's blobs,
    // policy/manage.ts) all read the body, which this proxy would send to Ollama unseen. Deny.
    return refuse('GW_ERR_FORWARD_AUTH_MANAGE', `model management (${call.route.method} ${call.route.path}) cannot be allowed through a forward-auth proxy: Gatehouse checks it against rules that read the request body (allowed registries, no "insecure", no server file paths, uploaded blobs), which the proxy sends to Ollama without Gatehouse; send pull, push, create, copy, delete and blob uploads to Gatehouse's own port instead`);
  }
  const hidden = call.hidden;
  if (hidden) {
    // The authorize stage recorded GW_ERR_MODEL_NOT_ALLOWED; the client gets Ollama's own not-found.
    if (!call.res.destroyed) {
      const headers = hidden.rawHeaders.map((b) => b.toString('latin1'));
      headers.push('x-request-id', call.scope.id);
      call.res.writeHead(hidden.status, headers);
      call.res.end(hidden.body);
      call.scope.bytesOut = hidden.body.length;
    }
    return SUSPENDED;
  }
  allow(call, admission?.headers ?? []);
  return SUSPENDED;
}

/** 200, no body: the principal (if the route needs one) in X-Gatehouse-* headers, and the rate-limit headers. */
function allow(call: Call, rateHeaders: readonly string[]): void {
  const res = call.res;
  if (res.destroyed) return;
  const headers: string[] = ['content-length', '0', 'cache-control', 'no-store', 'x-request-id', call.scope.id];
  const p = call.principal;
  if (p) {
    headers.push('x-gatehouse-principal', headerValue(p.name), 'x-gatehouse-principal-id', headerValue(p.id), 'x-gatehouse-scopes', headerValue([...p.scopes].sort().join(',')));
  }
  for (const h of rateHeaders) headers.push(h);
  const cors = call.cors;
  if (cors) for (const k in cors) headers.push(k, cors[k]!);
  res.writeHead(200, headers);
  res.end();
}

const PLAIN = /^(?:[\x21-\x24\x26-\x7e](?:[\x20-\x24\x26-\x7e]*[\x21-\x24\x26-\x7e])?)?$/;

/**
 * A name as a header value: printable ASCII without `%` (and no space at either end) as it is; anything
 * else (non-ASCII, control characters, `%`) percent-encoded as UTF-8 whole, so a value holding `%` is always encoded.
 */
export function headerValue(s: string): string {
  return PLAIN.test(s) ? s : encodeURIComponent(s);
}
