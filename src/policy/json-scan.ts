import { checkStructKey, type BodyProblem } from './go-keys.js';

/**
 * A single-pass reader for JSON request bodies that never builds the document. Gatehouse needs only
 * a few facts from a body (the top-level members and where their values lie, how many images and
 * inputs it carries, that no struct field is spelled ambiguously), so this reads the bytes once,
 * keeps those facts and offsets, and leaves every value where it is. Memory stays at the body's
 * own bytes whatever their shape: `JSON.parse` of 32 MiB of `[[],[],…]` builds ~10 million arrays
 * (hundreds of MB), this keeps a 65-entry stack (docs/request-bodies.md).
 *
 * It runs incrementally: `run()` reads as far as the bytes received so far allow and stops before a
 * token that may continue, so a large body is read chunk by chunk as it arrives and never holds the
 * event loop for more than one chunk's worth of work.
 *
 * Strictness: the grammar is RFC 8259, checked everywhere for structure (brackets, commas, colons,
 * literals, numbers). Inside strings Gatehouse does not read (prompts, base64 images) only the end
 * of the string is found; Go refuses a raw control character there itself, and that can only turn a
 * request Gatehouse let through into one Ollama refuses, never change what Ollama reads. Anything
 * after the top-level object is refused (Go's decoder would ignore it).
 */

export type ValueKind = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null';

/** A top-level member: its key as Go decodes it and where it lies in the body. */
export interface RootMember {
  readonly key: string;
  /** Offset of the key's opening quote. */
  readonly keyStart: number;
  readonly valueStart: number;
  /** Offset just past the value. */
  readonly valueEnd: number;
  readonly kind: ValueKind;
}

export interface ScanResult {
  /** Top-level members in the order they were sent. */
  members: RootMember[];
  /**
   * Images the body carries, in every shape a route family uses (native `images` and
   * `messages[].images`, OpenAI `image_url` and `input_audio` parts, Anthropic `image` blocks and
   * those inside `tool_result` blocks, Responses `input_image` items and parts, the parts of a
   * `function_call_output`). Counted generously: never fewer than Ollama will decode.
   */
  images: number;
  /** Elements of a top-level `input` array; -1 when `input` is absent or not an array. */
  inputItems: number;
}

export const MAX_DEPTH = 64;

// What the reader expects next.
const S_START = 0;
const S_VALUE = 1;
const S_VALUE_OR_CLOSE = 2; // just after '['
const S_KEY_OR_CLOSE = 3; // just after '{'
const S_KEY = 4;
const S_COLON = 5;
const S_AFTER = 6;
const S_DONE = 7;

// What a container is, for the few facts policy needs. Everything else is OPAQUE: checked for
// structure, otherwise left alone.
const C_OPAQUE = 0;
const C_ROOT = 1;
const C_MESSAGES = 2; // messages: [...]
const C_MESSAGE = 3; // messages[i] and Responses input[i] (structs)
const C_CONTENT = 4; // messages[i].content: [...]
const C_PART = 5; // content parts and blocks (structs with a "type"; tool_result blocks nest more)
const C_INPUT = 6; // input: [...]
const C_IMAGES = 7; // images: [...]

/** Struct-typed objects, whose keys Go matches case-insensitively. */
const STRUCT = [false, true, false, true, false, true, false, false];

/** Part types Ollama hands the model as images (OpenAI's input_audio goes the same way). */
const IMAGE_PART = new Set(['image_url', 'image', 'input_image', 'input_audio']);
const IMAGE_ITEM = new Set(['input_image', 'image']);

class Frame {
  obj = false;
  ctx = C_OPAQUE;
  /** Offset of the opening bracket. */
  start = 0;
  /** Elements (arrays) or members (objects) completed so far. */
  count = 0;
  /** The key of the member being read (struct objects only). */
  key: string | null = null;
  keyStart = 0;
  /** The `type` member of a content part or input item. */
  type: string | null = null;
  folded: string[] = [];
  raw: string[] = [];

  reset(obj: boolean, ctx: number, start: number): void {
    this.obj = obj;
    this.ctx = ctx;
    this.start = start;
    this.count = 0;
    this.key = null;
    this.type = null;
    if (this.folded.length) {
      this.folded.length = 0;
      this.raw.length = 0;
    }
  }
}

export class JsonScanner {
  #pos = 0;
  #state = S_START;
  #depth = -1;
  readonly #frames: Frame[] = [];
  #problem: BodyProblem | null = null;
  readonly #result: ScanResult = { members: [], images: 0, inputItems: -1 };

  get problem(): BodyProblem | null {
    return this.#problem;
  }

