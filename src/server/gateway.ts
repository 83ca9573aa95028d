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
import type { Dialect } from '../dialects/types.js';
import type { Config } from '../config/schema.js';
import type { Admission, AdmissionRequest, Limiter } from '../limits/types.js';
import { checkJsonBody, type JsonCheck } from '../policy/check-json.js';
import { decodeRequestBody } from '../policy/json-body.js';
import { JsonScanner } from '../policy/json-scan.js';
import { canonicalDigest, type ManageRules } from '../policy/manage.js';
import { filterModelList } from '../policy/list-filter.js';
import type { ModelRef } from '../policy/model-name.js';
import { isModelRef, parseModelRef } from '../policy/model-name.js';
import { checkFormBody } from '../policy/check-form.js';
import { missingModelMessage, presetStreamHeaders } from '../policy/missing-model.js';
import { Exchange, type ExchangeOutcome } from '../proxy/exchange.js';
import { ollamaNotFound, replayAnswer, type UpstreamAnswer } from '../proxy/missing-model-answer.js';
import { upstreamRequestHeaders } from '../proxy/headers.js';
import { upstreamFailureCause } from '../proxy/upstream-errors.js';
import { dialectForPath } from '../dialects/index.js';
import { matchRoute } from '../routes/match.js';
import type { RouteDef } from '../routes/table.js';
import { compileClientAddress } from './client-address.js';
import { compileCors, type CorsPolicy } from './cors.js';
import { compileHostCheck, type HostVerdict } from './host-check.js';
import type { Observer } from '../request/observer.js';
import { readBody } from './read-body.js';
import { inviteBody } from './expect-continue.js';
import type { BlobRegistry } from './blob-registry.js';
import { UploadProof } from './upload-proof.js';
import { sendError } from './respond.js';
import { RequestScope } from '../request/scope.js';
import { limitedStream } from './limited-stream.js';
import type { Health } from './health.js';
import type { UpstreamSet } from '../proxy/upstream-set.js';
import type { RequestPolicy } from '../policy/request-policy.js';
import type { JsonCheckDeps } from '../policy/check-json.js';
import type { MetricsEndpoint } from '../metrics/endpoint.js';

