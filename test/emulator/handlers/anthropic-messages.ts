// POST /v1/messages, the Anthropic-compatible route (doc §1.3). It needs max_tokens > 0 and a
// non-empty messages list. Streaming sends message_start (with an *estimated* input_tokens, which
// a gateway must not bill), the text block events, message_delta with the real usage, and
// message_stop. Errors use the Anthropic shape.
import { randomBytes } from 'node:crypto';
import type { Ctx } from '../context.js';
import { ChunkStream, sseEvent } from '../chunk-stream.js';
import { planGeneration } from '../generation.js';
import { bindJson, contentText, generateSilently, occupyModel, requireCapability, resolveModel } from '../handler-kit.js';
import { sendError, sendJson, STREAM_HEADERS } from '../reply.js';
import { AnthropicMessagesRequest } from '../request-schemas.js';

interface MessagesBody {
  model?: string;
  max_tokens?: number;
  messages?: Array<{ role?: string; content?: unknown }>;
  system?: unknown;
  stream?: boolean;
}

/** A rough chars/4 estimate like EstimateInputTokens, forced to differ from the real count. */
function estimateInputTokens(text: string, real: number): number {
  const estimate = Math.ceil(text.length / 4) + 3;
  return estimate === real ? estimate + 1 : estimate;
}

export async function messagesHandler(ctx: Ctx): Promise<void> {
  const body = bindJson<MessagesBody>(ctx, AnthropicMessagesRequest);
  if (!body) return;
  // AnthropicMessagesMiddleware's own checks, in its order (middleware/anthropic.go).
  if (!body.model) return sendError(ctx, 400, 'model is required');
  if (!body.max_tokens || body.max_tokens <= 0) return sendError(ctx, 400, 'max_tokens is required and must be positive');
  const messages = body.messages ?? [];
  if (messages.length === 0) return sendError(ctx, 400, 'messages is required');
  // Set by the middleware before ChatHandler runs, so a not-found answer carries them too.
  if (body.stream) ctx.presetHeaders = STREAM_HEADERS;
  const model = resolveModel(ctx, body.model);
  if (!model || !requireCapability(ctx, model, 'completion', 'chat')) return;
  if (!(await occupyModel(ctx, model))) return;
  const promptText = [contentText(body.system), ...messages.map((m) => contentText(m.content))].filter(Boolean).join('\n');
  const plan = planGeneration(ctx, promptText, body.max_tokens);
  const stopReason = plan.doneReason === 'length' ? 'max_tokens' : 'end_turn';
  const usage = { input_tokens: plan.promptTokens, output_tokens: plan.tokens.length };
  const counted = { prompt: plan.promptTokens, completion: plan.tokens.length };
  const message = {
    id: 'msg_' + randomBytes(12).toString('hex'),
    type: 'message',
    role: 'assistant',
    model: body.model,
  };
  const full = plan.tokens.join('');

  if (!body.stream) {
    if (!(await generateSilently(ctx, plan.tokens.length))) return;
    return sendJson(ctx, 200, { ...message, content: [{ type: 'text', text: full }], stop_reason: stopReason, stop_sequence: null, usage }, counted);
  }

  const out = new ChunkStream(ctx, 'sse');
  const send = (type: string, data: Record<string, unknown>, c?: typeof counted): Promise<boolean> =>
    out.send(sseEvent(type, { type, ...data }), c);
  const estimated = estimateInputTokens(promptText, plan.promptTokens);
  const start = { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: estimated, output_tokens: 0 } };
  if (!(await send('message_start', { message: start }))) return;
  if (!(await send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }))) return;
  for (const token of plan.tokens) {
    if (!(await send('content_block_delta', { index: 0, delta: { type: 'text_delta', text: token } }))) return;
  }
  if (!(await send('content_block_stop', { index: 0 }))) return;
  if (!(await send('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage }, counted))) return;
  if (!(await send('message_stop', {}))) return;
  out.end();
}
