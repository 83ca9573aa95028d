import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { buildGoReader, findGo } from './go-toolchain.js';

/**
 * The bridge to test/differential/go: a Go program (standard library only) that reads a request
 * body exactly as Ollama does, so a property test can hold Gatehouse's reading of the bytes it
 * forwards against Go's own. One long-running process; requests are pipelined (many in flight,
 * answers matched in order).
 *
 *   const why = await goReaderUnavailable();   // skip message, or throws under CI=true
 *   const go = await GoReader.start();
 *   const r = await go.read('chat', 'application/json', body);
 *   await go.close();
 */

/** Route ids whose body the reader understands (Gatehouse's src/routes/table.ts). */
export type GoRouteId =
  | 'show' | 'generate' | 'chat' | 'embed' | 'embeddings'
  | 'openai.chat' | 'openai.completions' | 'openai.embeddings' | 'openai.responses'
  | 'anthropic.messages' | 'openai.transcriptions'
  | 'pull' | 'push' | 'create' | 'copy' | 'delete' | 'web_search' | 'web_fetch';

/** An int64 that may be unset, as a decimal string (int64 does not fit a JS number). */
export interface GoInt64 {
  set: boolean;
  /** Decimal int64; "0" when not set. */
  value: string;
}

/** An *api.Duration: set=false for a nil pointer (absent or null); otherwise nanoseconds. */
export interface GoKeepAlive {
  set: boolean;
  /** Decimal int64 nanoseconds; "9223372036854775807" is "forever" (any negative input). */
  ns: string;
}

/**
 * Where Ollama turns the body down, before touching any model, registry or file:
 * - decode: gin's ShouldBindJSON (json.Decoder, first value only) returned an error, or the body is empty;
 * - multipart: ParseMultipartForm(25<<20) failed (including the header rules newer Go enforces);
 * - validate: a check on the decoded body (top_logprobs outside 0..20 on generate/chat; show and
 *   push with neither model nor name; embed "invalid input type"; create's file/adapter paths and
 *   digests, draft_quantize without draft_files; /v1/embeddings
 *   encoding_format/empty input; /v1/chat/completions with no messages; /v1/messages with no
 *   model, max_tokens <= 0 or no messages; transcription without model, file, or with an empty file;
 *   web_search/web_fetch with an empty body);
 * - convert: an OpenAI/Anthropic middleware's conversion failed (bad content part, image URL,
 *   reasoning effort, tool arguments or schema, unsupported image source …);
 * - options: (*api.Options).FromMap refused an option's type (generate, chat, embed, embeddings,
 *   and the options a compatibility middleware builds);
 * - frame / panic: a problem of the reader itself (unknown route id): a test bug, never Ollama's.
 */
export type GoStage = 'decode' | 'multipart' | 'validate' | 'convert' | 'options' | 'frame' | 'panic';

export interface GoRefused {
  ok: false;
  stage: GoStage;
  error: string;
}

/**
 * What Ollama reads from an accepted body. Only the keys that apply to the route are present:
 *
 * | key | routes |
 * |---|---|
 * | models | all but web_search/web_fetch |
 * | stream | generate, chat, pull, push, create (*bool: null = absent/null, which streams); openai.chat, openai.completions, anthropic.messages (bool); openai.responses (*bool: only true streams) |
 * | includeUsage | openai.chat, openai.completions |
 * | outputCap | generate, chat, openai.chat, openai.completions, openai.responses, anthropic.messages |
 * | numCtx, runnerOptions | generate, chat, embed, embeddings |
 * | keepAlive | generate, chat, embed, embeddings |
 * | images | generate, chat, openai.chat, openai.responses, anthropic.messages |
 * | embedInputs | embed, openai.embeddings |
 * | cloudPassthrough | openai.chat, openai.completions, openai.embeddings, openai.responses, anthropic.messages |
 * | from, remoteHost, files, adapters, draftFiles | create |
 * | insecure | pull, push |
 * | model, modelValues, hasFile, fileSize, fields | openai.transcriptions |
 */