export interface GatewayDeps {
  config: Config;
  clock: Clock;
  keys: KeyCache;
  ssh: SshAuthenticator | null;
  upstreams: UpstreamSet;
  limiter: Limiter;
  policy: RequestPolicy;
  observer: Observer;
  health: Health;
  log: Logger;
  /** Batches last-used times to the key store. */
  lastUsed?: LastUsed;
  /** Answers GET /metrics on this listener (metrics.listen: main); null = the route does not exist here. */
  metricsEndpoint?: MetricsEndpoint | null;
  /** Blobs uploaded through Gatehouse, per key: what a create may reference. */
  blobs: BlobRegistry;
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A request body on its way to Ollama, with the headers that describe it. */
interface Outgoing {
  /** Bytes Gatehouse rebuilt (pieces for a large one), or a blob upload passed through as it arrives. */
  body: Buffer | Buffer[] | Readable;
  length: number | null;
  /** Replaces the client's Content-Type (a rebuilt multipart form has Gatehouse's boundary); null keeps it. */
  contentType: string | null;
}

/**
 * The request path, socket to Ollama and back, in the order every request takes it:
 *   Host allowlist → CORS → exact route match → (public? forward) → authenticate → route gate,
 *   scope, endpoint list → read and inspect the body (model allowlist, clamps) → limits (admit)
 *   → forward with accounting → settle limits → audit/metrics (Observer, once per request).
 * Nothing is forwarded until every step has said yes; every refusal is answered in the route
 * dialect's error format.
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
      return this.#refuse(scope, res, refuse('GW_ERR_SHUTTING_DOWN', 'the gateway is shutting down; retry shortly', { headers: { 'retry-after': '1' } }), dialectForPath(path));
    }
    const host = this.#host(req.headers.host);
    if (!host.ok) return this.#refuse(scope, res, refuse(host.malformed ? 'GW_ERR_HOST_MALFORMED' : 'GW_ERR_HOST_REJECTED', host.reason), dialectForPath(path));

    if (this.#basePath) {
      if (path !== this.#basePath && !path.startsWith(this.#basePath + '/')) {
        return this.#refuse(scope, res, refuse('GW_ERR_ROUTE_NOT_FOUND', `not found; this gateway serves under ${this.#basePath}/`), dialectForPath(path));
      }
      path = path.slice(this.#basePath.length) || '/';
    }
    const dialect = dialectForPath(path);

    const origin = req.headers.origin;
    let corsHeaders: Record<string, string> | null = null;
    if (origin !== undefined) {
      if (!this.#cors.enabled || !this.#cors.allows(origin)) {
        return this.#refuse(scope, res, refuse('GW_ERR_ORIGIN_REJECTED', `browser origin ${JSON.stringify(origin.slice(0, 100))} is not allowed; the operator can list it in cors.origins`), dialect);
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
      return this.#refuse(scope, res, err, dialect, corsHeaders);
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
      return this.#refuse(scope, res, err, dialect, corsHeaders);
    }
    const principal = auth.principal;
    scope.principal = principal;
    this.#d.lastUsed?.note(principal.id, scope.startedAt);

    const denied = this.#routeDenied(route, principal, path);
    if (denied) return this.#refuse(scope, res, denied, dialect, corsHeaders);
    if (route.local === 'metrics') {
      // Authenticated like every protected route; answered here only with metrics.listen: main.
      if (this.#d.metricsEndpoint) return this.#d.metricsEndpoint(res, scope, corsHeaders);
      return this.#refuse(scope, res, refuse('GW_ERR_ROUTE_NOT_FOUND', 'not found: /metrics is not served on this listener (the operator can set metrics.listen: main to serve it here)'), dialect, corsHeaders);
    }

    let hidden: UpstreamAnswer | null = null;
    if (m.param !== null && route.param?.kind === 'model') {
      const ref = parseModelRef(m.param);
      if (isModelRef(ref)) scope.models = [ref.canonical];
      const err = isModelRef(ref) ? this.#modelDenied([ref], principal, route) : invalidModelParam(m.param);
      if (err?.code === 'GW_ERR_MODEL_NOT_ALLOWED') hidden = this.#hide(scope, err, route, false);
      else if (err) return this.#refuse(scope, res, err, dialect, corsHeaders);
    }

    switch (route.body) {
      case 'none':
        return this.#admitAndForward(scope, req, res, route, m.upstreamPath, null, corsHeaders, 0, null, false, hidden);
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

  /**
   * Cloud models need the cloud switch and scope; every model must be on the key's allowlist. A
   * model off the allowlist gives GW_ERR_MODEL_NOT_ALLOWED, which the caller answers as Ollama
   * answers a missing model (#hide); any other refusal takes precedence, as it would for a model
   * that really is missing.
   */
  #modelDenied(models: readonly (ModelRef & { field?: string })[], p: ResolvedPrincipal, route: RouteDef): GatewayError | null {
    let hidden: GatewayError | null = null;
    for (const m of models) {
      if (m.cloud) {
        if (!this.#d.config.routes.cloud) return refuse('GW_ERR_ROUTE_DISABLED', 'Ollama cloud models are disabled on this gateway (they spend the server owner\'s ollama.com account); the operator can enable them with routes.cloud: true');
        if (!p.scopes.has('cloud')) return refuse('GW_ERR_SCOPE_MISSING', `this key ("${p.name}") lacks the "cloud" scope needed for cloud models`);
      }
      if (!hidden && !p.allowlist.allows(m.canonical)) hidden = modelNotAllowed(route, m.raw, m.field ?? null);
    }
    return hidden;
  }

