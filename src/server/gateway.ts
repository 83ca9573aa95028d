import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { authenticateApiKey, malformedCredential, missingCredential, type AuthResult } from '../auth/authenticate.js';
import { authenticateClientCert } from '../auth/client-cert.js';
import { extractCredential } from '../auth/credentials.js';
import type { KeyCache } from '../auth/key-cache.js';
import type { LastUsed } from '../auth/last-used.js';
import type { ResolvedPrincipal } from '../auth/principal.js';
import { endpointAllowed } from '../auth/ssh/authorized-keys.js';
import type { SshAuthenticator } from '../auth/ssh-auth.js';
import type { Clock } from '../core/clock.js';
import { GatewayError, refuse } from '../core/errors.js';
import { requestId } from '../core/ids.js';
import type { Family } from '../core/types.js';
import type { Config } from '../config/schema.js';
import type { Admission, AdmissionRequest, Limiter } from '../limits/types.js';
import { inspectJson } from '../policy/inspect-request.js';
import { checkManageRequest, type ManageRules } from '../policy/manage.js';
import { filterModelList } from '../policy/list-filter.js';
import type { ModelRef } from '../policy/model-name.js';
import { isModelRef, parseModelRef } from '../policy/model-name.js';
import { boundaryOf, readFormFields } from '../policy/multipart.js';
import { Exchange, type ExchangeOutcome } from '../proxy/exchange.js';
import { upstreamRequestHeaders } from '../proxy/headers.js';
import { familyForPath, matchRoute } from '../routes/match.js';
import type { RouteDef } from '../routes/table.js';
import { compileClientAddress } from './client-address.js';
import { compileCors, type CorsPolicy } from './cors.js';
import { compileHostCheck, type HostVerdict } from './host-check.js';
import type { Observer } from './observer.js';
import { readBody } from './read-body.js';
import { sendError } from './respond.js';
import { RequestScope } from './scope.js';
import { limitedStream } from './limited-stream.js';
import type { Health } from './health.js';
import type { RequestPolicy } from '../policy/request-policy.js';
import type { MetricsEndpoint } from '../metrics/endpoint.js';

export interface GatewayDeps {
  config: Config;
  clock: Clock;
  keys: KeyCache;
  ssh: SshAuthenticator | null;
  pool: Dispatcher;
  upstreamHost: string;
  limiter: Limiter;
  policy: RequestPolicy;
  observer: Observer;
  health: Health;
  log: Logger;
  /** Batches last-used times to the key store. */
  lastUsed?: LastUsed;
  /** Answers GET /metrics on this listener (metrics.listen: main); null = the route does not exist here. */
  metricsEndpoint?: MetricsEndpoint | null;
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request path, socket to Ollama and back, in the order every request takes it:
 *   Host allowlist → CORS → exact route match → (public? forward) → authenticate → route gate,
 *   scope, endpoint list → read and inspect the body (model allowlist, clamps) → limits (admit)
 *   → forward with accounting → settle limits → audit/metrics (Observer, once per request).
 * Nothing is forwarded until every step has said yes; every refusal is answered in the route
 * family's error format.
 */
export class Gateway {
  readonly #d: GatewayDeps;
  readonly #host: (h: string | undefined) => HostVerdict;
  readonly #cors: CorsPolicy;
  readonly #addr: ReturnType<typeof compileClientAddress>;
  readonly #basePath: string;
  readonly #manage: ManageRules;