  /**
   * Reads `buf[0, avail)` as far as it can. `buf` may be a different (grown) buffer on each call as
   * long as it holds the same bytes; offsets are kept, not references. Returns false on a problem.
   */
  run(buf: Buffer, avail: number): boolean {
    if (this.#problem) return false;
    let pos = this.#pos;
    while (pos < avail) {
      const c = buf[pos]!;
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        pos++;
        continue;
      }
      const state = this.#state;
      if (state === S_AFTER) {
        const f = this.#frames[this.#depth]!;
        if (c === 0x2c) {
          this.#state = f.obj ? S_KEY : S_VALUE;
          pos++;
        } else if ((c === 0x7d && f.obj) || (c === 0x5d && !f.obj)) {
          this.#close(pos);
          pos++;
        } else return this.#fail(pos, c, f.obj ? "after an object member (expected ',' or '}')" : "after an array element (expected ',' or ']')");
        continue;
      }
      if (state === S_KEY_OR_CLOSE || state === S_KEY) {
        if (c === 0x7d && state === S_KEY_OR_CLOSE) {
          this.#close(pos);
          pos++;
          continue;
        }
        if (c !== 0x22) return this.#fail(pos, c, 'where an object key was expected');
        const end = scanString(buf, pos, avail, true);
        if (end === INCOMPLETE) break;
        if (end === BAD_STRING) return this.#fail(pos, c, 'in an object key (control character or bad escape)');
        if (!this.#key(buf, pos, end)) return false;
        this.#state = S_COLON;
        pos = end;
        continue;
      }
      if (state === S_COLON) {
        if (c !== 0x3a) return this.#fail(pos, c, "after an object key (expected ':')");
        this.#state = S_VALUE;
        pos++;
        continue;
      }
      if (state === S_DONE) return this.#fail(pos, c, 'after the end of the JSON object (send one object and nothing after it)');
      // A value is expected (S_START, S_VALUE, S_VALUE_OR_CLOSE).
      if (state === S_VALUE_OR_CLOSE && c === 0x5d) {
        this.#close(pos);
        pos++;
        continue;
      }
      if (state === S_START && c !== 0x7b) {
        // Another JSON value is valid JSON but not a request; anything else is not JSON at all.
        if (c === 0x5b || c === 0x22 || c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e) return this.#failWhole();
        return this.#fail(pos, c, 'where the request object should begin');
      }
      if (c === 0x7b || c === 0x5b) {
        if (!this.#open(c === 0x7b, pos)) return false;
        pos++;
        continue;
      }
      let end: number;
      let kind: ValueKind;
      if (c === 0x22) {
        end = scanString(buf, pos, avail, false);
        kind = 'string';
      } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
        end = scanNumber(buf, pos, avail);
        if (end === BAD_NUMBER) return this.#fail(pos, c, 'in a number');
        kind = 'number';
      } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
        const word = c === 0x74 ? 'true' : c === 0x66 ? 'false' : 'null';
        if (pos + word.length > avail) break;
        if (buf.toString('latin1', pos, pos + word.length) !== word) return this.#fail(pos, c, `(expected ${word})`);
        end = pos + word.length;
        kind = c === 0x6e ? 'null' : 'boolean';
      } else return this.#fail(pos, c, 'where a value was expected');
      if (end === INCOMPLETE) break;
      this.#valueDone(buf, kind, pos, end);
      pos = end;
    }
    this.#pos = pos;
    return true;
  }

