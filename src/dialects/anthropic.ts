import { randomBytes } from 'node:crypto';
import type { ErrorKind, GatewayError } from '../core/errors.js';
import { capOutputFields, n, obj, type OutputField } from './shared.js';
import type { Accounting, BodyFields, Counts, Dialect } from './types.js';

/**
 * Anthropic's Messages API as Ollama serves it (/v1/messages): SSE streams of named events, usage
 * in message_start/message_delta, errors as {"type":"error","error":{"type","message"},"request_id"}
 * so the Anthropic SDKs raise their usual types.
 */

const ACCOUNTING: readonly Accounting[] = ['anthropic-messages'];

const ERROR_TYPE: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error', authentication: 'authentication_error', permission: 'permission_error',
  not_found: 'not_found_error', method_not_allowed: 'invalid_request_error', too_large: 'request_too_large',
  rate_limit: 'rate_limit_error', overloaded: 'overloaded_error', upstream: 'api_error', timeout: 'api_error', internal: 'api_error',
};

const OUTPUT_FIELD: Partial<Record<Accounting, OutputField>> = {
  'anthropic-messages': { read: 'max_tokens', alsoFrom: [] },
};

const COUNT_FIELDS = ['input_tokens', 'output_tokens'] as const;

export const anthropic = Object.freeze<Dialect>({
  id: 'anthropic',
  accounting: ACCOUNTING,
  modelFields: ['model'],
  outputFields: ['max_tokens'],
  // The Anthropic SDKs send x-api-key (and may send Authorization as well; they must agree).
  credentialHeaders: ['x-api-key', 'authorization'],
  streamFormat: 'sse',
  finalEvents: ['message_stop'],

  errorBody(err: GatewayError, requestId: string): string {
    return JSON.stringify({ type: 'error', error: { type: ERROR_TYPE[err.kind], message: err.message }, request_id: requestId });
  },

  /**
   * AnthropicWriter.writeError: anthropic.NewError
   * {"type":"error","error":{type:"not_found_error",message},"request_id":"req_<24 hex>"}, newline.
   */
  notFoundBody(message: string): string {
    // anthropic.generateID("req"): 12 random bytes, hex.
    return JSON.stringify({ type: 'error', error: { type: 'not_found_error', message }, request_id: `req_${randomBytes(12).toString('hex')}` }) + '\n';
  },
  notFoundType: 'application/json',

  capOutput(kind: Accounting, body: BodyFields, cap: number): number | GatewayError {
    return capOutputFields(OUTPUT_FIELD[kind], body, cap);
  },

  /** Anthropic streams always carry usage. */
  injectStreamUsage(): boolean {
    return false;
  },

  /** Counts from a Messages JSON body or SSE `data:` payload (`event` = SSE event name). */
  counts(kind: Accounting, o: Record<string, unknown>, event: string | null): Counts | null {
    if (kind !== 'anthropic-messages') return null;
    if (event === 'message_start') {
      // An estimate by Ollama (anthropic.EstimateInputTokens); message_delta has the real one.
      const u = obj(obj(o.message)?.usage);
      return u ? { prompt: n(u.input_tokens) ?? 0 } : null;
    }
    if (event !== null && event !== 'message_delta') return null;
    const u = obj(o.usage);
    if (!u) return null;
    const c: Counts = { completion: n(u.output_tokens) ?? 0 };
    const p = n(u.input_tokens);
    if (p !== undefined) c.prompt = p;
    return c;
  },

  tailCountFields: {},

  countFieldNames(): readonly [string, string] {
    return COUNT_FIELDS;
  },

  ndjsonErrorLine: null,

  /** event: error, {"type":"error","error":{type,message}} (the Anthropic SDKs raise APIError on `event: error`). */
  sseErrorEvent(_kind: Accounting, message: string): string {
    return `\n\nevent: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'api_error', message } })}\n\n`;
  },
});