  constructor(deps: GatewayDeps) {
    this.#d = deps;
    this.#host = compileHostCheck(deps.config.allowed_hosts);
    this.#cors = compileCors(deps.config.cors.origins, deps.config.cors.max_age);
    this.#addr = compileClientAddress(deps.config.trusted_proxies);
    this.#basePath = deps.config.base_path;
    this.#manage = { registries: deps.config.manage.registries, remoteHosts: deps.config.manage.remote_hosts };
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const start = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let path = q === -1 ? url : url.slice(0, q);
    const query = q === -1 ? '' : url.slice(q + 1);
    const peer = req.socket.remoteAddress ?? '';
    const fwdId = req.headers['x-request-id'];
    const id = typeof fwdId === 'string' && SAFE_REQUEST_ID.test(fwdId) && this.#addr.trusts(peer) ? fwdId : requestId();
    const scope = new RequestScope(id, start, this.#addr.resolve(peer, req.headers['x-forwarded-for']), req.method ?? 'GET', path);
    scope.hold();
    res.once('close', () => {
      scope.status = res.statusCode;
      if (!res.writableFinished) scope.clientAborted = true;
      this.#settled(scope);
    });

    if (this.#d.health.shuttingDown) {
      // A request that arrives on a kept-alive connection while shutting down: answer it and
      // close, so the client retries on a replica that is not going away.
      res.shouldKeepAlive = false;
      return this.#refuse(scope, res, refuse('GW_ERR_SHUTTING_DOWN', 'the gateway is shutting down; retry shortly', { headers: { 'retry-after': '1' } }), familyForPath(path));
    }
    const host = this.#host(req.headers.host);
    if (!host.ok) return this.#refuse(scope, res, refuse(host.malformed ? 'GW_ERR_HOST_MALFORMED' : 'GW_ERR_HOST_REJECTED', host.reason), familyForPath(path));

    if (this.#basePath) {
      if (path !== this.#basePath && !path.startsWith(this.#basePath + '/')) {
        return this.#refuse(scope, res, refuse('GW_ERR_ROUTE_NOT_FOUND', `not found; this gateway serves under ${this.#basePath}/`), familyForPath(path));
      }
      path = path.slice(this.#basePath.length) || '/';
    }
    const family = familyForPath(path);

    const origin = req.headers.origin;
    let corsHeaders: Record<string, string> | null = null;
    if (origin !== undefined) {
      if (!this.#cors.enabled || !this.#cors.allows(origin)) {
        return this.#refuse(scope, res, refuse('GW_ERR_ORIGIN_REJECTED', `browser origin ${JSON.stringify(origin.slice(0, 100))} is not allowed; the operator can list it in cors.origins`), family);
      }
      if (req.method === 'OPTIONS') return this.#preflight(scope, req, res, path, origin);
      corsHeaders = this.#cors.responseHeaders(origin);
    }

    const m = matchRoute(scope.method, path);
    if (!m.ok) {
      const err =
        m.status === 405
          ? refuse('GW_ERR_METHOD_NOT_ALLOWED', `method not allowed: ${m.reason}`, { headers: { allow: m.allow ?? '' } })
          : m.status === 400
            ? refuse('GW_ERR_BODY_INVALID', m.reason)
            : refuse('GW_ERR_ROUTE_NOT_FOUND', `not found: Gatehouse forwards only the Ollama API routes (see the README's route table)`);
      return this.#refuse(scope, res, err, family, corsHeaders);
    }
    const route = m.route;
    scope.route = route;

    if (route.scope === null) {
      if (route.local && route.local !== 'metrics') return this.#d.health.answer(route.local, res, scope, corsHeaders);
      // Public: credentials are ignored, and never forwarded.
      return this.#forward(scope, req, res, route, m.upstreamPath, null, null, corsHeaders, null);
    }

    const auth = this.#authenticate(req, path, query, scope);
    if (!auth.ok) {
      let err = auth.error;
      const retryAfter = this.#d.limiter.authFailure(scope.clientIp);
      if (retryAfter > 0) {
        err = refuse('GW_ERR_AUTH_TOO_MANY_FAILURES', `too many failed authentications from your address; try again in ${retryAfter} s`, { headers: { 'retry-after': String(retryAfter) } });
      }
      return this.#refuse(scope, res, err, family, corsHeaders);
    }
    const principal = auth.principal;
    scope.principal = principal;
    this.#d.lastUsed?.note(principal.id, scope.startedAt);

    const denied = this.#routeDenied(route, principal, path);
    if (denied) return this.#refuse(scope, res, denied, family, corsHeaders);
    if (route.local === 'metrics') {
      // Authenticated like every protected route; answered here only with metrics.listen: main.
      if (this.#d.metricsEndpoint) return this.#d.metricsEndpoint(res, scope, corsHeaders);
      return this.#refuse(scope, res, refuse('GW_ERR_ROUTE_NOT_FOUND', 'not found: /metrics is not served on this listener (the operator can set metrics.listen: main to serve it here)'), family, corsHeaders);
    }

    if (m.param !== null && route.param?.kind === 'model') {
      const ref = parseModelRef(m.param);
      if (isModelRef(ref)) scope.models = [ref.canonical];
      const err = isModelRef(ref) ? this.#modelDenied([ref], principal, route.family) : notFoundModel(m.param);
      if (err) return this.#refuse(scope, res, err, family, corsHeaders);
    }

    switch (route.body) {
      case 'none':
        return this.#admitAndForward(scope, req, res, route, m.upstreamPath, null, corsHeaders, 0, null, false);
      case 'raw':
        return this.#forwardRaw(scope, req, res, route, m.upstreamPath, corsHeaders);
      case 'json':
      case 'multipart':
        return this.#withBody(scope, req, res, route, m.upstreamPath, corsHeaders);
    }
  }

  #authenticate(req: IncomingMessage, path: string, query: string, scope: RequestScope): AuthResult {
    // Node keeps only the first of two Authorization headers; a second one is an ambiguity, not a
    // detail to ignore.
    if (headerCount(req.rawHeaders, 'authorization') > 1) return { ok: false, error: malformedCredential({ kind: 'malformed', reason: 'Authorization was sent more than once' }) };
    const cred = extractCredential(req.headers.authorization, req.headers['x-api-key']);
    switch (cred.kind) {
      case 'none':
        // No header credential: a TLS client certificate (mTLS) may stand in; plain HTTP skips at once.
        return authenticateClientCert(req.socket, this.#d.keys, this.#d.clock) ?? { ok: false, error: missingCredential() };
      case 'malformed':
        return { ok: false, error: malformedCredential(cred) };
      case 'api_key':
        return authenticateApiKey(cred.key, this.#d.keys, this.#d.clock);
      case 'ssh':
        if (!this.#d.ssh) return { ok: false, error: refuse('GW_ERR_AUTH_SSH_DISABLED', 'Ed25519-signed requests (OLLAMA_AUTH=1) are turned off on this gateway (ssh.enabled: false); use an API key') };
        return this.#d.ssh.authenticate(cred.token, { method: scope.method, path, query });
    }
  }

  /** Route gate (operator switch), scope, and the endpoint list of authorized_keys principals. */
  #routeDenied(route: RouteDef, p: ResolvedPrincipal, path: string): GatewayError | null {
    const cfg = this.#d.config.routes;
    if (route.gate === 'manage' && !cfg.manage) {
      return refuse('GW_ERR_ROUTE_DISABLED', `model management (${route.method} ${route.path}) is disabled on this gateway; the operator can enable it with routes.manage: true`);
    }
    if (route.gate === 'cloud' && !cfg.cloud) {
      return refuse('GW_ERR_ROUTE_DISABLED', `Ollama cloud and account routes are disabled on this gateway; the operator can enable them with routes.cloud: true`);
    }
    if (route.scope && !p.scopes.has(route.scope)) {
      return refuse('GW_ERR_SCOPE_MISSING', `this key ("${p.name}") lacks the "${route.scope}" scope needed for ${route.method} ${route.path}; the operator can add it with: gatehouse keys update ${p.id} --scopes ${[...p.scopes, route.scope].join(',')}`);
    }
    if (p.endpoints && !endpointAllowed(p.endpoints, path)) {
      return refuse('GW_ERR_ENDPOINT_NOT_ALLOWED', `this key ("${p.name}") may not call ${path} (its endpoint list in the authorized_keys file does not include it)`);
    }
    return null;
  }

  /** Cloud models need the cloud switch and scope; every model must be on the key's allowlist. */
  #modelDenied(models: readonly ModelRef[], p: ResolvedPrincipal, family: Family): GatewayError | null {
    for (const m of models) {
      if (m.cloud) {
        if (!this.#d.config.routes.cloud) return refuse('GW_ERR_ROUTE_DISABLED', 'Ollama cloud models are disabled on this gateway (they spend the server owner\'s ollama.com account); the operator can enable them with routes.cloud: true');
        if (!p.scopes.has('cloud')) return refuse('GW_ERR_SCOPE_MISSING', `this key ("${p.name}") lacks the "cloud" scope needed for cloud models`);
      }
      if (!p.allowlist.allows(m.canonical)) return notFoundModel(m.raw, family);
    }
    return null;
  }

  #withBody(scope: RequestScope, req: IncomingMessage, res: ServerResponse, route: RouteDef, upstreamPath: string, cors: Record<string, string> | null): void {
    const limits = this.#d.config.body_limits;
    const max = route.body === 'multipart' ? limits.multipart : limits.json;
    readBody(req, max, this.#d.config.timeouts.client_body, (body) => {
      if (body instanceof GatewayError) return this.#refuse(scope, res, body, route.family, cors);
      scope.bytesIn = body.length;
      if (body.length === 0) return this.#refuse(scope, res, refuse('GW_ERR_BODY_MISSING', 'missing request body'), route.family, cors);
      if (route.body === 'multipart') return this.#multipart(scope, req, res, route, upstreamPath, cors, body);
      this.#json(scope, req, res, route, upstreamPath, cors, body);
    });
  }

  #json(scope: RequestScope, req: IncomingMessage, res: ServerResponse, route: RouteDef, upstreamPath: string, cors: Record<string, string> | null, body: Buffer): void {
    const p = scope.principal!;
    const inspected = inspectJson(route, body.toString('utf8'));
    if (inspected instanceof GatewayError) return this.#refuse(scope, res, inspected, route.family, cors);
    // Recorded before the allowlist check: the audit trail shows which model a refused request wanted.
    scope.models = inspected.models.map((m) => m.canonical);
    const denied = this.#modelDenied(inspected.models, p, route.family) ?? checkManageRequest(route, inspected.body, inspected.models, this.#manage);
    if (denied) return this.#refuse(scope, res, denied, route.family, cors);
    scope.stream = inspected.stream;
    const applied = this.#d.policy.apply(route, inspected.body, p, body.length);
    if (applied instanceof GatewayError) return this.#refuse(scope, res, applied, route.family, cors);
    // Always forward the body as Gatehouse read it, never the client's bytes: Go reads duplicate
    // keys differently from JSON.parse (a later null keeps the earlier value, repeated objects
    // merge), so forwarding the original text could run what was never authorized.
    const out = Buffer.from(JSON.stringify(inspected.body));
    this.#admitAndForward(scope, req, res, route, upstreamPath, out, cors, applied.reserveTokens, applied.promptEstimate, inspected.injectedUsage);
  }

  #multipart(scope: RequestScope, req: IncomingMessage, res: ServerResponse, route: RouteDef, upstreamPath: string, cors: Record<string, string> | null, body: Buffer): void {
    const boundary = boundaryOf(req.headers['content-type']);
    if (!boundary) return this.#refuse(scope, res, refuse('GW_ERR_BODY_INVALID', 'expected a multipart/form-data body with a boundary'), route.family, cors);
    const form = readFormFields(body, boundary, new Set(['model']));
    if (!form.ok) return this.#refuse(scope, res, refuse('GW_ERR_BODY_INVALID', form.reason), route.family, cors);
    const names = form.fields.get('model') ?? [];
    if (names.length !== 1) {
      return this.#refuse(scope, res, refuse(names.length ? 'GW_ERR_BODY_AMBIGUOUS_FIELD' : 'GW_ERR_MODEL_REQUIRED', names.length ? 'send the "model" form field once' : '"model" is required'), route.family, cors);
    }
    const ref = parseModelRef(names[0]!);
    if (!isModelRef(ref)) return this.#refuse(scope, res, refuse('GW_ERR_MODEL_NAME_INVALID', `model: ${ref.error}`), route.family, cors);
    scope.models = [ref.canonical];
    const denied = this.#modelDenied([ref], scope.principal!, route.family);
    if (denied) return this.#refuse(scope, res, denied, route.family, cors);
    this.#admitAndForward(scope, req, res, route, upstreamPath, body, cors, 0, null, false);
  }

