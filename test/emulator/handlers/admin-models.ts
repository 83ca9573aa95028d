// Model management: POST /api/pull, /api/push, /api/create, /api/copy and DELETE /api/delete
// (doc §1.1). Pull and create change the installed list, so later requests see the new models.
import type { Ctx } from '../context.js';
import { bindJson, CLOUD_DISABLED } from '../handler-kit.js';
import { isValidName, parseModelName, parseModelRef } from '../model-names.js';
import { sendEmpty, sendError } from '../reply.js';
import { CopyRequest, CreateRequest, DeleteRequest, PullRequest, PushRequest } from '../request-schemas.js';
import { DIGEST_PATTERN, normalizeDigest } from './blobs.js';
import { layerDigest, layerSteps, pullSteps, sendProgress, type Progress } from './progress.js';

/** OLLAMA_MODELS of the emulated server (the default for the Linux service user). */
const MODELS_DIR = '/usr/share/ollama/.ollama/models';

interface NameBody {
  model?: string;
  name?: string;
  stream?: boolean;
}

/** Checks a name that is about to be written; answers and returns undefined when unusable. */
function targetName(ctx: Ctx, raw: string): string | undefined {
  const ref = parseModelRef(raw);
  if (ref.kind === 'invalid') return void sendError(ctx, 400, ref.error);
  if (ref.kind === 'cloud') return void sendError(ctx, 403, CLOUD_DISABLED);
  if (!isValidName(parseModelName(ref.name))) return void sendError(ctx, 400, 'invalid model name');
  return ref.name;
}

export async function pullHandler(ctx: Ctx): Promise<void> {
  const body = bindJson<NameBody>(ctx, PullRequest);
  if (!body) return;
  const name = targetName(ctx, body.model || body.name || '');
  if (name === undefined) return;
  await sendProgress(ctx, body.stream ?? true, pullSteps(name), { onComplete: () => void ctx.state.install(name) });
}

export async function pushHandler(ctx: Ctx): Promise<void> {
  const body = bindJson<NameBody>(ctx, PushRequest);
  if (!body) return;
  const raw = body.model || body.name || '';
  const name = targetName(ctx, raw);
  if (name === undefined) return;
  const model = ctx.state.findModel(name);
  const steps: Progress[] = [{ status: 'retrieving manifest' }];
  if (!model) {
    // PushModel: ParseNamedManifest fails to open the manifest file, and the error is os.Open's.
    const n = ctx.state.existingName(parseModelName(name));
    steps.push({ status: "couldn't retrieve manifest" });
    const file = `${MODELS_DIR}/manifests/${n.host}/${n.namespace}/${n.model}/${n.tag}`;
    return sendProgress(ctx, body.stream ?? true, steps, { error: `open ${file}: no such file or directory` });
  }
  steps.push(...layerSteps('pushing', 'sha256:' + model.digest, 4_000_000), { status: 'pushing manifest' });
  await sendProgress(ctx, body.stream ?? true, steps, { onComplete: () => undefined });
}

interface CreateBody extends NameBody {
  from?: string;
  files?: Record<string, string>;
  adapters?: Record<string, string>;
  draft_files?: Record<string, string>;
}

export async function createHandler(ctx: Ctx): Promise<void> {
  const body = bindJson<CreateBody>(ctx, CreateRequest);
  if (!body) return;
  const target = targetName(ctx, body.model || body.name || '');
  if (target === undefined) return;
  const digests = [body.files, body.adapters, body.draft_files].flatMap((m) => Object.values(m ?? {}));
  for (const digest of digests) {
    if (!DIGEST_PATTERN.test(digest)) return sendError(ctx, 400, `invalid digest format: "${digest}"`);
    if (!ctx.state.blobs.has(normalizeDigest(digest))) return sendError(ctx, 400, `blob "${digest}" not found: upload it with POST /api/blobs/${digest} first`);
  }
  if (!body.from && digests.length === 0) return sendError(ctx, 400, "neither 'from' or 'files' was specified");

  const steps: Progress[] = [];
  let source = body.from ? ctx.state.findModel(body.from) : undefined;
  let sourceName: string | undefined;
  if (body.from && !source) {
    // An unknown `from` model is pulled first (parseFromModel), which installs it too.
    sourceName = targetName(ctx, body.from);
    if (sourceName === undefined) return;
    steps.push(...pullSteps(sourceName));
  }
  if (source) steps.push({ status: `using existing layer sha256:${source.digest}` });
  for (const digest of digests) steps.push({ status: `using existing layer ${normalizeDigest(digest)}` });
  steps.push({ status: 'writing manifest' });
  await sendProgress(ctx, body.stream ?? true, steps, {
    onComplete: () => {
      if (sourceName) source = ctx.state.install(sourceName);
      ctx.state.install(target, source ? [...source.capabilities] : undefined);
    },
  });
}

export function copyHandler(ctx: Ctx): void {
  const body = bindJson<{ source?: string; destination?: string }>(ctx, CopyRequest);
  if (!body) return;
  const source = body.source ?? '';
  const destination = body.destination ?? '';
  if (!isValidName(parseModelName(source))) return sendError(ctx, 400, `source "${source}" is invalid`);
  if (!isValidName(parseModelName(destination))) return sendError(ctx, 400, `destination "${destination}" is invalid`);
  const model = ctx.state.findModel(source);
  if (!model) return sendError(ctx, 404, `model "${source}" not found`);
  ctx.state.install(destination, [...model.capabilities]);
  sendEmpty(ctx, 200);
}

export function deleteHandler(ctx: Ctx): void {
  const body = bindJson<{ model?: string; name?: string }>(ctx, DeleteRequest);
  if (!body) return;
  const raw = body.model || body.name || '';
  if (!isValidName(parseModelName(raw))) return sendError(ctx, 400, `name "${raw}" is invalid`);
  const model = ctx.state.findModel(raw);
  if (!model) return sendError(ctx, 404, `model '${raw}' not found`);
  ctx.state.remove(model);
  sendEmpty(ctx, 200);
}
