import { refuse, type GatewayError } from '../core/errors.js';
import type { BodyFields } from './types.js';

/** What two or more dialects share: helpers for their modules, not a dialect of its own. */

/**
 * Refusals that must be indistinguishable from Ollama's own answer: a model outside the key's
 * allowlist is answered like a missing model, without Gatehouse's error code or markers.
 */
export function disguised(err: GatewayError): boolean {
  return err.code === 'GW_ERR_MODEL_NOT_FOUND' || err.code === 'GW_ERR_MODEL_NOT_ALLOWED';
}

/** A token count as a response carries it: a finite number ≥ 0, floored; anything else is absent. */
export const n = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined);
export const obj = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/**
 * The output cap a request runs with. Ollama stops at num_predict only when it is positive: -1 means
 * "until done", -2 "until the context is full", and 0 — or anything that truncates to 0 in Go's
 * int64(float64) conversion, such as 0.5 — means no limit at all (docs/ollama-api-notes.md §2). So every
 * value that is not a whole number from 1 to the cap becomes the cap, and what is forwarded is the
 * integer Ollama will use, never a fraction for it to truncate.
 */
export function outputCap(asked: unknown, cap: number): number {
  if (typeof asked !== 'number' || !Number.isFinite(asked)) return cap;
  const n = Math.trunc(asked);
  return n >= 1 && n <= cap ? n : cap;
}

/**
 * Where a compatible route carries its output cap: the field Ollama reads, then fields clients
 * send instead that Ollama ignores.
 */
export interface OutputField {
  read: string;
  alsoFrom: readonly string[];
}

/** Caps a top-level output field (and the fields clients send instead) at `cap`; 0 when `out` is absent. */
export function capOutputFields(out: OutputField | undefined, body: BodyFields, cap: number): number | GatewayError {
  if (!out) return 0;
  let asked: number | undefined;
  for (const f of [out.read, ...out.alsoFrom]) {
    const v = body[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) return refuse('GW_ERR_BODY_INVALID', `${f} must be a number`);
    // Ollama binds these to Go ints: 2.5 is a 400 there, so it is one here too.
    if (!Number.isInteger(v)) return refuse('GW_ERR_BODY_INVALID', `${f} must be a whole number`);
    asked = asked === undefined || (v >= 1 && v < asked) || asked < 1 ? v : asked;
  }
  const maxOutput = outputCap(asked, cap);
  body[out.read] = maxOutput;
  // The same cap in the fields Ollama ignores today, so no reader of the forwarded body
  // (a later Ollama, a proxy behind Gatehouse) can find a larger one there.
  for (const f of out.alsoFrom) if (body[f] !== undefined && body[f] !== null) body[f] = maxOutput;
  return maxOutput;
}

/** The code clients see in the in-stream error object (the audit keeps the precise one). */
export const STREAM_CODE = 'GW_ERR_UPSTREAM_STREAM_BROKEN';

/**
 * The end of a broken OpenAI chat/completions stream: data: {"error":{message,type,param,code}}
 * (the openai SDKs raise APIError for any `data:` whose JSON has an `error` key). Starts with a
 * blank line: proxy/stream-break.ts says why.
 */
export function sseDataError(message: string): string {
  return `\n\ndata: ${JSON.stringify({ error: { message, type: 'api_error', param: null, code: STREAM_CODE } })}\n\n`;
}
