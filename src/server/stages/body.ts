import { GatewayError, refuse } from '../../core/errors.js';
import { checkFormBody } from '../../policy/check-form.js';
import { checkJsonBody, type JsonCheck, type JsonCheckDeps } from '../../policy/check-json.js';
import { decodeRequestBody } from '../../policy/json-body.js';
import { JsonScanner } from '../../policy/json-scan.js';
import { canonicalDigest } from '../../policy/manage.js';
import type { Call } from '../../request/call.js';
import type { RouteDef } from '../../routes/table.js';
import { inviteBody } from '../expect-continue.js';
import { limitedStream } from '../limited-stream.js';
import { readBody } from '../read-body.js';
import { UploadProof } from '../upload-proof.js';
import type { GatewayContext } from './context.js';
import { hide, modelDenied } from './model-access.js';
import { sendRefusal } from './refusal.js';
import { CONTINUE, resume, SUSPENDED, type StageResult } from './stage.js';

/**
 * The request body, read only now that the request is authenticated and authorized: bodiless
 * routes go on at once; blob uploads stream through with a byte cap; JSON and multipart bodies are
 * read whole (the only asynchronous step most requests take), checked, and rebuilt for Ollama.
 */
export function body(call: Call, gw: GatewayContext): StageResult {
  // A forward-auth check describes a request; its body goes from the proxy to Ollama, unseen here.
  if (call.verifying) return CONTINUE;
  const route = call.route!;
  switch (route.body) {
    case 'none':
      return CONTINUE;
    case 'raw':
      return rawBody(call, gw);
    case 'json':
    case 'multipart':
      return readWhole(call, gw, route);
  }
}

/** Blob uploads: streamed to Ollama with a byte cap, never buffered. */
function rawBody(call: Call, gw: GatewayContext): StageResult {
  const req = call.req;
  const max = gw.config.body_limits.blob;
  const declared = req.headers['content-length'];
  if (declared !== undefined && !(Number(declared) <= max)) {
    return refuse('GW_ERR_BODY_TOO_LARGE', `upload is larger than body_limits.blob (${max} bytes)`);
  }
  inviteBody(req, call.res); // Expect: 100-continue: only now, authenticated and authorized
  // Hashed as it arrives: only an upload whose bytes match its digest is recorded (blob-registry.ts).
  const upstreamPath = call.upstreamPath;
  UploadProof.attach(req, canonicalDigest(upstreamPath.slice(upstreamPath.lastIndexOf('/') + 1)), max, gw.config.timeouts.client_body);
  const scope = call.scope;
  const stream = limitedStream(req, max, gw.config.timeouts.client_body, (n: number) => (scope.bytesIn = n));
  call.outgoing = { body: stream, length: declaredLength(call), contentType: null };
  return CONTINUE;
}

function readWhole(call: Call, gw: GatewayContext, route: RouteDef): StageResult {
  const req = call.req;
  const limits = gw.config.body_limits;
  const max = limits.routes[route.id] ?? (route.body === 'multipart' ? limits.multipart : limits.json);
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    // Gatehouse reads every body before forwarding it; it does not inflate them (and Ollama would
    // inflate a zstd body on /v1/responses after Gatehouse had checked the compressed bytes).
    return refuse('GW_ERR_BODY_ENCODING', `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not accepted; send the request body uncompressed`);
  }
  inviteBody(req, call.res, max); // Expect: 100-continue: only now, authenticated and authorized
  const scanner = route.body === 'json' ? new JsonScanner() : null;
  const progress = scanner
    ? (buf: Buffer, n: number): GatewayError | null => (scanner.run(buf, n) ? null : refuse(scanner.problem!.code, scanner.problem!.message))
    : null;
  readBody(req, max, gw.config.timeouts.client_body, (bytes) => {
    if (bytes instanceof GatewayError) return sendRefusal(call, bytes);
    call.scope.bytesIn = bytes.length;
    if (bytes.length === 0) return sendRefusal(call, refuse('GW_ERR_BODY_MISSING', 'missing request body'));
    const r = scanner ? json(call, gw, route, bytes, scanner) : multipart(call, gw, route, bytes);
    if (r === CONTINUE) resume(call, gw);
    else if (r !== SUSPENDED) sendRefusal(call, r);
  }, progress);
  return SUSPENDED;
}

function json(call: Call, gw: GatewayContext, route: RouteDef, bytes: Buffer, scanner: JsonScanner): StageResult {
  const p = call.principal!;
  const scope = call.scope;
  const scanned = scanner.finish(bytes, bytes.length);
  const body = 'code' in scanned ? scanned : decodeRequestBody(bytes, scanned);
  if ('code' in body) return refuse(body.code, body.message);
  const checked = checkJsonBody(route, body, p, jsonDeps(gw, route, call));
  // Recorded before the allowlist check: the audit trail shows which model a refused request wanted.
  scope.models = checked.models.map((m) => m.canonical);
  call.modelRefs = checked.models;
  if (!checked.ok) return checked.error;
  call.unload = checked.unload;
  call.reserveTokens = checked.reserveTokens;
  call.promptEstimate = checked.promptEstimate;
  call.injectedUsage = checked.injectedUsage;
  if (checked.notAllowed) {
    // A model off the key's allowlist: the request goes on through the limiter like any other,
    // and is answered as Ollama answers for a model it does not have (nothing is forwarded).
    scope.stream = checked.stream;
    call.hidden = hide(call, checked.notAllowed, route, checked.stream);
    return CONTINUE;
  }
  // A create may reference only blobs its key uploaded through Gatehouse (a store lookup, so
  // async; null for every other request, which stays synchronous).
  const blobs = gw.blobs.checkCreate(route, body.fields, p);
  if (blobs) {
    void blobs.then((err) => {
      if (err) return sendRefusal(call, err);
      forwardJson(call, checked);
      resume(call, gw);
    });
    return SUSPENDED;
  }
  forwardJson(call, checked);
  return CONTINUE;
}

function forwardJson(call: Call, checked: Extract<JsonCheck, { ok: true }>): void {
  call.scope.stream = checked.stream;
  // Forward the body as Gatehouse read it: the fields it checked written out by Gatehouse, the rest
  // the client's bytes unchanged (policy/json-body.ts).
  const out = checked.forward.length === 1 ? checked.forward[0]! : checked.forwardLength <= 64 * 1024 ? Buffer.concat(checked.forward, checked.forwardLength) : checked.forward;
  call.outgoing = { body: out, length: checked.forwardLength, contentType: 'application/json' };
}

function jsonDeps(gw: GatewayContext, route: RouteDef, call: Call): JsonCheckDeps {
  const p = call.principal!;
  return { policy: gw.policy, manage: gw.manage, modelDenied: (models) => modelDenied(models, p, route, gw.config) };
}

function multipart(call: Call, gw: GatewayContext, route: RouteDef, bytes: Buffer): StageResult {
  const p = call.principal!;
  const checked = checkFormBody(call.req.headers['content-type'], bytes, (models) => modelDenied(models, p, route, gw.config));
  call.scope.models = checked.models.map((m) => m.canonical);
  call.modelRefs = checked.models;
  if (!checked.ok) return checked.error;
  if (checked.notAllowed) call.hidden = hide(call, checked.notAllowed, route, false);
  // Ollama receives the form Gatehouse read, rewritten under its own boundary (policy/multipart.ts).
  else call.outgoing = { body: checked.forward, length: checked.forwardLength, contentType: checked.contentType };
  return CONTINUE;
}

function declaredLength(call: Call): number | null {
  const v = call.req.headers['content-length'];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
}
