// POST /api/generate and POST /api/chat (doc §1.2): NDJSON by default, one object per token, a
// final `done:true` object carrying done_reason and api.Metrics (generate adds `context`);
// `"stream": false` gives one JSON object with the accumulated text. An empty prompt / message
// list only loads the model (`done_reason:"load"`), or unloads it with keep_alive 0.
import type { Ctx } from '../context.js';
import { ChunkStream, ndjsonLine } from '../chunk-stream.js';
import { contextIds, metrics, nowIso, planGeneration, type GenerationPlan } from '../generation.js';
import { bindJson, generateSilently, occupyModel, requireCapability, resolveModel } from '../handler-kit.js';
import { numPredict, parseKeepAlive, validateOptions, type KeepAlive } from '../options.js';
import { sendError, sendJson } from '../reply.js';
import { ChatRequest, GenerateRequest, type ChatBody, type GenerateBody } from '../request-schemas.js';
import type { InstalledModel } from '../state.js';

interface Common {
  model?: string;
  stream?: boolean;
  keep_alive?: unknown;
  options?: Record<string, unknown>;
  top_logprobs?: number;
}

/** Checks shared by generate and chat; answers and returns undefined on failure. */
function prepare(ctx: Ctx, body: Common, verb: string): { model: InstalledModel; keepAlive: KeepAlive } | undefined {
  const model = resolveModel(ctx, body.model);
  if (!model) return undefined;
  if (!requireCapability(ctx, model, 'completion', verb)) return undefined;
  const optErr = validateOptions(body.options);
  if (optErr) return void sendError(ctx, 400, optErr);
  const top = body.top_logprobs ?? 0;
  if (top < 0 || top > 20) return void sendError(ctx, 400, 'top_logprobs must be between 0 and 20');
  const keepAlive = parseKeepAlive(body.keep_alive);
  if (keepAlive.kind === 'error') return void sendError(ctx, 400, keepAlive.message);
  return { model, keepAlive };
}

/**
 * The load / unload answer for an empty prompt: always a single JSON object. A load waits for the
 * model like any request (fleet mode: a slot, maybe a load); an unload does not queue (Ollama's
 * expireRunner): the model goes now, or when its running requests end.
 */
async function loadOrUnload(ctx: Ctx, name: string, model: InstalledModel, keepAlive: KeepAlive, extra: Record<string, unknown>): Promise<void> {
  const unload = keepAlive.kind === 'unload';
  if (unload) {
    ctx.state.loaded.delete(model.display);
    ctx.state.fleet?.unload(model.display);
  } else if (!(await occupyModel(ctx, model, keepAlive))) return;
  sendJson(ctx, 200, { model: name, created_at: nowIso(), ...extra, done: true, done_reason: unload ? 'unload' : 'load' });
}

/**
 * Runs a planned generation as NDJSON or as one JSON object. `chunk(token)` and `final(plan)` build
 * the route-specific objects; `accumulated(text)` builds the non-streamed one.
 */
async function run(
  ctx: Ctx,
  stream: boolean,
  plan: GenerationPlan,
  chunk: (token: string) => Record<string, unknown>,
  final: () => Record<string, unknown>,
  accumulated: (text: string) => Record<string, unknown>,
): Promise<void> {
  const usage = { prompt: plan.promptTokens, completion: plan.tokens.length };
  const done = { done: true, done_reason: plan.doneReason };
  if (!stream) {
    if (!(await generateSilently(ctx, plan.tokens.length))) return;
    sendJson(ctx, 200, { ...accumulated(plan.tokens.join('')), ...done, ...final() }, usage);
    return;
  }
  const out = new ChunkStream(ctx, 'ndjson');
  for (const token of plan.tokens) {
    if (!(await out.send(ndjsonLine({ ...chunk(token), done: false })))) return;
  }
  if (!(await out.send(ndjsonLine({ ...chunk(''), ...done, ...final() }), usage))) return;
  out.end();
}

export async function generateHandler(ctx: Ctx): Promise<void> {
  const body = bindJson<GenerateBody>(ctx, GenerateRequest);
  if (!body) return;
  const ready = prepare(ctx, body, 'generate');
  if (!ready) return;
  if (body.raw && (body.template || body.system || (body.context?.length ?? 0) > 0)) {
    return sendError(ctx, 400, 'raw mode does not support template, system, or context');
  }
  const name = body.model!;
  if (!body.prompt) return loadOrUnload(ctx, name, ready.model, ready.keepAlive, { response: '' });
  const slot = await occupyModel(ctx, ready.model, ready.keepAlive);
  if (!slot) return;
  const promptText = body.system ? `${body.system}\n${body.prompt}` : body.prompt;
  const plan = planGeneration(ctx, promptText, numPredict(body.options));
  const base = (): Record<string, unknown> => ({ model: name, created_at: nowIso() });
  const final = (): Record<string, unknown> => ({
    ...(body.raw ? {} : { context: contextIds(plan.promptTokens, plan.tokens.length) }),
    ...metrics(plan.promptTokens, plan.tokens.length, slot.loadNs),
  });
  await run(
    ctx,
    body.stream ?? true,
    plan,
    (token) => ({ ...base(), response: token }),
    final,
    (text) => ({ ...base(), response: text }),
  );
}

export async function chatHandler(ctx: Ctx): Promise<void> {
  const body = bindJson<ChatBody>(ctx, ChatRequest);
  if (!body) return;
  const ready = prepare(ctx, body, 'chat');
  if (!ready) return;
  const name = body.model!;
  const messages = body.messages ?? [];
  if (messages.length === 0) {
    return loadOrUnload(ctx, name, ready.model, ready.keepAlive, { message: { role: 'assistant', content: '' } });
  }
  const slot = await occupyModel(ctx, ready.model, ready.keepAlive);
  if (!slot) return;
  const promptText = messages.map((m) => m.content ?? '').join('\n');
  const plan = planGeneration(ctx, promptText, numPredict(body.options));
  const base = (): Record<string, unknown> => ({ model: name, created_at: nowIso() });
  await run(
    ctx,
    body.stream ?? true,
    plan,
    (token) => ({ ...base(), message: { role: 'assistant', content: token } }),
    () => metrics(plan.promptTokens, plan.tokens.length, slot.loadNs),
    (text) => ({ ...base(), message: { role: 'assistant', content: text } }),
  );
}
