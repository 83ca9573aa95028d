// POST /v1/chat/completions and POST /v1/completions (doc §1.3). Non-streaming by default and
// then always with `usage`. Streaming is SSE `data: {...}\n\n` ending in `data: [DONE]`; usage is
// only sent when stream_options.include_usage is set, as an extra chunk with `choices: []`. On
// /v1/completions include_usage also puts zero usage on every chunk.
import { randomBytes } from 'node:crypto';
import type { Ctx } from '../context.js';
import { ChunkStream, sseData } from '../chunk-stream.js';
import { planGeneration, unixSeconds, type GenerationPlan } from '../generation.js';
import { bindJson, contentText, generateSilently, occupyModel, requireCapability, resolveModel } from '../handler-kit.js';
import { sendError, sendJson } from '../reply.js';
import { OpenAIChatRequest, OpenAICompletionRequest, type OpenAIChatBody } from '../request-schemas.js';

function usageOf(plan: GenerationPlan): Record<string, number> {
  const completion = plan.tokens.length;
  return { prompt_tokens: plan.promptTokens, completion_tokens: completion, total_tokens: plan.promptTokens + completion };
}

const ZERO_USAGE = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };

interface Shape {
  header: Record<string, unknown>;
  /** choices[0] of a streamed chunk for one token (index = token position) */
  tokenChoice: (token: string, index: number) => Record<string, unknown>;
  finishChoice: () => Record<string, unknown>;
  /** the non-streamed response's choices[0] */
  fullChoice: (text: string) => Record<string, unknown>;
  chunkObject: string;
  fullObject: string;
  zeroUsageOnChunks: boolean;
}

async function respond(ctx: Ctx, stream: boolean, includeUsage: boolean, plan: GenerationPlan, shape: Shape): Promise<void> {
  const usage = { prompt: plan.promptTokens, completion: plan.tokens.length };
  if (!stream) {
    if (!(await generateSilently(ctx, plan.tokens.length))) return;
    const body = { ...shape.header, object: shape.fullObject, choices: [shape.fullChoice(plan.tokens.join(''))], usage: usageOf(plan) };
    return sendJson(ctx, 200, body, usage);
  }
  const out = new ChunkStream(ctx, 'sse');
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): string =>
    sseData({
      ...shape.header,
      object: shape.chunkObject,
      choices,
      ...(includeUsage && shape.zeroUsageOnChunks ? { usage: ZERO_USAGE } : {}),
      ...extra,
    });
  const tokens = plan.tokens.length > 0 ? plan.tokens : [''];
  for (const [i, token] of tokens.entries()) {
    if (!(await out.send(chunk([shape.tokenChoice(token, i)])))) return;
  }
  if (!(await out.send(chunk([shape.finishChoice()])))) return;
  if (includeUsage && !(await out.send(chunk([], { usage: usageOf(plan) }), usage))) return;
  if (!(await out.send(sseData('[DONE]')))) return;
  out.end();
}

export async function chatCompletionsHandler(ctx: Ctx): Promise<void> {
  const body = bindJson<OpenAIChatBody>(ctx, OpenAIChatRequest);
  if (!body) return;
  const messages = body.messages ?? [];
  if (messages.length === 0) return sendError(ctx, 400, "[] is too short - 'messages'");
  const model = resolveModel(ctx, body.model);
  if (!model || !requireCapability(ctx, model, 'completion', 'chat')) return;
  if (!(await occupyModel(ctx, model))) return;
  const plan = planGeneration(ctx, messages.map((m) => contentText(m.content)).join('\n'), body.max_tokens);
  const header = { id: 'chatcmpl-' + randomBytes(4).toString('hex'), created: unixSeconds(), model: body.model, system_fingerprint: 'fp_ollama' };
  await respond(ctx, body.stream ?? false, body.stream_options?.include_usage ?? false, plan, {
    header,
    chunkObject: 'chat.completion.chunk',
    fullObject: 'chat.completion',
    zeroUsageOnChunks: false,
    // The first chunk carries the role, later ones only content.
    tokenChoice: (token, i) => ({ index: 0, delta: i === 0 ? { role: 'assistant', content: token } : { content: token }, finish_reason: null }),
    finishChoice: () => ({ index: 0, delta: {}, finish_reason: plan.doneReason }),
    fullChoice: (text) => ({ index: 0, message: { role: 'assistant', content: text }, finish_reason: plan.doneReason }),
  });
}

export async function completionsHandler(ctx: Ctx): Promise<void> {
  const body = bindJson<{ model?: string; prompt?: string; stream?: boolean; stream_options?: { include_usage?: boolean }; max_tokens?: number }>(
    ctx,
    OpenAICompletionRequest,
  );
  if (!body) return;
  const model = resolveModel(ctx, body.model);
  if (!model || !requireCapability(ctx, model, 'completion', 'generate')) return;
  if (!(await occupyModel(ctx, model))) return;
  const plan = planGeneration(ctx, body.prompt ?? '', body.max_tokens);
  const header = { id: 'cmpl-' + randomBytes(4).toString('hex'), created: unixSeconds(), model: body.model, system_fingerprint: 'fp_ollama' };
  await respond(ctx, body.stream ?? false, body.stream_options?.include_usage ?? false, plan, {
    header,
    chunkObject: 'text_completion',
    fullObject: 'text_completion',
    zeroUsageOnChunks: true,
    tokenChoice: (token) => ({ text: token, index: 0, finish_reason: null }),
    finishChoice: () => ({ text: '', index: 0, finish_reason: plan.doneReason }),
    fullChoice: (text) => ({ text, index: 0, finish_reason: plan.doneReason }),
  });
}
