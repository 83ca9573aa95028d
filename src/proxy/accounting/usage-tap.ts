import type { TokenUsage } from '../../core/types.js';
import { DIALECTS, dialectOfAccounting, type Accounting, type Counts, type Dialect } from '../../dialects/index.js';
import { LineSplitter } from './lines.js';

/**
 * Watches a response stream for token usage while passing its bytes through unchanged. Only the
 * lines that can carry counts are parsed: the `done` line of an NDJSON stream, the `data:` of an
 * SSE event that mentions usage. When Gatehouse itself asked Ollama for streamed usage
 * (`stream_options.include_usage`) on behalf of a client that did not, the usage-only event is
 * removed again so the client sees the stream it asked for.
 */

export type StreamMode = 'ndjson' | 'sse' | 'json';

export interface TapOptions {
  kind: Accounting;
  mode: StreamMode;
  /** Drop the usage-only SSE chunk (and zeroed per-chunk usage) that Gatehouse asked for. */
  stripInjectedUsage: boolean;
  /** Non-streamed JSON bodies are parsed whole up to this size; bigger ones are scanned. */
  maxJson?: number;
}

const DONE_MARK = Buffer.from('"done":true');
const ERROR_MARK = Buffer.from('{"error"');
const USAGE_MARK = Buffer.from('"usage"');
/** Named SSE events after which a stream is over: each dialect's last events (Anthropic's, the Responses API's), or an error. */
const FINAL_EVENTS = new Set(['error', ...DIALECTS.flatMap((d) => d.finalEvents)]);
const ZERO_USAGE = ',"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}';

export class UsageTap {
  readonly #o: TapOptions;
  /** Reads the counts: the dialect the accounting kind belongs to. */
  readonly #dialect: Dialect;
  readonly #lines = new LineSplitter();
  #prompt: number | undefined;
  #completion: number | undefined;
  /** Content-bearing chunks seen: the estimate of completion tokens when no count arrives. */
  #chunks = 0;
  #event: string | null = null;
  #json: Buffer[] | null = null;
  #jsonBytes = 0;
  /** SSE drop mode: bytes of the event being assembled. */
  #eventBuf: Buffer[] = [];
  #dropEvent = false;
  /** Error text Ollama put into the stream after it started (native `{"error":…}` line). */
  upstreamError: string | null = null;
  /** True once a final record (done line, [DONE], message_stop, response.completed/failed/incomplete, an error event) passed. */
  sawEnd = false;
  /** A native stream's final `load_duration` (ns), when it had one. */
  loadNs: number | null = null;
  /** Named SSE events seen (`event:` lines): the sequence number an appended Responses event takes. */
  sseEvents = 0;

  constructor(o: TapOptions) {
    this.#o = o;
    this.#dialect = dialectOfAccounting(o.kind);
    if (o.mode === 'json') this.#json = [];
  }

  /** Returns what to send to the client for this upstream chunk. */
  data(chunk: Buffer): Buffer | null {
    switch (this.#o.mode) {
      case 'ndjson':
        // The common chunk, whole lines of content with no final or error line among them, is only
        // counted: no slice or call per line. A chunk that ends mid-line, follows one that did, or
        // holds either marker anywhere takes the line-by-line path, which decides the same way.
        if (this.#o.kind !== 'ollama-embed' && !this.#lines.holding && chunk.length > 0 && chunk[chunk.length - 1] === 10 &&
          chunk.indexOf(DONE_MARK) === -1 && chunk.indexOf(ERROR_MARK) === -1) {
          this.#chunks += nonEmptyLines(chunk);
          return chunk;
        }
        this.#lines.push(chunk, this.#ndjsonLine);
        return chunk;
      case 'json':
        this.#collectJson(chunk);
        return chunk;
      case 'sse':
        if (!this.#o.stripInjectedUsage) {
          this.#lines.push(chunk, this.#sseLine);
          return chunk;
        }
        return this.#sseRewrite(chunk);
    }
  }