  /** After the last byte: the body must have been exactly one complete object. */
  finish(buf: Buffer, total: number): ScanResult | BodyProblem {
    if (!this.run(buf, total)) return this.#problem!;
    if (this.#state === S_START) return { code: 'GW_ERR_BODY_INVALID', message: 'request body must be a JSON object' };
    if (this.#state !== S_DONE) return { code: 'GW_ERR_BODY_INVALID_JSON', message: `request body is not valid JSON: it ends at byte ${total} before the object is complete` };
    return this.#result;
  }

  #open(obj: boolean, pos: number): boolean {
    if (this.#depth + 1 >= MAX_DEPTH) {
      this.#problem = { code: 'GW_ERR_BODY_INVALID', message: `request body is nested deeper than ${MAX_DEPTH} levels` };
      return false;
    }
    const parent = this.#depth >= 0 ? this.#frames[this.#depth]! : null;
    const ctx = parent === null ? C_ROOT : childContext(parent.ctx, parent.obj ? parent.key : null, obj);
    const d = ++this.#depth;
    const f = (this.#frames[d] ??= new Frame());
    f.reset(obj, ctx, pos);
    this.#state = obj ? S_KEY_OR_CLOSE : S_VALUE_OR_CLOSE;
    return true;
  }

  #close(pos: number): void {
    const f = this.#frames[this.#depth--]!;
    if (f.ctx === C_PART) {
      if (f.type !== null && IMAGE_PART.has(f.type)) this.#result.images++;
    } else if (f.ctx === C_MESSAGE) {
      if (f.type !== null && IMAGE_ITEM.has(f.type)) this.#result.images++;
    } else if (f.ctx === C_INPUT) {
      this.#result.inputItems = f.count;
    }
    if (this.#depth < 0) {
      this.#state = S_DONE;
      return;
    }
    this.#valueDone(null, f.obj ? 'object' : 'array', f.start, pos + 1);
  }

  /** A value of the container on top of the stack has been read completely. */
  #valueDone(buf: Buffer | null, kind: ValueKind, start: number, end: number): void {
    const f = this.#frames[this.#depth]!;
    f.count++;
    this.#state = S_AFTER;
    if (f.obj) {
      if (f.ctx === C_ROOT) {
        this.#result.members.push({ key: f.key!, keyStart: f.keyStart, valueStart: start, valueEnd: end, kind });
      } else if ((f.ctx === C_PART || f.ctx === C_MESSAGE) && f.key === 'type' && kind === 'string' && buf !== null && end - start <= 64) {
        f.type = decodeStringOrNull(buf, start, end);
      }
    } else if (f.ctx === C_IMAGES) {
      this.#result.images++;
    }
  }

  #key(buf: Buffer, start: number, end: number): boolean {
    const f = this.#frames[this.#depth]!;
    f.keyStart = start;
    if (!STRUCT[f.ctx]) {
      f.key = null;
      return true;
    }
    const key = decodeString(buf, start, end);
    f.key = key;
    const problem = checkStructKey(key, f.folded, f.raw, this.#where());
    if (problem) {
      this.#problem = problem;
      return false;
    }
    return true;
  }