  /**
   * A model the key may not use: recorded as refused (GW_ERR_MODEL_NOT_ALLOWED, for operators),
   * then, once the request has passed every check and the limiter as a real one would, answered
   * with Ollama's own 404 for a missing model, through the proxy path (#forward). So status,
   * headers, body and limit accounting are those of a model that does not exist.
   */
  #hide(scope: RequestScope, err: GatewayError, route: RouteDef, stream: boolean): UpstreamAnswer {
    scope.decision = 'refused';
    scope.reason = err.code;
    return ollamaNotFound(route.dialect, err.message, presetStreamHeaders(route, stream));
  }

  #withBody(scope: RequestScope, req: IncomingMessage, res: ServerResponse, route: RouteDef, upstreamPath: string, cors: Record<string, string> | null): void {
    const limits = this.#d.config.body_limits;
    const max = limits.routes[route.id] ?? (route.body === 'multipart' ? limits.multipart : limits.json);
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
      // Gatehouse reads every body before forwarding it; it does not inflate them (and Ollama would
      // inflate a zstd body on /v1/responses after Gatehouse had checked the compressed bytes).
      return this.#refuse(scope, res, refuse('GW_ERR_BODY_ENCODING', `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not accepted; send the request body uncompressed`), route.dialect, cors);
    }
    inviteBody(req, res, max); // Expect: 100-continue: only now, authenticated and authorized
    const scanner = route.body === 'json' ? new JsonScanner() : null;
    const progress = scanner
      ? (buf: Buffer, n: number): GatewayError | null => (scanner.run(buf, n) ? null : refuse(scanner.problem!.code, scanner.problem!.message))
      : null;
    readBody(req, max, this.#d.config.timeouts.client_body, (body) => {
      if (body instanceof GatewayError) return this.#refuse(scope, res, body, route.dialect, cors);
      scope.bytesIn = body.length;
      if (body.length === 0) return this.#refuse(scope, res, refuse('GW_ERR_BODY_MISSING', 'missing request body'), route.dialect, cors);
      if (scanner) this.#json(scope, req, res, route, upstreamPath, cors, body, scanner);
      else this.#multipart(scope, req, res, route, upstreamPath, cors, body);
    }, progress);
  }

  #json(scope: RequestScope, req: IncomingMessage, res: ServerResponse, route: RouteDef, upstreamPath: string, cors: Record<string, string> | null, bytes: Buffer, scanner: JsonScanner): void {
    const p = scope.principal!;
    const scanned = scanner.finish(bytes, bytes.length);
    const body = 'code' in scanned ? scanned : decodeRequestBody(bytes, scanned);
    if ('code' in body) return this.#refuse(scope, res, refuse(body.code, body.message), route.dialect, cors);
    const checked = checkJsonBody(route, body, p, this.#jsonDeps(route, p));
    // Recorded before the allowlist check: the audit trail shows which model a refused request wanted.
    scope.models = checked.models.map((m) => m.canonical);
    if (!checked.ok) return this.#refuse(scope, res, checked.error, route.dialect, cors);
    if (checked.notAllowed) {
      // A model off the key's allowlist: the request goes on through the limiter like any other,
      // and is answered as Ollama answers for a model it does not have (nothing is forwarded).
      scope.stream = checked.stream;
      const hidden = this.#hide(scope, checked.notAllowed, route, checked.stream);
      return this.#admitAndForward(scope, req, res, route, upstreamPath, null, cors, checked.reserveTokens, checked.promptEstimate, checked.injectedUsage, hidden);
    }
    // A create may reference only blobs its key uploaded through Gatehouse (a store lookup, so
    // async; null for every other request, which stays synchronous).
    const blobs = this.#d.blobs.checkCreate(route, body.fields, p);
    if (blobs) return void blobs.then((err) => (err ? this.#refuse(scope, res, err, route.dialect, cors) : this.#forwardJson(scope, req, res, route, upstreamPath, cors, checked)));
    this.#forwardJson(scope, req, res, route, upstreamPath, cors, checked);
  }

  #forwardJson(scope: RequestScope, req: IncomingMessage, res: ServerResponse, route: RouteDef, upstreamPath: string, cors: Record<string, string> | null, checked: Extract<JsonCheck, { ok: true }>): void {
    scope.stream = checked.stream;
    // Forward the body as Gatehouse read it: the fields it checked written out by Gatehouse, the rest
    // the client's bytes unchanged (policy/json-body.ts).
    const out = checked.forward.length === 1 ? checked.forward[0]! : checked.forwardLength <= 64 * 1024 ? Buffer.concat(checked.forward, checked.forwardLength) : checked.forward;
    this.#admitAndForward(scope, req, res, route, upstreamPath, { body: out, length: checked.forwardLength, contentType: 'application/json' }, cors, checked.reserveTokens, checked.promptEstimate, checked.injectedUsage);
  }

  #jsonDeps(route: RouteDef, p: ResolvedPrincipal): JsonCheckDeps {
    return { policy: this.#d.policy, manage: this.#manage, modelDenied: (models) => this.#modelDenied(models, p, route) };
  }

  #multipart(scope: RequestScope, req: IncomingMessage, res: ServerResponse, route: RouteDef, upstreamPath: string, cors: Record<string, string> | null, body: Buffer): void {
    const p = scope.principal!;
    const checked = checkFormBody(req.headers['content-type'], body, (models) => this.#modelDenied(models, p, route));
    scope.models = checked.models.map((m) => m.canonical);
    if (!checked.ok) return this.#refuse(scope, res, checked.error, route.dialect, cors);
    const hidden = checked.notAllowed ? this.#hide(scope, checked.notAllowed, route, false) : null;
    // Ollama receives the form Gatehouse read, rewritten under its own boundary (policy/multipart.ts).
    this.#admitAndForward(scope, req, res, route, upstreamPath, hidden ? null : { body: checked.forward, length: checked.forwardLength, contentType: checked.contentType }, cors, 0, null, false, hidden);
  }

  /** Blob uploads: streamed to Ollama with a byte cap, never buffered. */
  #forwardRaw(scope: RequestScope, req: IncomingMessage, res: ServerResponse, route: RouteDef, upstreamPath: string, cors: Record<string, string> | null): void {
    const max = this.#d.config.body_limits.blob;
    const declared = req.headers['content-length'];
    if (declared !== undefined && !(Number(declared) <= max)) {
      return this.#refuse(scope, res, refuse('GW_ERR_BODY_TOO_LARGE', `upload is larger than body_limits.blob (${max} bytes)`), route.dialect, cors);
    }
    inviteBody(req, res); // Expect: 100-continue: only now, authenticated and authorized
    // Hashed as it arrives: only an upload whose bytes match its digest is recorded (blob-registry.ts).
    UploadProof.attach(req, canonicalDigest(upstreamPath.slice(upstreamPath.lastIndexOf('/') + 1)), max, this.#d.config.timeouts.client_body);
    const body = limitedStream(req, max, this.#d.config.timeouts.client_body, (n: number) => (scope.bytesIn = n));
    this.#admitAndForward(scope, req, res, route, upstreamPath, { body, length: declaredLength(req), contentType: null }, cors, 0, null, false);
  }

  /**
   * Asks the limiter, then forwards. The common answer is immediate (memory backend, nothing
   * full), so that path stays synchronous; the abort signal a queued request needs is only
   * created if the limiter actually asks for it.
   */
  #admitAndForward(
    scope: RequestScope, req: IncomingMessage, res: ServerResponse, route: RouteDef, upstreamPath: string,
    body: Outgoing | null, cors: Record<string, string> | null, reserveTokens: number, promptEstimate: number | null, injectedUsage: boolean,
    hidden: UpstreamAnswer | null = null,
  ): void {
    // The limiter reserves the prompt estimate plus the output it expects, at most this cap.
    const request = new PendingAdmission(scope, res, route, promptEstimate ?? 0, Math.max(0, reserveTokens - (promptEstimate ?? 0)));
    const refused = (err: unknown): void => {
      if (request.aborted || res.destroyed) return;
      const e = err instanceof GatewayError ? err : refuse('GW_ERR_LIMITS_UNAVAILABLE', 'the gateway cannot check limits right now; try again shortly', { cause: err });
      this.#refuse(scope, res, e, route.dialect, cors);
    };
    const admitted = (admission: Admission): void => {
      if (res.destroyed || request.aborted) {
        admission.release(null);
        scope.clientAborted = true;
        return;
      }
      this.#forward(scope, req, res, route, upstreamPath, body, admission, cors, { promptEstimate: promptEstimate ?? 0, injectedUsage }, hidden);
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
    body: Outgoing | null, admission: Admission | null, cors: Record<string, string> | null,
    acct: { promptEstimate: number; injectedUsage: boolean } | null, hidden: UpstreamAnswer | null = null,
  ): void {
    const p = scope.principal;
    const upstream = this.#d.upstreams.pick(scope);
    const headers = upstreamRequestHeaders(req.headers, upstream.host, scope.id, body ? body.length : null, body ? body.contentType : null);
    if (!hidden) scope.upstream = upstream.url;
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
      dialect: route.dialect,
      accounting: route.accounting,
      stripInjectedUsage: acct?.injectedUsage ?? false,
      extraHeaders: extra,
      rewriteBody: list ? (b, status) => (status === 200 ? filterModelList(list, b, p!.allowlist, cloudAllowed) : b) : null,
      holdResponse: route.id === 'blobs.upload' && p ? this.#d.blobs.holdUpload(UploadProof.of(req), p) : null,
      onError: (err) => this.#refuse(scope, res, err, route.dialect, cors, true),
      onFinish: (o: ExchangeOutcome) => {
        // += : an upstream failure before the headers was answered by #refuse, which counted its body.
        scope.bytesOut += o.bytesOut;
        if (o.firstByteAt !== null) scope.ttfbMs = o.firstByteAt - scope.start;
        if (o.clientAborted) scope.clientAborted = true;
        if (o.error) {
          scope.reason = o.error.code;
          // The cause (ECONNREFUSED, a timeout) goes to the log and audit; the client got o.error.message.
          scope.upstreamError = upstreamFailureCause(o.error);
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
    // A model off the key's allowlist never reaches Ollama: Ollama's answer for a missing one is played instead.
    if (hidden) return replayAnswer(exchange, hidden);
    // undici writes any iterable of chunks (client-h1 writeIterable); its typings list only streams.
    const payload = (body ? body.body : null) as Dispatcher.DispatchOptions['body'];
    upstream.dispatcher.dispatch({ path: upstreamPath, method: (route.upstreamMethod ?? scope.method) as Dispatcher.HttpMethod, headers, body: payload }, exchange);
  }

  #preflight(scope: RequestScope, req: IncomingMessage, res: ServerResponse, path: string, origin: string): void {
    const wanted = req.headers['access-control-request-method'];
    const m = matchRoute(typeof wanted === 'string' ? wanted : 'GET', path);
    if (!m.ok) return this.#refuse(scope, res, refuse('GW_ERR_ROUTE_NOT_FOUND', 'not found'), dialectForPath(path));
    scope.route = m.route;
    res.writeHead(204, { ...this.#cors.preflightHeaders(origin, undefined, undefined), 'x-request-id': scope.id, 'content-length': 0 });
    res.end();
  }

  #refuse(scope: RequestScope, res: ServerResponse, err: GatewayError, dialect: Dialect, extra?: Record<string, string> | null, upstreamFailure = false): void {
    if (!upstreamFailure) scope.decision = 'refused';
    scope.reason = err.code;
    const headers: Record<string, string> = extra ? { ...extra } : {};
    // A model the key may not use must look exactly like a model Ollama does not have, which
    // reaches the client through the proxy with its overhead header.
    if (err.code === 'GW_ERR_MODEL_NOT_FOUND') headers['x-gatehouse-overhead-ms'] = (performance.now() - scope.start).toFixed(3);
    scope.bytesOut = sendError(res, err, dialect, scope.id, headers);
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

/** A model the key may not use, with the text Ollama gives that route for a model it does not have. */
function modelNotAllowed(route: RouteDef, raw: string, field: string | null): GatewayError {
  return refuse('GW_ERR_MODEL_NOT_ALLOWED', missingModelMessage(route, raw, field));
}

/** A path parameter that is no model name at all (nothing to hide: no such model can exist). */
function invalidModelParam(name: string): GatewayError {
  return refuse('GW_ERR_MODEL_NOT_FOUND', `model '${name}' not found`);
}
