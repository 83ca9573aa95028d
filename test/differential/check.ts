import { principalFromRecord, type ResolvedPrincipal } from '../../src/auth/principal.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { refuse, type GatewayError } from '../../src/core/errors.js';
import type { Scope } from '../../src/core/types.js';
import { checkFormBody } from '../../src/policy/check-form.js';
import { checkJsonBody } from '../../src/policy/check-json.js';
import { decodeRequestBody, type RequestBody } from '../../src/policy/json-body.js';
import { JsonScanner } from '../../src/policy/json-scan.js';
import type { ModelRef } from '../../src/policy/model-name.js';
import { RequestPolicy } from '../../src/policy/request-policy.js';
import { ROUTES, type RouteDef } from '../../src/routes/table.js';
import type { GoAccepted } from './go-reader.js';
import type { GeneratedCase } from './generate.js';

/**
 * Gatehouse's side of the differential test: the same body stage the request path runs
 * (policy/check-json.ts, check-form.ts), for a key allowed `llama3.2*`, and the rules that compare
 * its decision with what Go reads from the bytes it forwards. Kept apart from the test files so the
 * end-to-end variant can judge a real gateway's output by the same rules.
 */

export const CONFIG = ConfigSchema.parse({ routes: { manage: true, cloud: true } });
export const CLAMPS = CONFIG.clamps;
export const ALLOW = 'llama3.2*';

const policy = new RequestPolicy(CLAMPS);
const manage = { registries: CONFIG.manage.registries, remoteHosts: CONFIG.manage.remote_hosts };

/** The key a case is sent with: every scope but models:manage, or models:manage for management routes. */
export function principalFor(route: RouteDef): ResolvedPrincipal {
  const scopes: Scope[] = route.scope === 'models:manage' ? ['models:manage', 'models:read'] : ['inference', 'models:read', 'cloud'];
  return principalFromRecord({
    id: 'key_diff', name: 'diff', kind: 'api_key', hash: 'h', hint: null, fingerprint: null, publicKey: null, scopes, models: [ALLOW],
    limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, policyId: null, createdAt: 0, expiresAt: null, revokedAt: null, lastUsedAt: null, updatedAt: 0, version: 1,
  });
}

/** The gateway's model rule (server/stages/model-access.ts modelDenied) with cloud routes on. */
function modelDenied(models: readonly ModelRef[], p: ResolvedPrincipal): GatewayError | null {
  for (const m of models) {
    if (m.cloud && !p.scopes.has('cloud')) return refuse('GW_ERR_SCOPE_MISSING', 'cloud');
    if (!p.allowlist.allows(m.canonical)) return refuse('GW_ERR_MODEL_NOT_ALLOWED', `model '${m.raw}' not found`);
  }
  return null;
}

export type Decision =
  | { refused: GatewayError }
  | {
      refused: null;
      route: RouteDef;
      /** Field → the model name as authorized. */
      models: Map<string, string>;
      stream: boolean;
      maxOutput: number;
      /** What Gatehouse counted, for the clamps. */
      images: number;
      embedInputs: number;
      manageScope: boolean;
      forward: Buffer;
      contentType: string;
      body: RequestBody | null;
    };

export function routeOf(id: string): RouteDef {
  const r = ROUTES.find((x) => x.id === id);
  if (!r) throw new Error(`no route ${id}`);
  return r;
}

/** What Gatehouse decides about a case, and the bytes it would forward. */
export function gatehouse(c: GeneratedCase): Decision {
  const route = routeOf(c.routeId);
  const p = principalFor(route);
  if (c.body.length === 0) return { refused: refuse('GW_ERR_BODY_MISSING', 'missing request body') };
  if (route.body === 'multipart') {
    const f = checkFormBody(c.contentType, c.body, (m) => modelDenied(m, p));
    if (!f.ok) return { refused: f.error };
    // Answered as a missing model; nothing is forwarded.
    if (f.notAllowed) return { refused: f.notAllowed };
    return {
      refused: null, route, models: new Map([['model', f.models[0]!.raw]]), stream: false, maxOutput: 0, images: 0, embedInputs: 0,
      manageScope: false, forward: Buffer.concat(f.forward), contentType: f.contentType, body: null,
    };
  }
  const scanner = new JsonScanner();
  // Fed in uneven chunks, as a socket would deliver it.
  for (let n = 7; n < c.body.length; n += 4093) if (!scanner.run(c.body, n)) return { refused: refuse(scanner.problem!.code, scanner.problem!.message) };
  const scanned = scanner.finish(c.body, c.body.length);
  if ('code' in scanned) return { refused: refuse(scanned.code, scanned.message) };
  const body = decodeRequestBody(c.body, scanned);
  if ('code' in body) return { refused: refuse(body.code, body.message) };
  const j = checkJsonBody(route, body, p, { policy, manage, modelDenied: (m) => modelDenied(m, p) });
  if (!j.ok) return { refused: j.error };
  if (j.notAllowed) return { refused: j.notAllowed };
  return {
    refused: null, route, models: new Map(j.models.map((m) => [m.field, m.raw])), stream: j.stream, maxOutput: j.maxOutput,
    images: body.scan.images, embedInputs: body.kind('input') === 'array' ? body.scan.inputItems : 1,
    manageScope: p.scopes.has('models:manage'), forward: Buffer.concat(j.forward), contentType: 'application/json', body,
  };
}