  /** Flushes held bytes at the end of the stream. */
  end(): Buffer | null {
    if (this.#o.mode === 'ndjson') {
      const last = this.#lines.flush();
      if (last) this.#ndjsonLine(last);
      return null;
    }
    if (this.#o.mode === 'json') {
      this.#finishJson();
      return null;
    }
    const last = this.#lines.flush();
    if (!this.#o.stripInjectedUsage) {
      if (last) this.#sseLine(last);
      return null;
    }
    if (last) {
      this.#eventBuf.push(last);
      this.#sseLine(last);
    }
    const rest = this.#dropEvent || this.#eventBuf.length === 0 ? null : Buffer.concat(this.#eventBuf);
    this.#eventBuf = [];
    return rest;
  }

  /**
   * Final usage. When no count arrived (client gone, upstream died, a route without counts) it is
   * estimated: prompt from the request's size, completion as one token per content chunk. Never
   * zero for a request that produced output.
   */
  usage(promptEstimate: number): TokenUsage {
    const estimated = this.#prompt === undefined || this.#completion === undefined;
    return {
      prompt: this.#prompt ?? promptEstimate,
      completion: this.#completion ?? this.#chunks,
      estimated,
    };
  }

  #apply(c: Counts | null): void {
    if (!c) return;
    if (c.prompt !== undefined) this.#prompt = c.prompt;
    if (c.completion !== undefined) this.#completion = c.completion;
  }

  readonly #ndjsonLine = (line: Buffer): void => {
    if (line.length === 0) return;
    const done = line.includes(DONE_MARK);
    const err = !done && line.subarray(0, 16).includes(ERROR_MARK);
    if (!done && !err) {
      this.#chunks++;
      if (this.#o.kind !== 'ollama-embed') return;
    }
    const o = parseObject(line);
    if (!o) return;
    if (err && typeof o.error === 'string') {
      this.upstreamError = o.error;
      return;
    }
    if (done) {
      this.sawEnd = true;
      // How long Ollama spent loading the model for this request (ns): the fleet learns load costs from it.
      if (typeof o.load_duration === 'number') this.loadNs = o.load_duration;
    }
    // Counts are read from a stream only in the framing its dialect streams in.
    if (this.#dialect.streamFormat === 'ndjson') this.#apply(this.#dialect.counts(this.#o.kind, o, null));
  };

  readonly #sseLine = (raw: Buffer): void => {
    const line = raw.length && raw[raw.length - 1] === 13 ? raw.subarray(0, raw.length - 1) : raw;
    if (line.length === 0) {
      this.#event = null;
      return;
    }
    // "event: name" (Responses and Anthropic streams name their events)
    if (line[0] === 101 /* e */ && line.subarray(0, 6).toString('latin1') === 'event:') {
      this.#event = line.subarray(6).toString('utf8').trim();
      this.sseEvents++;
      if (FINAL_EVENTS.has(this.#event)) this.sawEnd = true;
      return;
    }
    if (line[0] !== 100 /* d */ || line.subarray(0, 5).toString('latin1') !== 'data:') return;
    const payload = line.subarray(line[5] === 32 ? 6 : 5);
    if (payload.length === 6 && payload.toString('latin1') === '[DONE]') {
      this.sawEnd = true;
      return;
    }
    const mentionsUsage = payload.includes(USAGE_MARK);
    if (!mentionsUsage) {
      this.#chunks++;
      return;
    }
    const o = parseObject(payload);
    if (!o) return;
    const counts = this.#dialect.streamFormat === 'sse' ? this.#dialect.counts(this.#o.kind, o, this.#event) : null;
    if (counts === null || Array.isArray(o.choices) && o.choices.length > 0) this.#chunks++;
    this.#apply(counts);
    if (this.#o.stripInjectedUsage && Array.isArray(o.choices) && o.choices.length === 0 && counts) this.#dropEvent = true;
  };

  /** SSE with injected usage: forward whole events, minus the usage-only one. */
  #sseRewrite(chunk: Buffer): Buffer | null {
    const out: Buffer[] = [];
    this.#lines.push(chunk, (line) => {
      const isBlank = line.length === 0 || (line.length === 1 && line[0] === 13);
      let kept = line;
      if (!isBlank && this.#o.kind === 'openai-completions' && line.includes(USAGE_MARK)) {
        const text = line.toString('utf8');
        if (text.includes(ZERO_USAGE)) {
          kept = Buffer.from(text.replace(ZERO_USAGE, ''), 'utf8');
        }
      }
      this.#sseLine(line);
      this.#eventBuf.push(kept, NEWLINE);
      if (isBlank) {
        if (!this.#dropEvent) out.push(...this.#eventBuf);
        this.#eventBuf = [];
        this.#dropEvent = false;
      }
    });
    return out.length === 0 ? null : out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  #collectJson(chunk: Buffer): void {
    const max = this.#o.maxJson ?? 4 * 1024 * 1024;
    this.#jsonBytes += chunk.length;
    if (this.#json && this.#jsonBytes <= max) {
      this.#json.push(chunk);
      return;
    }
    // Too big to parse whole (e.g. a large embedding batch): keep only a tail window; counts are
    // serialized after the payload in every shape Ollama returns.
    const keep = 64 * 1024;
    const all = this.#json ? Buffer.concat([...this.#json, chunk]) : chunk;
    this.#json = [all.subarray(Math.max(0, all.length - keep))];
  }

  #finishJson(): void {
    if (!this.#json) return;
    const body = this.#json.length === 1 ? this.#json[0]! : Buffer.concat(this.#json);
    this.#json = null;
    const max = this.#o.maxJson ?? 4 * 1024 * 1024;
    const scanned = this.#jsonBytes <= max ? scanTail(this.#o.kind, body) : null;
    if (scanned) {
      this.#chunks = 1;
      this.#apply(scanned);
      this.sawEnd = true;
      return;
    }
    if (this.#jsonBytes <= max) {
      const o = parseObject(body);
      if (o) {
        this.#chunks = 1;
        if (typeof o.error === 'string') this.upstreamError = o.error;
        this.#apply(this.#dialect.counts(this.#o.kind, o, null));
        this.sawEnd = true;
        return;
      }
    }
    this.#apply(scanCounts(this.#dialect.countFieldNames(this.#o.kind), body.toString('utf8')));
  }
}