export interface GoAccepted {
  ok: true;
  /**
   * The route's model-naming fields exactly as Go decoded them ("" when absent or null):
   * show/pull/push/delete {model, name}; create {model, name, from}; copy {source, destination};
   * the inference routes {model}; openai.transcriptions {model} (= FormValue("model")).
   * Not trimmed or parsed: Ollama trims and parses names later (model-ref rules). When
   * cloudPassthrough is set, {model} is the passthrough's model (the one Ollama acts on).
   */
  models?: Record<string, string>;
  stream?: boolean | null;
  /** stream_options.include_usage; null when stream_options is absent or null. */
  includeUsage?: boolean | null;
  /**
   * The num_predict the runner gets from this request: options.num_predict via FromMap's rules
   * (int64(float64) truncation; out of range = this architecture's conversion, math.MinInt64 on
   * amd64) on native routes; max_tokens / max_output_tokens / Anthropic max_tokens after the
   * middleware's JSON round trip (so above 2^53 it is rounded to a float64 first). set=false:
   * the model's default applies. max_completion_tokens is never read.
   */
  outputCap?: GoInt64;
  /** options.num_ctx via FromMap; set=false: the default applies. */
  numCtx?: GoInt64;
  /** Which of num_gpu, main_gpu, num_batch, num_thread, use_mmap options carries a non-null value, in that order. */
  runnerOptions?: string[];
  keepAlive?: GoKeepAlive;
  /**
   * Media entries handed to the model: native images + messages[].images (every entry, null
   * included); OpenAI image_url parts and input_audio parts (Ollama carries audio in the same
   * Images slice); Responses input_image parts with an image_url (in messages and in
   * function_call_output arrays); Anthropic image blocks and images inside tool_result content.
   */
  images?: number;
  /** Inputs the embed handler will embed ("" → 0 on /api/embed, 1 on /v1/embeddings). */
  embedInputs?: number;
  /**
   * The model when Ollama's cloudPassthroughMiddleware proxies the RAW body to ollama.com: the
   * value of the exactly-spelled "model" key (whole-body json.Unmarshal, last exact key wins,
   * trimmed) when it names a valid model with a :cloud / -cloud source and no built-in web-search
   * tool is declared; null otherwise (the struct reading in `models` then applies). When set, the
   * body is never bound locally, so it is accepted even if the binding would refuse it; the other
   * keys are then present only if the local reading succeeds (what ollama.com, running the same
   * code, would read).
   */
  cloudPassthrough?: string | null;
  from?: string;
  remoteHost?: string;
  /** null = absent or JSON null (a nil map); {} = an empty object. Keys are exact. */
  files?: Record<string, string> | null;
  adapters?: Record<string, string> | null;
  draftFiles?: Record<string, string> | null;
  insecure?: boolean;
  /** FormValue("model"): the first value of the first form field named exactly "model". */
  model?: string;
  /** Every value of the "model" form field, in body order. */
  modelValues?: string[];
  hasFile?: boolean;
  /** Bytes of the first "file" part (after quoted-printable decoding, if any). */
  fileSize?: number;
  /** Every text (non-file) form field: name → values in body order. */
  fields?: Record<string, string[]>;
}

export type GoReading = GoRefused | GoAccepted;

let availability: Promise<string | null> | null = null;

/**
 * null when Go can be used; otherwise a message saying why the differential tests are skipped.
 * Under CI=true a missing Go is a failure, not a skip: it throws.
 */
export function goReaderUnavailable(): Promise<string | null> {
  availability ??= (async () => {
    if (findGo()) return null;
    const why = 'the Go toolchain (`go`) is not on PATH; the differential tests against Go are skipped. Install Debian\'s golang-go (.ci/run does); under CI=true this fails.';
    if (process.env.CI === 'true') throw new Error(why);
    return why;
  })();
  return availability;
}

interface Pending {
  resolve: (r: GoReading) => void;
  reject: (e: Error) => void;
}

export class GoReader {
  readonly #proc: ChildProcessWithoutNullStreams;
  readonly #pending: Pending[] = [];
  #buffered = '';
  #stderr = '';
  #failure: Error | null = null;

  private constructor(proc: ChildProcessWithoutNullStreams) {
    this.#proc = proc;
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => this.#onData(chunk));
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk: string) => { this.#stderr = (this.#stderr + chunk).slice(-4000); });
    proc.on('error', (err) => this.#fail(err));
    proc.on('exit', (code, signal) => this.#fail(new Error(`goreader exited (${signal ?? code}) with ${this.#pending.length} answers owed${this.#stderr ? `: ${this.#stderr}` : ''}`)));
    proc.stdin.on('error', (err) => this.#fail(err));
  }

  /** Builds the program if needed (cached in os.tmpdir() by source hash) and starts it. */
  static async start(): Promise<GoReader> {
    const go = findGo();
    if (!go) throw new Error('the Go toolchain (`go`) is not on PATH');
    const bin = buildGoReader(go);
    return new GoReader(spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  /** Go's reading of one body. Calls may overlap freely; answers come back in order. */
  read(routeId: GoRouteId, contentType: string, body: Buffer | string): Promise<GoReading> {
    if (this.#failure) return Promise.reject(this.#failure);
    const frame = encodeFrame(routeId, contentType, typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
    return new Promise<GoReading>((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#proc.stdin.write(frame);
    });
  }

  /** Ends the process after it has answered everything asked so far. */
  async close(): Promise<void> {
    if (this.#proc.exitCode !== null || this.#proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#proc.once('exit', () => resolve()));
    this.#proc.stdin.end();
    await exited;
  }

  #onData(chunk: string): void {
    this.#buffered += chunk;
    let nl: number;
    while ((nl = this.#buffered.indexOf('\n')) !== -1) {
      const line = this.#buffered.slice(0, nl);
      this.#buffered = this.#buffered.slice(nl + 1);
      const waiter = this.#pending.shift();
      if (!waiter) {
        this.#fail(new Error(`goreader answered a frame nobody asked about: ${line}`));
        return;
      }
      const parsed = JSON.parse(line) as GoReading;
      if (typeof parsed.ok !== 'boolean') waiter.reject(new Error(`goreader answer without "ok": ${line}`));
      else waiter.resolve(parsed);
    }
  }

  #fail(err: Error): void {
    if (this.#pending.length === 0 && this.#proc.exitCode === 0) return; // a clean close
    this.#failure ??= err;
    for (const waiter of this.#pending.splice(0)) waiter.reject(this.#failure);
  }
}

/** Three fields, each a uint32 big-endian length and its bytes: route id, Content-Type, body. */
export function encodeFrame(routeId: string, contentType: string, body: Buffer): Buffer {
  const route = Buffer.from(routeId, 'utf8');
  const ct = Buffer.from(contentType, 'latin1');
  const out = Buffer.allocUnsafe(12 + route.length + ct.length + body.length);
  let at = 0;
  for (const field of [route, ct, body]) {
    out.writeUInt32BE(field.length, at);
    field.copy(out, at + 4);
    at += 4 + field.length;
  }
  return out;
}
