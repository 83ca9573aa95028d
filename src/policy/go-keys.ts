import { DIALECTS } from '../dialects/index.js';

/**
 * How Go's encoding/json matches JSON keys to struct fields, which is how Ollama binds every request
 * body (docs/ollama-api-notes.md §4.5): exact name first, then case-insensitively with Unicode simple
 * folding, where "K" U+212A KELVIN SIGN folds to "k" and "ſ" U+017F LATIN SMALL LETTER LONG S to "s".
 * JavaScript reads exact keys only, so `{"model":"allowed","MODEL":"secret"}` would be authorized as
 * one model and run as another. Gatehouse refuses, in every struct-typed object it reads, any two
 * keys that fold to one name and any non-canonical spelling of a field it inspects.
 */

/** Fields Gatehouse reads or rewrites: a case variant of one of these must never slip past. */
export const POLICY_FIELDS: ReadonlySet<string> = new Set([
  // every field a dialect names a model in or carries the output cap in (src/dialects/); the rest:
  ...DIALECTS.flatMap((d) => [...d.modelFields, ...d.outputFields]),
  'model', 'name', 'source', 'destination', 'from', 'stream', 'stream_options', 'include_usage',
  'options', 'keep_alive', 'max_tokens', 'max_completion_tokens', 'max_output_tokens', 'images',
  'messages', 'input', 'prompt', 'system', 'insecure', 'remote_host', 'files', 'adapters', 'quantize',
  'tools', 'content', 'instructions', 'suffix', 'template', 'raw', 'context', 'think', 'format',
  // content parts (image counting) and /api/create file fields
  'type', 'image_url', 'draft_files', 'path', 'modelfile', 'quantization_source',
]);

/** Go's simple case folding restricted to what can fold onto ASCII field names. */
export function foldKey(key: string): string {
  let lower = key.toLowerCase(); // U+212A KELVIN SIGN lower-cases to "k"
  if (lower.includes('\u017f')) lower = lower.replace(/\u017f/g, 's');
  return lower;
}

/** Keys that are their own fold: lower-case ASCII letters, digits and underscores. */
export const PLAIN_KEY = /^[a-z0-9_]*$/;

export type BodyProblemCode = 'GW_ERR_BODY_INVALID_JSON' | 'GW_ERR_BODY_INVALID' | 'GW_ERR_BODY_AMBIGUOUS_FIELD';
export interface BodyProblem {
  code: BodyProblemCode;
  message: string;
}

/**
 * Adds `key` to the keys already seen in one struct-typed object, or says why it cannot be read
 * unambiguously. `seen` holds folded keys, `raw` the keys as written (for the message).
 */
export function checkStructKey(key: string, seen: string[], raw: string[], where: string): BodyProblem | null {
  const folded = PLAIN_KEY.test(key) ? key : foldKey(key);
  if (folded !== key && POLICY_FIELDS.has(folded)) {
    return { code: 'GW_ERR_BODY_AMBIGUOUS_FIELD', message: `field "${where}${key}" must be spelled "${where}${folded}": Ollama reads field names case-insensitively, Gatehouse does not guess` };
  }
  const at = seen.indexOf(folded);
  if (at !== -1) {
    const prev = raw[at]!;
    return prev === key
      ? { code: 'GW_ERR_BODY_AMBIGUOUS_FIELD', message: `field "${where}${key}" is sent more than once; send it once` }
      : { code: 'GW_ERR_BODY_AMBIGUOUS_FIELD', message: `fields "${where}${prev}" and "${where}${key}" are the same field to Ollama (names are case-insensitive); send it once` };
  }
  seen.push(folded);
  raw.push(key);
  return null;
}
