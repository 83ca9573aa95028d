import type { GatewayError } from '../core/errors.js';

/**
 * A dialect is one client API Gatehouse speaks on its routes: Ollama's native API, OpenAI's or
 * Anthropic's. Everything that differs between them lives in the dialect's module (ollama.ts,
 * openai.ts, anthropic.ts): how an error is written, how a missing model is answered, where the
 * output cap sits in a request, where token counts sit in a response, how a broken stream is ended,
 * which headers carry the client's credential. Each route row (routes/table.ts) names its dialect.
 */

/** `admin`: Gatehouse's own admin API (/admin/v1): its error shape only; it names no models and counts no tokens. */
export type DialectId = 'ollama' | 'openai' | 'anthropic' | 'admin';

/** How the response reports token usage (see proxy/accounting); each kind but `none` belongs to one dialect. */
export type Accounting =
  | 'none'
  | 'ollama-generate'
  | 'ollama-chat'
  | 'ollama-embed'
  | 'ollama-embeddings'
  | 'openai-chat'
  | 'openai-completions'
  | 'openai-embeddings'
  | 'openai-responses'
  | 'anthropic-messages'
  | 'openai-transcription';

/** Token counts read from one parsed object of a response. */
export interface Counts {
  prompt?: number;
  completion?: number;
}

/**
 * Top-level fields of a JSON request body as policy decoded them (policy/json-body.ts); a dialect
 * reads and rewrites them in place.
 */
export type BodyFields = Record<string, unknown>;

export interface Dialect {
  readonly id: DialectId;
  /** The accounting kinds of this dialect's routes (a route may also have `none`). */
  readonly accounting: readonly Accounting[];
  /**
   * Every JSON body field that names a model on this dialect's routes; each route row lists the
   * ones it reads (`modelFields` in routes/table.ts).
   */
  readonly modelFields: readonly string[];
  /** Top-level JSON body fields that carry the output cap on this dialect's routes (policy decodes them). */
  readonly outputFields: readonly string[];
  /** Request headers this dialect's clients send their credential in (never forwarded upstream). */
  readonly credentialHeaders: readonly string[];
  /** How this dialect streams: newline-delimited JSON or server-sent events. */
  readonly streamFormat: 'ndjson' | 'sse';
  /** Named SSE events after which one of this dialect's streams is over (an `error` event always is). */
  readonly finalEvents: readonly string[];

  /** A refusal as this dialect's clients expect an error body (the status is `err.status`). */
  errorBody(err: GatewayError, requestId: string): string;
  /** Ollama's own body for a model it does not have, as it writes it on this dialect's routes. */
  notFoundBody(message: string): string;
  /** The Content-Type that body goes out with. */
  readonly notFoundType: string;

  /**
   * Caps the output a request may produce at `cap`, in the field(s) this dialect's route of kind
   * `kind` carries it, rewriting the body in place. Returns the cap forwarded (0 for a kind with
   * no output cap) or the refusal for a cap field of the wrong type.
   */
  capOutput(kind: Accounting, fields: BodyFields, cap: number): number | GatewayError;
  /**
   * Turns on streamed usage for a streamed request of kind `kind` whose client did not ask for it,
   * where this dialect sends usage only when asked. True when it did (the tap strips it again).
   */
  injectStreamUsage(kind: Accounting, fields: BodyFields): boolean;

  /** Counts from a final JSON object or stream record (`event` = the SSE event name, if any); null = none here. */
  counts(kind: Accounting, o: Record<string, unknown>, event: string | null): Counts | null;
  /**
   * For a complete non-streamed body: the count fields read straight from its bytes, prompt then
   * completion (null = none), for the kinds where that is sound (usage-tap.ts says when).
   */
  readonly tailCountFields: Partial<Record<Accounting, readonly [Buffer, Buffer | null]>>;
  /** The names of the prompt and completion count fields of kind `kind` (for bodies too big to parse). */
  countFieldNames(kind: Accounting): readonly [string, string];

  /** The line that ends a broken NDJSON stream; null when this dialect's clients have none. */
  readonly ndjsonErrorLine: ((message: string) => string) | null;
  /**
   * The event that ends a broken SSE stream of kind `kind` so its clients raise (proxy/stream-break.ts);
   * `events` is how many named events the stream carried.
   */
  sseErrorEvent(kind: Accounting, message: string, events: number): string;
}
