// POST /api/embed (counts: prompt_eval_count summed over inputs) and the legacy POST
// /api/embeddings (`{"embedding":[...]}`, no counts at all), doc §1.1.
import type { Ctx } from '../context.js';
import { countPromptTokens, EMBEDDING_DIMS, embeddingFor } from '../generation.js';
import { bindJson, NOT_FOUND_PULL_FIRST, occupyModel, resolveModel } from '../handler-kit.js';
import { parseKeepAlive, validateOptions } from '../options.js';
import { sendError, sendJson } from '../reply.js';
import { EmbeddingRequest, EmbedRequest } from '../request-schemas.js';

interface EmbedBody {
  model?: string;
  input?: unknown;
  dimensions?: number;
  keep_alive?: unknown;
  options?: Record<string, unknown>;
}

/** `input` is a string or an array of strings; anything else is a 400. */
export function embedInputs(input: unknown): string[] | string {
  if (input === undefined) return [];
  if (typeof input === 'string') return input === '' ? [] : [input];
  if (Array.isArray(input) && input.every((s) => typeof s === 'string')) return input as string[];
  return 'invalid input type';
}

export function checkDimensions(dimensions: number | undefined): string | undefined {
  if (dimensions === undefined || dimensions === 0) return undefined;
  if (dimensions < 0 || dimensions > EMBEDDING_DIMS) return `invalid dimensions: must be between 1 and ${EMBEDDING_DIMS}`;
  return undefined;
}

export async function embedHandler(ctx: Ctx): Promise<void> {
  const body = bindJson<EmbedBody>(ctx, EmbedRequest);
  if (!body) return;
  // EmbedHandler checks the input's type before it looks the model up.
  const inputs = embedInputs(body.input);
  if (typeof inputs === 'string' && body.model) return sendError(ctx, 400, inputs);
  const model = resolveModel(ctx, body.model, NOT_FOUND_PULL_FIRST);
  if (!model) return;
  if (typeof inputs === 'string') return sendError(ctx, 400, inputs);
  const optErr = validateOptions(body.options);
  if (optErr) return sendError(ctx, 400, optErr);
  const keepAlive = parseKeepAlive(body.keep_alive);
  if (keepAlive.kind === 'error') return sendError(ctx, 400, keepAlive.message);
  const dimErr = checkDimensions(body.dimensions);
  if (dimErr) return sendError(ctx, 400, dimErr);
  const slot = await occupyModel(ctx, model, keepAlive);
  if (!slot) return;
  const name = body.model!;
  if (inputs.length === 0) {
    // No input only loads the model: empty embeddings and no counts.
    return sendJson(ctx, 200, { model: name, embeddings: [] });
  }
  const dims = body.dimensions || EMBEDDING_DIMS;
  const promptTokens = inputs.reduce((sum, text) => sum + countPromptTokens(text), 0);
  sendJson(
    ctx,
    200,
    {
      model: name,
      embeddings: inputs.map((text) => embeddingFor(text, dims)),
      total_duration: slot.loadNs + 1_000_000 + promptTokens * 50_000,
      load_duration: slot.loadNs,
      prompt_eval_count: promptTokens,
    },
    { prompt: promptTokens, completion: 0 },
  );
}

export async function embeddingsHandler(ctx: Ctx): Promise<void> {
  const body = bindJson<{ model?: string; prompt?: string; keep_alive?: unknown; options?: Record<string, unknown> }>(ctx, EmbeddingRequest);
  if (!body) return;
  // EmbeddingsHandler goes straight to getModel: no case-insensitive getExistingName.
  const model = resolveModel(ctx, body.model, NOT_FOUND_PULL_FIRST, true);
  if (!model) return;
  const optErr = validateOptions(body.options);
  if (optErr) return sendError(ctx, 400, optErr);
  const keepAlive = parseKeepAlive(body.keep_alive);
  if (keepAlive.kind === 'error') return sendError(ctx, 400, keepAlive.message);
  if (!(await occupyModel(ctx, model, keepAlive))) return;
  // The legacy endpoint reports no token counts, so nothing is added to tokensSent.
  sendJson(ctx, 200, { embedding: body.prompt ? embeddingFor(body.prompt, EMBEDDING_DIMS) : [] });
}