  /** Blob uploads: streamed to Ollama with a byte cap, never buffered. */
  #forwardRaw(scope: RequestScope, req: IncomingMessage, res: ServerResponse, route: RouteDef, upstreamPath: string, cors: Record<string, string> | null): void {
    const max = this.#d.config.body_limits.blob;
    const declared = req.headers['content-length'];
    if (declared !== undefined && !(Number(declared) <= max)) {
      return this.#refuse(scope, res, refuse('GW_ERR_BODY_TOO_LARGE', `upload is larger than body_limits.blob (${max} bytes)`), route.family, cors);
    }
    const body = limitedStream(req, max, this.#d.config.timeouts.client_body, (n: number) => (scope.bytesIn = n));
    this.#admitAndForward(scope, req, res, route, upstreamPath, body, cors, 0, null, false);
  }

  /**
   * Asks the limiter, then forwards. The common answer is immediate (memory backend, nothing
   * full), so that path stays synchronous; the abort signal a queued request needs is only
   * created if the limiter actually asks for it.
   */
  #admitAndForward(
    scope: RequestScope, req: IncomingMessage, res: ServerResponse, route: RouteDef, upstreamPath: string,
    body: Buffer | Readable | null, cors: Record<string, string> | null, reserveTokens: number, promptEstimate: number | null, injectedUsage: boolean,
  ): void {
    // The limiter reserves the prompt estimate plus the output it expects, at most this cap.
    const request = new PendingAdmission(scope, res, route, promptEstimate ?? 0, Math.max(0, reserveTokens - (promptEstimate ?? 0)));
    const refused = (err: unknown): void => {
      if (request.aborted || res.destroyed) return;
      const e = err instanceof GatewayError ? err : refuse('GW_ERR_LIMITS_UNAVAILABLE', 'the gateway cannot check limits right now; try again shortly', { cause: err });
      this.#refuse(scope, res, e, route.family, cors);
    };
    const admitted = (admission: Admission): void => {
      if (res.destroyed || request.aborted) {
        admission.release(null);
        scope.clientAborted = true;
        return;
      }
      this.#forward(scope, req, res, route, upstreamPath, body, admission, cors, { promptEstimate: promptEstimate ?? 0, injectedUsage });
    };
    let result: Admission | Promise<Admission>;
    try {
      result = this.#d.limiter.admit(request);
    } catch (err) {
      return refused(err);
    }
    if (result instanceof Promise) result.then(admitted, refused);
    else admitted(result);
  }

