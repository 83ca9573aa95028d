// POST /v1/responses (doc §1.3): non-streaming returns the response object with `usage`;
// streaming sends `event: <type>\ndata: <json>\n\n` frames ending in `response.completed`, whose
// `response.usage` carries input/output/total tokens. max_output_tokens maps to num_predict.
import { randomBytes } from 'node:crypto';
import type { Ctx } from '../context.js';
import { ChunkStream, sseEvent } from '../chunk-stream.js';
import { planGeneration, unixSeconds, type GenerationPlan } from '../generation.js';
import { bindJson, contentText, generateSilently, occupyModel, requireCapability, resolveModel } from '../handler-kit.js';
import { sendError, sendJson, STREAM_HEADERS } from '../reply.js';
import { ResponsesRequest } from '../request-schemas.js';

interface ResponsesBody {
  model?: string;
  input?: unknown;
  instructions?: string;
  stream?: boolean;
  max_output_tokens?: number;
}

/** Prompt text of `input`: a string, or message items whose content is a string or text parts. */
function inputText(input: unknown): string | undefined {
  if (typeof input === 'string') return input;
  if (!Array.isArray(input)) return undefined;
  return input
    .map((item) => (typeof item === 'object' && item !== null ? contentText((item as { content?: unknown }).content) : ''))
    .join('\n');
}

function usageOf(plan: GenerationPlan): Record<string, unknown> {
  const output = plan.tokens.length;
  return {
    input_tokens: plan.promptTokens,
    output_tokens: output,
    total_tokens: plan.promptTokens + output,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens_details: { reasoning_tokens: 0 },
  };
}

export async function responsesHandler(ctx: Ctx): Promise<void> {
  const body = bindJson<ResponsesBody>(ctx, ResponsesRequest);
  if (!body) return;
  const text = inputText(body.input);
  if (text === undefined) return sendError(ctx, 400, 'input is required and must be a string or an array of input items');
  // Set by ResponsesMiddleware before ChatHandler runs, so a not-found answer carries them too.
  if (body.stream) ctx.presetHeaders = STREAM_HEADERS;
  const model = resolveModel(ctx, body.model);
  if (!model || !requireCapability(ctx, model, 'completion', 'chat')) return;
  if (!(await occupyModel(ctx, model))) return;
  const plan = planGeneration(ctx, [body.instructions ?? '', text].filter(Boolean).join('\n'), body.max_output_tokens);
  const usage = { prompt: plan.promptTokens, completion: plan.tokens.length };
  const id = 'resp_' + randomBytes(8).toString('hex');
  const itemId = 'msg_' + randomBytes(8).toString('hex');
  const created = unixSeconds();
  const part = (t: string): Record<string, unknown> => ({ type: 'output_text', text: t, annotations: [] });
  const item = (status: string, t?: string): Record<string, unknown> => ({
    id: itemId,
    type: 'message',
    status,
    role: 'assistant',
    content: t === undefined ? [] : [part(t)],
  });
  const response = (status: string, output: unknown[], withUsage: boolean): Record<string, unknown> => ({
    id,
    object: 'response',
    created_at: created,
    status,
    model: body.model,
    output,
    usage: withUsage ? usageOf(plan) : null,
  });
  const full = plan.tokens.join('');

  if (!body.stream) {
    if (!(await generateSilently(ctx, plan.tokens.length))) return;
    return sendJson(ctx, 200, response('completed', [item('completed', full)], true), usage);
  }

  const out = new ChunkStream(ctx, 'sse');
  let seq = 0;
  const send = (type: string, data: Record<string, unknown>, counted?: typeof usage): Promise<boolean> =>
    out.send(sseEvent(type, { type, sequence_number: seq++, ...data }), counted);
  const where = { item_id: itemId, output_index: 0, content_index: 0 };
  if (!(await send('response.created', { response: response('in_progress', [], false) }))) return;
  if (!(await send('response.in_progress', { response: response('in_progress', [], false) }))) return;
  if (!(await send('response.output_item.added', { output_index: 0, item: item('in_progress') }))) return;
  if (!(await send('response.content_part.added', { ...where, part: part('') }))) return;
  for (const token of plan.tokens) {
    if (!(await send('response.output_text.delta', { ...where, delta: token }))) return;
  }
  if (!(await send('response.output_text.done', { ...where, text: full }))) return;
  if (!(await send('response.content_part.done', { ...where, part: part(full) }))) return;
  if (!(await send('response.output_item.done', { output_index: 0, item: item('completed', full) }))) return;
  if (!(await send('response.completed', { response: response('completed', [item('completed', full)], true) }, usage))) return;
  out.end();
}
