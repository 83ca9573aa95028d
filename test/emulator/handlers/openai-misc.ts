// The non-generating OpenAI routes: POST /v1/embeddings, GET /v1/models, GET /v1/models/:model
// and the multipart POST /v1/audio/transcriptions (doc §1.1, §1.3).
import type { Ctx } from '../context.js';
import { countPromptTokens, EMBEDDING_DIMS, embeddingFor } from '../generation.js';
import { bindJson, NOT_FOUND_PULL_FIRST, NOT_FOUND_SHOW, occupyModel, resolveModel } from '../handler-kit.js';
import { boundaryOf, parseMultipart } from '../multipart.js';
import { sendError, sendJson } from '../reply.js';
import { OpenAIEmbedRequest } from '../request-schemas.js';
import type { InstalledModel } from '../state.js';
import { checkDimensions, embedInputs } from './native-embed.js';

function base64Floats(vec: number[]): string {
  const buf = Buffer.alloc(vec.length * 4);
  vec.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}

export async function openaiEmbeddingsHandler(ctx: Ctx): Promise<void> {
  const body = bindJson<{ model?: string; input?: unknown; encoding_format?: string; dimensions?: number }>(ctx, OpenAIEmbedRequest);
  if (!body) return;
  const inputs = embedInputs(body.input);
  if (typeof inputs === 'string' || inputs.length === 0) return sendError(ctx, 400, 'invalid input');
  const dimErr = checkDimensions(body.dimensions);
  if (dimErr) return sendError(ctx, 400, dimErr);
  const model = resolveModel(ctx, body.model, NOT_FOUND_PULL_FIRST);
  if (!model) return;
  if (!(await occupyModel(ctx, model))) return;
  const dims = body.dimensions || EMBEDDING_DIMS;
  const promptTokens = inputs.reduce((sum, text) => sum + countPromptTokens(text), 0);
  const data = inputs.map((text, index) => {
    const vec = embeddingFor(text, dims);
    return { object: 'embedding', embedding: body.encoding_format === 'base64' ? base64Floats(vec) : vec, index };
  });
  sendJson(
    ctx,
    200,
    { object: 'list', data, model: body.model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } },
    { prompt: promptTokens, completion: 0 },
  );
}

function modelEntry(m: InstalledModel, id = m.display): Record<string, unknown> {
  return { id, object: 'model', created: Math.floor(Date.parse(m.modifiedAt) / 1000), owned_by: m.name.namespace };
}

export function listModelsHandler(ctx: Ctx): void {
  sendJson(ctx, 200, { object: 'list', data: ctx.state.models.map((m) => modelEntry(m)) });
}

export function retrieveModelHandler(ctx: Ctx): void {
  const name = ctx.params['model'] ?? '';
  // RetrieveMiddleware hands the name to ShowHandler, whose not-found text is its own.
  const model = resolveModel(ctx, name, NOT_FOUND_SHOW);
  if (model) sendJson(ctx, 200, modelEntry(model, name));
}

export async function transcriptionsHandler(ctx: Ctx): Promise<void> {
  const boundary = boundaryOf(ctx.req.headers['content-type']);
  if (!boundary) return sendError(ctx, 400, "request Content-Type isn't multipart/form-data");
  const parts = parseMultipart(ctx.body, boundary);
  if (!parts) return sendError(ctx, 400, 'multipart: malformed form data');
  const modelName = parts.find((p) => p.name === 'model' && p.filename === undefined)?.data.toString('utf8') ?? '';
  if (!modelName) return sendError(ctx, 400, 'model is required');
  const file = parts.find((p) => p.name === 'file');
  if (!file) return sendError(ctx, 400, 'file is required');
  const model = resolveModel(ctx, modelName);
  if (!model) return;
  if (!(await occupyModel(ctx, model))) return;
  sendJson(ctx, 200, { text: `Emulated transcription of ${file.filename ?? 'audio'} (${file.data.length} bytes).` });
}
