// HEAD and POST /api/blobs/:digest (doc §1.1). The digest must match
// `^sha256[:-][0-9a-fA-F]{64}$`. Uploads are hashed chunk by chunk and never held in memory whole
// (they can be model-sized); 201 when stored, 200 when already present, 400 on a mismatch.
import { createHash } from 'node:crypto';
import { readBody, type Ctx } from '../context.js';
import { sendEmpty, sendError } from '../reply.js';

export const DIGEST_PATTERN = /^sha256[:-][0-9a-fA-F]{64}$/;

/** `sha256-<hex>` and `sha256:<hex>` name the same blob file. */
export function normalizeDigest(digest: string): string {
  return 'sha256:' + digest.slice('sha256:'.length);
}

export function headBlobHandler(ctx: Ctx): void {
  const digest = ctx.params['digest'] ?? '';
  if (!DIGEST_PATTERN.test(digest)) return sendError(ctx, 400, 'invalid digest format');
  if (!ctx.state.blobs.has(normalizeDigest(digest))) return sendError(ctx, 404, `blob "${digest}" not found`);
  sendEmpty(ctx, 200);
}

export async function createBlobHandler(ctx: Ctx): Promise<void> {
  const digest = ctx.params['digest'] ?? '';
  if (!DIGEST_PATTERN.test(digest)) {
    await readBody(ctx.req, ctx.record, false);
    return sendError(ctx, 400, 'invalid digest format');
  }
  const key = normalizeDigest(digest);
  if (ctx.state.blobs.has(key)) {
    // Ollama answers without reading the body; the rest is still drained into the record.
    sendEmpty(ctx, 200);
    await readBody(ctx.req, ctx.record, false);
    return;
  }
  const hash = createHash('sha256');
  let size = 0;
  const { complete } = await readBody(ctx.req, ctx.record, false, (chunk) => {
    hash.update(chunk);
    size += chunk.length;
  });
  if (!complete) return; // client went away mid-upload: nothing is stored
  const actual = 'sha256:' + hash.digest('hex');
  // The computed digest is lower-case hex; Ollama compares it with the path as written.
  if (actual !== key) return sendError(ctx, 400, `digest mismatch, expected "${digest}", got "${actual}"`);
  ctx.state.blobs.set(key, size);
  sendEmpty(ctx, 201);
}