  /** The path of the object being read, for messages: `messages[2].content[0].`. */
  #where(): string {
    let out = '';
    for (let d = 1; d <= this.#depth; d++) {
      const parent = this.#frames[d - 1]!;
      out += parent.obj ? `${d === 1 ? '' : '.'}${parent.key ?? '?'}` : `[${parent.count}]`;
    }
    return out === '' ? '' : out + '.';
  }

  #fail(pos: number, c: number, context: string): false {
    const ch = c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`;
    this.#problem = { code: 'GW_ERR_BODY_INVALID_JSON', message: `request body is not valid JSON: unexpected ${ch} at byte ${pos} ${context}` };
    return false;
  }

  #failWhole(): false {
    this.#problem = { code: 'GW_ERR_BODY_INVALID', message: 'request body must be a JSON object' };
    return false;
  }
}

function childContext(parent: number, key: string | null, obj: boolean): number {
  switch (parent) {
    case C_ROOT:
      if (obj) return C_OPAQUE;
      return key === 'messages' ? C_MESSAGES : key === 'input' ? C_INPUT : key === 'images' ? C_IMAGES : C_OPAQUE;
    case C_MESSAGES:
    case C_INPUT:
      return obj ? C_MESSAGE : C_OPAQUE;
    case C_MESSAGE:
      if (obj) return C_OPAQUE;
      // `output`: a Responses function_call_output item's parts, images included.
      return key === 'images' ? C_IMAGES : key === 'content' || key === 'output' ? C_CONTENT : C_OPAQUE;
    case C_CONTENT:
      return obj ? C_PART : C_OPAQUE;
    case C_PART:
      // An Anthropic tool_result block carries content blocks of its own, images included.
      return !obj && key === 'content' ? C_CONTENT : C_OPAQUE;
    default:
      return C_OPAQUE;
  }
}

const INCOMPLETE = -1;
const BAD_STRING = -2;
const BAD_NUMBER = -3;

/**
 * The offset just past the string that starts at `start` (a quote), INCOMPLETE if it does not end
 * before `avail`, BAD_STRING if `strict` and it holds a raw control character or a bad escape.
 * Keys are read strictly (Gatehouse decodes them); values are decoded only when policy reads them,
 * by JSON.parse, which checks them then.
 */
function scanString(buf: Buffer, start: number, avail: number, strict: boolean): number {
  let i = start + 1;
  // Most strings are short: a byte loop. Past 64 bytes of a value, native searches take over.
  const loopEnd = strict ? avail : Math.min(avail, i + 64);
  while (i < loopEnd) {
    const c = buf[i]!;
    if (c === 0x22) return i + 1;
    if (c === 0x5c) {
      if (i + 1 >= avail) return INCOMPLETE;
      const e = buf[i + 1]!;
      if (e === 0x75) {
        if (i + 6 > avail) return INCOMPLETE;
        if (strict && !(isHex(buf[i + 2]!) && isHex(buf[i + 3]!) && isHex(buf[i + 4]!) && isHex(buf[i + 5]!))) return BAD_STRING;
        i += 6;
      } else {
        if (strict && !SIMPLE_ESCAPE.has(e)) return BAD_STRING;
        i += 2;
      }
      continue;
    }
    if (strict && c < 0x20) return BAD_STRING;
    i++;
  }
  if (i >= avail) return INCOMPLETE;
  // A long value (a prompt, a base64 image): find the next quote, then any escape before it.
  for (;;) {
    const q = indexWithin(buf, 0x22, i, avail);
    if (q === -1) return INCOMPLETE;
    const b = indexWithin(buf, 0x5c, i, q);
    if (b === -1) return q + 1;
    i = b + (buf[b + 1] === 0x75 ? 6 : 2);
    if (i >= avail) return INCOMPLETE;
  }
}

/**
 * First `byte` in [from, to), or -1. Bounded on purpose: bytes past `to` may belong to later
 * strings (searching them would make a body of many long strings quadratic) or be stale.
 */
function indexWithin(buf: Buffer, byte: number, from: number, to: number): number {
  if (to - from <= 256) {
    for (let i = from; i < to; i++) if (buf[i] === byte) return i;
    return -1;
  }
  const r = buf.subarray(from, to).indexOf(byte);
  return r === -1 ? -1 : from + r;
}

const SIMPLE_ESCAPE = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/** RFC 8259 number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? */
function scanNumber(buf: Buffer, start: number, avail: number): number {
  let i = start;
  if (buf[i] === 0x2d) i++;
  if (i >= avail) return INCOMPLETE;
  if (buf[i] === 0x30) i++;
  else if (isDigit(buf[i]!)) while (i < avail && isDigit(buf[i]!)) i++;
  else return BAD_NUMBER;
  if (i < avail && buf[i] === 0x2e) {
    i++;
    if (i >= avail) return INCOMPLETE;
    if (!isDigit(buf[i]!)) return BAD_NUMBER;
    while (i < avail && isDigit(buf[i]!)) i++;
  }
  if (i < avail && (buf[i] === 0x65 || buf[i] === 0x45)) {
    i++;
    if (i < avail && (buf[i] === 0x2b || buf[i] === 0x2d)) i++;
    if (i >= avail) return INCOMPLETE;
    if (!isDigit(buf[i]!)) return BAD_NUMBER;
    while (i < avail && isDigit(buf[i]!)) i++;
  }
  // A number that runs to the end of what has arrived may go on in the next chunk.
  if (i >= avail) return INCOMPLETE;
  const c = buf[i]!;
  if (isDigit(c) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d) return BAD_NUMBER;
  return i;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** The string value of the JSON string at [start, end), escapes resolved as Go resolves them. */
export function decodeString(buf: Buffer, start: number, end: number): string {
  let plain = true;
  for (let i = start + 1; i < end - 1; i++) {
    const c = buf[i]!;
    if (c === 0x5c || c >= 0x80) {
      plain = false;
      break;
    }
  }
  if (plain) return buf.toString('latin1', start + 1, end - 1);
  return decodeJsonText(buf.toString('utf8', start, end)) as string;
}

function decodeStringOrNull(buf: Buffer, start: number, end: number): string | null {
  try {
    return decodeString(buf, start, end);
  } catch {
    return null; // not a valid JSON string: Ollama refuses the whole body
  }
}

/**
 * JSON.parse, with one Go rule applied: an escaped lone surrogate (`"\ud800"`) is U+FFFD to Go,
 * not an unpaired UTF-16 unit. Only strings Gatehouse reads pass through here.
 */
export function decodeJsonText(text: string): unknown {
  if (!SURROGATE_ESCAPE.test(text)) return JSON.parse(text);
  return JSON.parse(text, (_k, v: unknown) => (typeof v === 'string' ? v.replace(LONE_SURROGATE, '\uFFFD') : v));
}

/** `\uD800`–`\uDFFF` written as an escape: the only way JSON text can hold a lone surrogate. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Reads a whole body at once (tests, and bodies that arrived in one piece). */
export function scanJson(buf: Buffer): ScanResult | BodyProblem {
  const s = new JsonScanner();
  return s.finish(buf, buf.length);
}