  #forward(
    scope: RequestScope, req: IncomingMessage, res: ServerResponse, route: RouteDef, upstreamPath: string,
    body: Buffer | Readable | null, admission: Admission | null, cors: Record<string, string> | null,
    acct: { promptEstimate: number; injectedUsage: boolean } | null,
  ): void {
    const p = scope.principal;
    const contentLength = body === null ? null : Buffer.isBuffer(body) ? body.length : declaredLength(req);
    const headers = upstreamRequestHeaders(req.headers, this.#d.upstreamHost, scope.id, contentLength);
    scope.upstream = this.#d.config.upstream;
    const overhead = performance.now() - scope.start;
    scope.overheadMs = overhead;
    const extra = ['x-request-id', scope.id, 'x-gatehouse-overhead-ms', overhead.toFixed(3)];
    if (admission) for (let i = 0, h = admission.headers; i < h.length; i++) extra.push(h[i]!);
    if (cors) for (const k in cors) extra.push(k, cors[k]!);
    const list = route.list && p ? route.list : null;
    const cloudAllowed = p ? this.#d.config.routes.cloud && p.scopes.has('cloud') : false;
    scope.hold();
    const exchange = new Exchange({
      res,
      family: route.family,
      accounting: route.accounting,
      stripInjectedUsage: acct?.injectedUsage ?? false,
      extraHeaders: extra,
      rewriteBody: list ? (b, status) => (status === 200 ? filterModelList(list, b, p!.allowlist, cloudAllowed) : b) : null,
      onError: (err) => this.#refuse(scope, res, err, route.family, cors, true),
      onFinish: (o: ExchangeOutcome) => {
        scope.bytesOut = o.bytesOut;
        if (o.firstByteAt !== null) scope.ttfbMs = o.firstByteAt - scope.start;
        if (o.clientAborted) scope.clientAborted = true;
        if (o.error) {
          scope.reason = o.error.code;
          scope.upstreamError = o.error.message;
        } else if (o.upstreamError) {
          scope.upstreamError = o.upstreamError;
        }
        if (o.tap) scope.usage = o.tap.usage(acct?.promptEstimate ?? 0);
        // The client left before Ollama answered: the prompt was being evaluated all the same, so it
        // counts (otherwise leaving early would be a way around tpm).
        else if (acct && route.accounting !== 'none' && o.clientAborted) scope.usage = { prompt: acct.promptEstimate, completion: 0, estimated: true };
        admission?.release(scope.usage);
        this.#settled(scope);
      },
    });
    this.#d.pool.dispatch({ path: upstreamPath, method: scope.method as Dispatcher.HttpMethod, headers, body }, exchange);
  }

  #preflight(scope: RequestScope, req: IncomingMessage, res: ServerResponse, path: string, origin: string): void {
    const wanted = req.headers['access-control-request-method'];
    const m = matchRoute(typeof wanted === 'string' ? wanted : 'GET', path);
    if (!m.ok) return this.#refuse(scope, res, refuse('GW_ERR_ROUTE_NOT_FOUND', 'not found'), familyForPath(path));
    scope.route = m.route;
    res.writeHead(204, { ...this.#cors.preflightHeaders(origin, undefined, undefined), 'x-request-id': scope.id, 'content-length': 0 });
    res.end();
  }

  #refuse(scope: RequestScope, res: ServerResponse, err: GatewayError, family: Family, extra?: Record<string, string> | null, upstreamFailure = false): void {
    if (!upstreamFailure) scope.decision = 'refused';
    scope.reason = err.code;
    const headers: Record<string, string> = extra ? { ...extra } : {};
    // A model the key may not use must look exactly like a model Ollama does not have, which
    // reaches the client through the proxy with its overhead header.
    if (err.code === 'GW_ERR_MODEL_NOT_FOUND') headers['x-gatehouse-overhead-ms'] = (performance.now() - scope.start).toFixed(3);
    scope.bytesOut = sendError(res, err, family, scope.id, headers);
  }

  /** Called when the response has closed and when an exchange has finished; observes once both have. */
  #settled(scope: RequestScope): void {
    if (!scope.releaseOne()) return;
    this.#d.observer.requestEnded(scope);
  }
}

