import { refuse, type GatewayError } from '../core/errors.js';
import { n, outputCap, sseDataError } from './shared.js';
import type { Accounting, BodyFields, Counts, Dialect } from './types.js';

/**
 * Ollama's native API (/api/*, and Gatehouse's own public routes): NDJSON streams, `{"error": "..."}`
 * errors, the output cap in `options.num_predict`, token counts in the final `done: true` object.
 */

const ACCOUNTING: readonly Accounting[] = ['ollama-generate', 'ollama-chat', 'ollama-embed', 'ollama-embeddings'];
const COUNT_FIELDS = ['prompt_eval_count', 'eval_count'] as const;
const PROMPT_EVAL_COUNT = Buffer.from('"prompt_eval_count":');
const EVAL_COUNT = Buffer.from('"eval_count":');

export const ollama = Object.freeze<Dialect>({
  id: 'ollama',
  accounting: ACCOUNTING,
  // show, pull, push, delete: model or name; create also from; copy source and destination.
  modelFields: ['model', 'name', 'from', 'source', 'destination'],
  // The cap is options.num_predict, inside `options` (decoded whole for the other clamps too).
  outputFields: [],
  // ollama-js and ollama-python (OLLAMA_API_KEY) send Bearer; the ollama CLI its Ed25519 token;
  // browsers and nginx-style clients Basic (auth/credentials.ts reads all three).
  credentialHeaders: ['authorization'],
  streamFormat: 'ndjson',
  finalEvents: [],

  errorBody(err: GatewayError): string {
    return JSON.stringify(err.extra ? { error: err.message, ...err.extra } : { error: err.message });
  },

  /** gin c.JSON: {"error":…}, no newline. */
  notFoundBody(message: string): string {
    return JSON.stringify({ error: message });
  },
  notFoundType: 'application/json; charset=utf-8',

  capOutput(kind: Accounting, body: BodyFields, cap: number): number | GatewayError {
    if (kind !== 'ollama-generate' && kind !== 'ollama-chat') return 0;
    let options = body.options as BodyFields | undefined | null;
    const np = options?.num_predict;
    if (np !== undefined && np !== null && typeof np !== 'number') return refuse('GW_ERR_BODY_INVALID', 'options.num_predict must be a number');
    if (!options) body.options = options = {};
    const maxOutput = outputCap(np, cap);
    options.num_predict = maxOutput;
    return maxOutput;
  },

  /** Native streams always end with their counts. */
  injectStreamUsage(): boolean {
    return false;
  },

  /**
   * Counts from a native NDJSON line or non-streamed JSON object. `null` = this object carries no
   * final counts. Counts live only in the final `done: true` object.
   */
  counts(kind: Accounting, o: Record<string, unknown>): Counts | null {
    switch (kind) {
      case 'ollama-generate':
      case 'ollama-chat':
        if (o.done !== true) return null;
        return { prompt: n(o.prompt_eval_count) ?? 0, completion: n(o.eval_count) ?? 0 };
      case 'ollama-embed':
        return { prompt: n(o.prompt_eval_count) ?? 0, completion: 0 };
      default:
        return null;
    }
  },

  // Ollama's Metrics are the last fields of a response (usage-tap.ts scanTail).
  tailCountFields: {
    'ollama-generate': [PROMPT_EVAL_COUNT, EVAL_COUNT],
    'ollama-chat': [PROMPT_EVAL_COUNT, EVAL_COUNT],
    'ollama-embed': [PROMPT_EVAL_COUNT, null],
  },

  countFieldNames(): readonly [string, string] {
    return COUNT_FIELDS;
  },

  // Native clients treat a line with an "error" key as the end of a failed stream.
  ndjsonErrorLine(message: string): string {
    return `${JSON.stringify({ error: message })}\n`;
  },

  /** Native routes stream NDJSON; an SSE answer on one ends as OpenAI's chat stream does. */
  sseErrorEvent(_kind: Accounting, message: string): string {
    return sseDataError(message);
  },
});