const DIGEST = /^sha256[:-][0-9a-fA-F]{64}$/;

/**
 * Where what Go read from the forwarded bytes differs from what Gatehouse authorized, clamped or
 * accounted: one line per difference, empty when they agree.
 */
export function disagreements(d: Exclude<Decision, { refused: GatewayError }>, r: GoAccepted): string[] {
  const out: string[] = [];
  const route = d.route;
  for (const [field, v] of Object.entries(r.models ?? {})) {
    const authorized = d.models.get(field);
    if (v === '' ? authorized !== undefined : authorized !== v) out.push(`Go reads ${field}=${JSON.stringify(v)}, Gatehouse authorized ${JSON.stringify(authorized ?? '')}`);
  }
  if (r.cloudPassthrough && r.cloudPassthrough !== d.models.get('model')) out.push(`the cloud passthrough reads model=${JSON.stringify(r.cloudPassthrough)}, Gatehouse authorized ${JSON.stringify(d.models.get('model'))}`);
  if (r.stream !== undefined) {
    const goStreams = route.streamsByDefault ? r.stream !== false : r.stream === true;
    if (goStreams !== d.stream) out.push(`Go streams=${goStreams}, Gatehouse accounted stream=${d.stream}`);
  }
  if (d.stream && (route.id === 'openai.chat' || route.id === 'openai.completions') && r.includeUsage !== true) out.push(`a streamed OpenAI request without include_usage reaches Ollama (Go reads ${r.includeUsage})`);
  if (r.outputCap) {
    const v = BigInt(r.outputCap.value);
    if (!r.outputCap.set || v < 1n || v > BigInt(CLAMPS.max_num_predict)) out.push(`Ollama's output limit is ${r.outputCap.set ? r.outputCap.value : 'unset'} (unbounded unless 1..${CLAMPS.max_num_predict})`);
    else if (Number(v) !== d.maxOutput) out.push(`Ollama's output limit is ${v}, Gatehouse reserved for ${d.maxOutput}`);
  }
  if (r.numCtx?.set && BigInt(r.numCtx.value) > BigInt(CLAMPS.max_num_ctx)) out.push(`num_ctx ${r.numCtx.value} passes the ${CLAMPS.max_num_ctx} clamp`);
  if (r.runnerOptions?.length) out.push(`runner options reach Ollama: ${r.runnerOptions.join(', ')}`);
  if (r.keepAlive?.set) {
    const ns = BigInt(r.keepAlive.ns);
    if (ns < 0n || ns > BigInt(CLAMPS.max_keep_alive) * 1_000_000n) out.push(`keep_alive ${ns} ns passes the ${CLAMPS.max_keep_alive} ms clamp`);
    if (ns === 0n && !d.manageScope) out.push('keep_alive 0 (unload) reaches Ollama from a key without models:manage');
  }
  if (r.images !== undefined) {
    if (r.images > CLAMPS.max_images) out.push(`${r.images} images pass the ${CLAMPS.max_images} clamp`);
    if (r.images > d.images) out.push(`Go hands the model ${r.images} images, Gatehouse counted ${d.images}`);
  }
  if (r.embedInputs !== undefined) {
    if (r.embedInputs > CLAMPS.max_embed_inputs) out.push(`${r.embedInputs} embedding inputs pass the ${CLAMPS.max_embed_inputs} clamp`);
    if (r.embedInputs > d.embedInputs) out.push(`Go embeds ${r.embedInputs} inputs, Gatehouse counted ${d.embedInputs}`);
  }
  for (const [what, map] of [['files', r.files], ['adapters', r.adapters], ['draft_files', r.draftFiles]] as const) {
    for (const [name, digest] of Object.entries(map ?? {})) {
      if (!DIGEST.test(digest) || name === '' || /[/\\]/.test(name) || name === '.' || name === '..') out.push(`${what}[${JSON.stringify(name)}] = ${JSON.stringify(digest)} reaches Ollama`);
    }
  }
  if (r.insecure) out.push('insecure: true reaches Ollama');
  if (r.remoteHost) out.push(`remote_host ${JSON.stringify(r.remoteHost)} reaches Ollama (none is allowed)`);
  if (route.body === 'multipart') {
    const want = d.models.get('model');
    if (JSON.stringify(r.modelValues) !== JSON.stringify([want])) out.push(`Go reads model values ${JSON.stringify(r.modelValues)}, Gatehouse authorized ${JSON.stringify(want)}`);
  }
  return out;
}