/**
 * What the limiter is asked about one request. A class, not an object literal with a `get signal()`
 * closure: V8 gives every literal whose getter is a fresh closure its own hidden class, kept in old
 * space, and that old-space map kept each request's whole object graph alive through the next
 * young-generation collections (~1.4 MB promoted per scavenge at 1000 req/s, 4 ms scavenge pauses
 * instead of 1 ms, and the p99 with them).
 */
class PendingAdmission implements AdmissionRequest {
  readonly principal: ResolvedPrincipal;
  readonly models: readonly string[];
  #ac: AbortController | null = null;

  constructor(
    private readonly scope: RequestScope,
    private readonly res: ServerResponse,
    readonly route: RouteDef,
    readonly promptEstimate: number,
    readonly outputCap: number,
  ) {
    this.principal = scope.principal!;
    this.models = scope.models;
  }

  /** Created only when a request is about to wait: requests admitted at once never pay for it. */
  get signal(): AbortSignal {
    if (!this.#ac) {
      const controller = (this.#ac = new AbortController());
      if (this.res.destroyed || this.scope.clientAborted) controller.abort();
      else this.res.once('close', () => controller.abort());
    }
    return this.#ac.signal;
  }

  get aborted(): boolean {
    return this.#ac?.signal.aborted ?? false;
  }
}

/** How many times a header appears (raw list; `req.headersDistinct` would build a second object per request). */
function headerCount(raw: string[], lowerName: string): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!;
    if (k.length === lowerName.length && k.toLowerCase() === lowerName) n++;
  }
  return n;
}

function declaredLength(req: IncomingMessage): number | null {
  const v = req.headers['content-length'];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
}

/** A model the key may not use is answered exactly as a missing model (no hint that it exists). */
function notFoundModel(name: string, _family: Family = 'ollama'): GatewayError {
  return refuse('GW_ERR_MODEL_NOT_FOUND', `model '${name}' not found`);
}
