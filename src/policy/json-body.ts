/**
 * JSON request bodies as Ollama will read them. Go's encoding/json matches object keys to struct
 * fields case-insensitively (with Unicode simple folding: "K" U+212A folds to "k", "ſ" U+017F to
 * "s"), and the last of several matching keys wins. JavaScript reads exact keys. So
 * `{"model":"allowed","MODEL":"secret"}` would be authorized as one model and run as another.
 * Gatehouse closes that gap by refusing, in every struct-typed object Ollama decodes, any two keys
 * that fold to the same name and any non-canonical spelling of a field Gatehouse inspects.
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** Fields Gatehouse reads or rewrites: a case variant of one of these must never slip past. */
const POLICY_FIELDS = new Set([
  'model', 'name', 'source', 'destination', 'from', 'stream', 'stream_options', 'include_usage',
  'options', 'keep_alive', 'max_tokens', 'max_completion_tokens', 'max_output_tokens', 'images',
  'messages', 'input', 'prompt', 'system', 'insecure', 'remote_host', 'files', 'adapters', 'quantize',
  'tools', 'content', 'instructions', 'suffix', 'template', 'raw', 'context', 'think', 'format',
  // content parts (image counting) and /api/create file fields
  'type', 'source', 'image_url', 'draft_files', 'path', 'modelfile', 'quantization_source',
]);

export const MAX_DEPTH = 64;

/** Go's simple case folding restricted to what can fold onto ASCII field names. */
export function foldKey(key: string): string {
  let lower = key.toLowerCase(); // U+212A KELVIN SIGN lower-cases to "k"
  if (lower.includes('\u017f')) lower = lower.replace(/\u017f/g, 's');
  return lower;
}

export type BodyProblem = { code: 'GW_ERR_BODY_INVALID_JSON' | 'GW_ERR_BODY_INVALID' | 'GW_ERR_BODY_AMBIGUOUS_FIELD'; message: string };

export function parseJsonObject(text: string): { ok: true; body: JsonObject } | { ok: false; problem: BodyProblem } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof SyntaxError ? err.message : 'unparseable';
    return { ok: false, problem: { code: 'GW_ERR_BODY_INVALID_JSON', message: `request body is not valid JSON: ${detail}` } };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { ok: false, problem: { code: 'GW_ERR_BODY_INVALID', message: 'request body must be a JSON object' } };
  }
  const body = parsed as JsonObject;
  const depthProblem = checkDepth(body);
  if (depthProblem) return { ok: false, problem: depthProblem };
  const spelling = checkStructKeys(body, '') ?? checkNested(body);
  if (spelling) return { ok: false, problem: spelling };
  return { ok: true, body };
}

/**
 * Depth check without allocating: a recursion that stops at MAX_DEPTH, so a hostile `[[[[…]]]]`
 * (which JSON.parse accepts) is refused before anything walks it further.
 */
function checkDepth(root: Json): BodyProblem | null {
  return tooDeep(root, 1) ? { code: 'GW_ERR_BODY_INVALID', message: `request body is nested deeper than ${MAX_DEPTH} levels` } : null;
}

function tooDeep(node: Json, depth: number): boolean {
  if (node === null || typeof node !== 'object') return false;
  if (depth > MAX_DEPTH) return true;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) if (tooDeep(node[i]!, depth + 1)) return true;
  } else {
    for (const k in node) if (tooDeep(node[k]!, depth + 1)) return true;
  }
  return false;
}

/** The objects Ollama decodes into Go structs (maps such as `options`, `format`, `tools[].parameters` are case-sensitive in Go and skipped). */
function checkNested(body: JsonObject): BodyProblem | null {
  const so = body.stream_options;
  if (so && typeof so === 'object' && !Array.isArray(so)) {
    const p = checkStructKeys(so, 'stream_options.');
    if (p) return p;
  }
  // messages[] (chat, OpenAI, Anthropic) and input[] (Responses) are structs, and so are their
  // content parts, whose `type` decides what is an image.
  for (const list of ['messages', 'input'] as const) {
    const items = body[list];
    if (!Array.isArray(items)) continue;
    for (let i = 0; i < items.length; i++) {
      const m = items[i];
      if (!m || typeof m !== 'object' || Array.isArray(m)) continue;
      const p = checkStructKeys(m, `${list}[${i}].`);
      if (p) return p;
      const content = m.content;
      if (!Array.isArray(content)) continue;
      for (let j = 0; j < content.length; j++) {
        const part = content[j];
        if (!part || typeof part !== 'object' || Array.isArray(part)) continue;
        const q = checkStructKeys(part, `${list}[${i}].content[${j}].`);
        if (q) return q;
      }
    }
  }
  return null;
}

const PLAIN_KEY = /^[a-z0-9_]*$/;

function checkStructKeys(obj: JsonObject, where: string): BodyProblem | null {
  // Fast path: when every key is plain lower-case ASCII, each is its own fold and JSON.parse has
  // already merged exact duplicates, so no two keys can be one field to Go.
  let plain = true;
  for (const key in obj) {
    if (!PLAIN_KEY.test(key)) {
      plain = false;
      break;
    }
  }
  if (plain) return null;
  const seen = new Map<string, string>();
  for (const key in obj) {
    const folded = PLAIN_KEY.test(key) ? key : foldKey(key);
    if (folded !== key && POLICY_FIELDS.has(folded)) {
      return { code: 'GW_ERR_BODY_AMBIGUOUS_FIELD', message: `field "${where}${key}" must be spelled "${where}${folded}": Ollama reads field names case-insensitively, Gatehouse does not guess` };
    }
    const prev = seen.get(folded);
    if (prev !== undefined) {
      return { code: 'GW_ERR_BODY_AMBIGUOUS_FIELD', message: `fields "${where}${prev}" and "${where}${key}" are the same field to Ollama (names are case-insensitive); send it once` };
    }
    seen.set(folded, key);
  }
  return null;
}
