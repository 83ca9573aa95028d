import type { ErrorKind, GatewayError } from '../core/errors.js';
import { capOutputFields, disguised, n, obj, sseDataError, STREAM_CODE, type OutputField } from './shared.js';
import type { Accounting, BodyFields, Counts, Dialect } from './types.js';

/**
 * OpenAI's API as Ollama serves it (/v1/* except /v1/messages): SSE streams, usage in `usage`
 * (chat and completions streams carry it only when asked), errors as
 * {"error": {"message","type","param":null,"code"}} so the openai SDKs raise their usual types.
 */

const ACCOUNTING: readonly Accounting[] = ['openai-chat', 'openai-completions', 'openai-embeddings', 'openai-responses', 'openai-transcription'];

const ERROR_TYPE: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error', authentication: 'authentication_error', permission: 'permission_error',
  not_found: 'not_found_error', method_not_allowed: 'invalid_request_error', too_large: 'invalid_request_error',
  rate_limit: 'rate_limit_error', overloaded: 'server_error', upstream: 'api_error', timeout: 'api_error', internal: 'api_error',
};

/**
 * Where each route carries its output cap. Ollama's ChatCompletionRequest has no
 * max_completion_tokens (docs/ollama-api-notes.md §2): a client's cap there would be dropped and the
 * answer run unbounded, so Gatehouse carries it over into max_tokens.
 */
const OUTPUT_FIELD: Partial<Record<Accounting, OutputField>> = {
  'openai-chat': { read: 'max_tokens', alsoFrom: ['max_completion_tokens'] },
  'openai-completions': { read: 'max_tokens', alsoFrom: [] },
  'openai-responses': { read: 'max_output_tokens', alsoFrom: [] },
};

const CHAT_COUNTS = ['prompt_tokens', 'completion_tokens'] as const;
const RESPONSES_COUNTS = ['input_tokens', 'output_tokens'] as const;
const PROMPT_TOKENS = Buffer.from('"prompt_tokens":');
const COMPLETION_TOKENS = Buffer.from('"completion_tokens":');

export const openai = Object.freeze<Dialect>({
  id: 'openai',
  accounting: ACCOUNTING,
  // JSON bodies and the transcription form alike.
  modelFields: ['model'],
  outputFields: ['max_tokens', 'max_completion_tokens', 'max_output_tokens'],
  // The OpenAI SDKs send Bearer.
  credentialHeaders: ['authorization'],
  streamFormat: 'sse',
  finalEvents: ['response.completed', 'response.failed', 'response.incomplete'],

  errorBody(err: GatewayError): string {
    return JSON.stringify({ error: { message: err.message, type: ERROR_TYPE[err.kind], param: null, code: disguised(err) ? null : err.code } });
  },

  /**
   * The /v1 middleware's writeError: openai.NewError
   * {"error":{message,type:"not_found_error",param:null,code:null}}, with json.Encoder's newline.
   */
  notFoundBody(message: string): string {
    return JSON.stringify({ error: { message, type: 'not_found_error', param: null, code: null } }) + '\n';
  },
  notFoundType: 'application/json',

  capOutput(kind: Accounting, body: BodyFields, cap: number): number | GatewayError {
    return capOutputFields(OUTPUT_FIELD[kind], body, cap);
  },

  injectStreamUsage(kind: Accounting, fields: BodyFields): boolean {
    if (kind !== 'openai-chat' && kind !== 'openai-completions') return false;
    // Ollama sends usage in an OpenAI stream only when asked (docs/ollama-api-notes.md §1.3); without
    // it a streamed request would count zero tokens (docs/threat-model.md G2).
    const so = fields.stream_options as BodyFields | undefined | null;
    if (so && so.include_usage === true) return false;
    fields.stream_options = { ...(so ?? {}), include_usage: true };
    return true;
  },

  /** Counts from a JSON body or SSE `data:` payload (`event` = SSE event name). */
  counts(kind: Accounting, o: Record<string, unknown>, event: string | null): Counts | null {
    switch (kind) {
      case 'openai-chat':
      case 'openai-completions':
      case 'openai-embeddings': {
        const u = obj(o.usage);
        if (!u) return null;
        const prompt = n(u.prompt_tokens) ?? 0;
        const completion = n(u.completion_tokens) ?? 0;
        // /v1/completions with include_usage puts zeros in every chunk; only the real record counts.
        if (prompt === 0 && completion === 0 && kind === 'openai-completions') return null;
        return { prompt, completion };
      }
      case 'openai-responses': {
        if (event !== null) {
          if (event !== 'response.completed' && event !== 'response.failed' && event !== 'response.incomplete') return null;
          const u = obj(obj(o.response)?.usage);
          return u ? { prompt: n(u.input_tokens) ?? 0, completion: n(u.output_tokens) ?? 0 } : null;
        }
        const u = obj(o.usage);
        return u ? { prompt: n(u.input_tokens) ?? 0, completion: n(u.output_tokens) ?? 0 } : null;
      }
      default:
        return null;
    }
  },

  // A completion's `usage` is its last field (usage-tap.ts scanTail).
  tailCountFields: {
    'openai-chat': [PROMPT_TOKENS, COMPLETION_TOKENS],
    'openai-completions': [PROMPT_TOKENS, COMPLETION_TOKENS],
    'openai-embeddings': [PROMPT_TOKENS, null],
  },

  countFieldNames(kind: Accounting): readonly [string, string] {
    return kind === 'openai-responses' ? RESPONSES_COUNTS : CHAT_COUNTS;
  },

  ndjsonErrorLine: null,

  /**
   *   /v1/chat/completions, /v1/completions   data: {"error":{message,type,param,code}}
   *   /v1/responses                           event: error, a Responses `error` event that also
   *       carries an `error` object (the SDKs raise on that key; they pass `type:"error"` events on
   *       without raising)
   */
  sseErrorEvent(kind: Accounting, message: string, events: number): string {
    if (kind !== 'openai-responses') return sseDataError(message);
    const error = { type: 'api_error', code: STREAM_CODE, message, param: null };
    const data = { type: 'error', sequence_number: events, code: STREAM_CODE, message, param: null, error };
    return `\n\nevent: error\ndata: ${JSON.stringify(data)}\n\n`;
  },
});
