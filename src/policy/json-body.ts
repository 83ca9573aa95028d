import { DIALECTS } from '../dialects/index.js';
import { checkStructKey, type BodyProblem } from './go-keys.js';
import { decodeJsonText, decodeString, scanJson, type RootMember, type ScanResult, type ValueKind } from './json-scan.js';

/**
 * A JSON request body as Gatehouse checks and forwards it. The top-level fields policy reads or
 * rewrites (model names, stream, options, limits, management fields) are decoded into `fields`;
 * every other member stays as the client's bytes. What is forwarded is rebuilt from both: the
 * decoded fields written out again by Gatehouse (so Ollama reads exactly the values that were
 * checked, with duplicates and odd spellings already refused), everything else copied unchanged.
 * Nothing of the size of the body is ever parsed into objects (json-scan.ts says why).
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };
export type { BodyProblem } from './go-keys.js';

/** Top-level fields decoded for policy, with the most bytes Gatehouse will decode for each. */
const DECODED: ReadonlyMap<string, number> = new Map<string, number>([
  // Every field a dialect names a model in or carries the output cap in (src/dialects/).
  ...DIALECTS.flatMap((d) => d.modelFields.map((f): [string, number] => [f, 4096])),
  ...DIALECTS.flatMap((d) => d.outputFields.map((f): [string, number] => [f, 256])),
  ['remote_host', 4096], ['stream', 64], ['stream_options', 4096], ['options', 64 * 1024], ['keep_alive', 256], ['insecure', 64],
  // /api/create: maps of file name → blob digest (a sharded model has hundreds), and fields refused outright.
  ['files', 1 << 20], ['adapters', 1 << 20], ['draft_files', 1 << 20], ['path', 4096], ['modelfile', 1 << 20], ['quantization_source', 4096],
]);

export class RequestBody {
  /** The decoded fields; policy reads and rewrites these. A field set to undefined is removed. */
  readonly fields: JsonObject;

  constructor(
    /** The client's bytes. */
    readonly bytes: Buffer,
    readonly scan: ScanResult,
    fields: JsonObject,
  ) {
    this.fields = fields;
  }

  /** The JSON type of a top-level member as sent, decoded or not. */
  kind(key: string): ValueKind | undefined {
    // A request has a handful of members: a scan is cheaper than building a map per request.
    const members = this.scan.members;
    for (let i = 0; i < members.length; i++) if (members[i]!.key === key) return members[i]!.kind;
    return undefined;
  }

  /**
   * The body to forward, as pieces (large untouched members are views of the client's bytes, not
   * copies). Members keep their order; fields policy added come last.
   */
  forwardPieces(): Buffer[] {
    const pieces: Buffer[] = [];
    const written: string[] = [];
    let text = '{';
    for (const m of this.scan.members) {
      if (DECODED.has(m.key)) {
        written.push(m.key);
        const v = this.fields[m.key];
        if (v === undefined) continue;
        text += `${text === '{' && pieces.length === 0 ? '' : ','}${JSON.stringify(m.key)}:${JSON.stringify(v)}`;
      } else {
        // Text gathered so far goes out first, then the member's own bytes, uncopied.
        text += text === '{' && pieces.length === 0 ? '' : ',';
        pieces.push(Buffer.from(text), this.bytes.subarray(m.keyStart, m.valueEnd));
        text = '';
      }
    }
    for (const k of Object.keys(this.fields)) {
      const v = this.fields[k];
      if (v === undefined || written.includes(k)) continue;
      text += `${text === '{' && pieces.length === 0 ? '' : ','}${JSON.stringify(k)}:${JSON.stringify(v)}`;
    }
    pieces.push(Buffer.from(text + '}'));
    return pieces;
  }
}

/** Decodes the fields policy reads from a scanned body. */
export function decodeRequestBody(bytes: Buffer, scan: ScanResult): RequestBody | BodyProblem {
  const fields: JsonObject = {};
  for (const m of scan.members) {
    const max = DECODED.get(m.key);
    if (max === undefined) continue;
    const decoded = decodeMember(bytes, m, max);
    if (decoded.problem) return decoded.problem;
    fields[m.key] = decoded.value;
  }
  const so = fields.stream_options;
  if (so && typeof so === 'object' && !Array.isArray(so)) {
    // A struct to Go (OpenAI StreamOptions): its keys fold like the body's own. (Exact duplicates
    // cannot matter: decoded fields are forwarded as Gatehouse writes them, once.)
    const seen: string[] = [];
    const raw: string[] = [];
    for (const k of Object.keys(so)) {
      const p = checkStructKey(k, seen, raw, 'stream_options.');
      if (p) return p;
    }
  }
  return new RequestBody(bytes, scan, fields);
}

/** Scans and decodes in one go (a body that arrived whole; tests). */
export function parseRequestBody(bytes: Buffer): RequestBody | BodyProblem {
  const scan = scanJson(bytes);
  if ('code' in scan) return scan;
  return decodeRequestBody(bytes, scan);
}

function decodeMember(bytes: Buffer, m: RootMember, max: number): { value: Json; problem?: undefined } | { problem: BodyProblem; value?: undefined } {
  if (m.valueEnd - m.valueStart > max) {
    return { problem: { code: 'GW_ERR_BODY_INVALID', message: `field "${m.key}" is larger than Gatehouse reads (${max} bytes); send a shorter value` } };
  }
  try {
    switch (m.kind) {
      case 'boolean':
        return { value: bytes[m.valueStart] === 0x74 };
      case 'null':
        return { value: null };
      case 'number':
        // The scanner checked the JSON number grammar, which JavaScript's Number reads alike.
        return { value: Number(bytes.toString('latin1', m.valueStart, m.valueEnd)) };
      case 'string':
        return { value: decodeString(bytes, m.valueStart, m.valueEnd) };
      default:
        return { value: decodeJsonText(bytes.toString('utf8', m.valueStart, m.valueEnd)) as Json };
    }
  } catch (err) {
    const detail = err instanceof SyntaxError ? err.message : 'unreadable';
    return { problem: { code: 'GW_ERR_BODY_INVALID_JSON', message: `request body is not valid JSON: field "${m.key}": ${detail}` } };
  }
}
