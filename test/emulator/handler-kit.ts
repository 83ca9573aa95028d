// Steps every model handler repeats: bind the body like gin's ShouldBindJSON, resolve the model
// name like the server does, and pace a non-streamed generation so it takes as long as a streamed
// one and still stops when the client leaves.
import { chunkDelay, sleep, type Ctx } from './context.js';
import { decodeStruct, GoTypeError, type Spec } from './go-decode.js';
import { JsonEmptyError, JsonSyntaxError, parseFirstJsonValue } from './go-json.js';
import { displayName, parseModelName, parseModelRef } from './model-names.js';
import type { KeepAlive } from './options.js';
import { sendError, sendHandlerError } from './reply.js';
import { MAX_QUEUE_ERROR, RESIDENT_LOAD_NS } from './scheduler.js';
import type { InstalledModel } from './state.js';

/** Decodes the body into `spec`, or answers 400 and returns undefined. */
export function bindJson<T>(ctx: Ctx, spec: Spec): T | undefined {
  try {
    return decodeStruct<T>(spec, parseFirstJsonValue(ctx.body.toString('utf8')));
  } catch (err) {
    if (err instanceof JsonEmptyError) {
      // Native handlers special-case io.EOF; the /v1 middlewares pass the raw "EOF" through.
      sendError(ctx, 400, ctx.family === 'native' ? 'missing request body' : 'EOF');
      return undefined;
    }
    if (err instanceof JsonSyntaxError || err instanceof GoTypeError) {
      sendError(ctx, 400, err.message);
      return undefined;
    }
    throw err;
  }
}

export const CLOUD_DISABLED = 'ollama cloud is disabled: remote models are not available on this server (OLLAMA_NO_CLOUD=1)';

/**
 * What each handler says about a model it does not have (server/routes.go), given the name as
 * sent and as the handler resolved it:
 *   GenerateHandler, ChatHandler, DeleteHandler   model '<as sent>' not found
 *   EmbedHandler, EmbeddingsHandler               model "<as sent>" not found, try pulling it first
 *       (getModel fails with os.ErrNotExist and handleScheduleError answers; %q quoting)
 *   ShowHandler                                   model '<resolved, shortest form>' not found
 *       (getExistingName, then DisplayShortest: `x` reads `x:latest`)
 */
export type NotFoundText = (raw: string, resolved: string) => string;
export const NOT_FOUND: NotFoundText = (raw) => `model '${raw}' not found`;
export const NOT_FOUND_PULL_FIRST: NotFoundText = (raw) => `model ${JSON.stringify(raw)} not found, try pulling it first`;
export const NOT_FOUND_SHOW: NotFoundText = (_raw, resolved) => `model '${resolved}' not found`;

/**
 * Resolves a requested model to an installed one, or answers the error and returns undefined:
 * 400 "model is required" when empty, 400 for a cloud+local ref, 403 for cloud refs (cloud is
 * disabled), 404 with the handler's not-found text otherwise. These are the handler's answers,
 * so on /v1 routes they pass through the middleware's writeError (`sendHandlerError`).
 * `exactCase`: EmbeddingsHandler skips getExistingName, so only the exact spelling is found.
 */
export function resolveModel(ctx: Ctx, raw: string | undefined, notFound: NotFoundText = NOT_FOUND, exactCase = false): InstalledModel | undefined {
  if (!raw) {
    sendHandlerError(ctx, 400, 'model is required');
    return undefined;
  }
  const ref = parseModelRef(raw);
  if (ref.kind === 'invalid') {
    sendHandlerError(ctx, 400, ref.error);
    return undefined;
  }
  if (ref.kind === 'cloud') {
    sendHandlerError(ctx, 403, CLOUD_DISABLED);
    return undefined;
  }
  const model = exactCase ? ctx.state.findModelExact(ref.name) : ctx.state.findModel(ref.name);
  if (!model) {
    // Every route but ShowHandler's (show, /v1/models/:model) would have run the model.
    if (notFound !== NOT_FOUND_SHOW) ctx.state.countNotFound();
    sendHandlerError(ctx, 404, notFound(raw, displayName(ctx.state.existingName(parseModelName(ref.name)))));
    return undefined;
  }
  return model;
}

const DEFAULT_KEEP_ALIVE: KeepAlive = { kind: 'default' };

/**
 * Takes a slot on the model for the rest of this request (released when the response closes,
 * normally or because the client left), and marks it loaded for /api/ps. Resolves with the load
 * time this request waited for (ns, for load_duration), or undefined when it must stop: the
 * queue was full (503 answered, as Ollama's handleScheduleError does) or the client left.
 * Without fleet mode a slot is always free at once and the model is resident.
 */
export async function occupyModel(ctx: Ctx, model: InstalledModel, keepAlive: KeepAlive = DEFAULT_KEEP_ALIVE): Promise<{ loadNs: number } | undefined> {
  const { state } = ctx;
  if (!state.fleet) {
    state.markLoaded(model);
    if (!ctx.signal.aborted) {
      state.modelStarted();
      ctx.signal.addEventListener('abort', () => state.modelEnded(), { once: true });
    }
    return { loadNs: RESIDENT_LOAD_NS };
  }
  const keepAliveMs = keepAlive.kind === 'unload' ? 0 : keepAlive.kind === 'duration' ? keepAlive.ns / 1e6 : undefined;
  const got = await state.fleet.acquire(model.display, keepAliveMs, ctx.signal);
  if (got === 'busy') {
    sendHandlerError(ctx, 503, MAX_QUEUE_ERROR);
    return undefined;
  }
  if (got === 'gone') return undefined;
  state.modelStarted();
  const release = (): void => {
    state.modelEnded();
    got.release();
  };
  if (ctx.signal.aborted) {
    release();
    return undefined;
  }
  ctx.signal.addEventListener('abort', release, { once: true });
  return { loadNs: got.loadNs };
}

/** Checks a capability ("completion", "embedding"), answering 400 like Ollama when missing. */
export function requireCapability(ctx: Ctx, model: InstalledModel, capability: string, verb: string): boolean {
  if (model.capabilities.includes(capability)) return true;
  sendHandlerError(ctx, 400, `"${model.display}" does not support ${verb}`);
  return false;
}

/** Spends the time `n` tokens take to generate; false when the client left meanwhile. */
export async function generateSilently(ctx: Ctx, n: number): Promise<boolean> {
  for (let i = 1; i < n; i++) {
    if (!(await sleep(chunkDelay(ctx), ctx.signal))) return false;
  }
  return !ctx.signal.aborted;
}

/** Text of an OpenAI/Anthropic content value: a string or an array of `{type:"text",text}` parts. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => (typeof p === 'object' && p !== null && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
      .filter((t) => t.length > 0)
      .join('\n');
  }
  return '';
}
