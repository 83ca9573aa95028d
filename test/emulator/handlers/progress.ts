// Progress streams of pull/push/create (doc §1.2): NDJSON `{"status",...}` objects ending in
// `{"status":"success"}` by default; `"stream": false` waits and returns only the last object
// (or a 500 with the error, as waitForStream does).
import { createHash } from 'node:crypto';
import type { Ctx } from '../context.js';
import { ChunkStream, ndjsonLine } from '../chunk-stream.js';
import { generateSilently } from '../handler-kit.js';
import { sendJson } from '../reply.js';

export type Progress = Record<string, unknown> & { status: string };

/** Runs `steps`; `onComplete` runs once all steps went out, before the final success object. */
export async function sendProgress(
  ctx: Ctx,
  stream: boolean,
  steps: Progress[],
  outcome: { error: string } | { onComplete: () => void },
): Promise<void> {
  const last: Progress = { status: 'success' };
  if (!stream) {
    if (!(await generateSilently(ctx, steps.length + 1))) return;
    if ('error' in outcome) return sendJson(ctx, 500, { error: outcome.error });
    outcome.onComplete();
    return sendJson(ctx, 200, last);
  }
  const out = new ChunkStream(ctx, 'ndjson');
  for (const step of steps) {
    if (!(await out.send(ndjsonLine(step)))) return;
  }
  if ('error' in outcome) {
    // After streaming has started the status stays 200 and the error is an in-band line.
    if (!(await out.send(ndjsonLine({ error: outcome.error })))) return;
    return out.end();
  }
  outcome.onComplete();
  if (!(await out.send(ndjsonLine(last)))) return;
  out.end();
}

export function layerDigest(seed: string): string {
  return 'sha256:' + createHash('sha256').update(seed).digest('hex');
}

/** The transfer steps for one layer: started, half way, done. */
export function layerSteps(verb: 'pulling' | 'pushing', digest: string, total: number): Progress[] {
  const status = `${verb} ${digest.slice('sha256:'.length, 'sha256:'.length + 12)}`;
  return [0, Math.floor(total / 2), total].map((completed) => ({ status, digest, total, completed }));
}

export function pullSteps(name: string): Progress[] {
  const digest = layerDigest(name.toLowerCase());
  return [
    { status: 'pulling manifest' },
    ...layerSteps('pulling', digest, 4_000_000),
    { status: 'verifying sha256 digest' },
    { status: 'writing manifest' },
  ];
}