const NEWLINE = Buffer.from('\n');

/**
 * Counts from a complete non-streamed body without decoding it: the last occurrence of each
 * count field, read as bytes. Sound for these shapes because Go serializes the counts after
 * everything a model or client controls (Ollama's Metrics are the last fields of a response,
 * OpenAI's `usage` the last of a completion), and inside JSON strings a quote is always escaped,
 * so `"eval_count":` can only be the field itself. Saves a string copy and a parse per request.
 * Returns null for other kinds or when the fields are absent (the caller parses instead).
 */
const TAIL_FIELDS: Partial<Record<Accounting, readonly [Buffer, Buffer | null]>> = Object.assign({}, ...DIALECTS.map((d) => d.tailCountFields));

function scanTail(kind: Accounting, body: Buffer): Counts | null {
  const fields = TAIL_FIELDS[kind];
  if (!fields) return null;
  const prompt = lastNumber(body, fields[0]);
  if (prompt === undefined) return null;
  const completion = fields[1] ? lastNumber(body, fields[1]) : 0;
  return { prompt, completion: completion ?? 0 };
}

function lastNumber(buf: Buffer, field: Buffer): number | undefined {
  const at = buf.lastIndexOf(field);
  if (at === -1) return undefined;
  let n = 0;
  let digits = 0;
  for (let i = at + field.length; i < buf.length && digits < 16; i++, digits++) {
    const c = buf[i]!;
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  return digits > 0 ? n : undefined;
}

/** Lines in a chunk of whole lines, not counting empty ones (the line-by-line path skips those too). */
function nonEmptyLines(chunk: Buffer): number {
  let n = 0;
  let start = 0;
  for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
    if (nl > start) n++;
    start = nl + 1;
  }
  return n;
}

function parseObject(buf: Buffer): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(buf.toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Last occurrence of each count field (prompt, completion) in a body too large to parse whole. */
function scanCounts([promptField, completionField]: readonly [string, string], text: string): Counts | null {
  const last = (field: string): number | undefined => {
    const re = new RegExp(`"${field}":(\\d+)`, 'g');
    let m: RegExpExecArray | null;
    let v: number | undefined;
    while ((m = re.exec(text))) v = Number(m[1]);
    return v;
  };
  const p = last(promptField);
  return p === undefined ? null : { prompt: p, completion: last(completionField) ?? 0 };
}
