/**
 * Ollama model names, normalized the way Ollama resolves them (types/model/name.go, docs/ollama-api-notes.md
 * §1.4): host `registry.ollama.ai`, namespace `library` and tag `latest` are filled in, and
 * matching is case-insensitive. So `llama3`, `LLaMA3:latest` and
 * `registry.ollama.ai/library/llama3:latest` are one model, and the allowlist sees one name.
 */

export const DEFAULT_HOST = 'registry.ollama.ai';
export const DEFAULT_NAMESPACE = 'library';
export const DEFAULT_TAG = 'latest';

export interface ModelRef {
  /** The name exactly as the client wrote it (for messages that must read like Ollama's). */
  raw: string;
  /** `host/namespace/model:tag`, lower-case. The form allowlists are matched against. */
  canonical: string;
  /** Routed by Ollama to ollama.com (`:cloud`, `-cloud`): spends the server owner's account. */
  cloud: boolean;
  host: string;
}

export type ModelRefResult = ModelRef | { error: string };

const PART = /^[a-z0-9_][a-z0-9_.-]*$/;
const HOST = /^[a-z0-9][a-z0-9.-]*(:\d{1,5})?$/;
const MAX_LEN = 350;

/**
 * Parses a model name as a client sent it. Refuses what Ollama would also refuse or what has only
 * ever been used in attacks: schemes, `@` digests, `..`, backslashes, control or space
 * characters, percent signs, empty parts.
 */
export function parseModelRef(input: string): ModelRefResult {
  const known = parsed.get(input);
  if (known) return known;
  const r = parse(input);
  if (isModelRef(r)) {
    // Names come from requests: bound the cache (clients that send random names only refill it).
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(input, Object.freeze(r));
  }
  return r;
}

/**
 * Valid names already parsed. Every JSON request names a model and clients use a handful, so
 * parsing (two regexes, a split, a lower-case copy: ~1.5 µs under load) is done once per name.
 */
const parsed = new Map<string, ModelRef>();
const PARSED_MAX = 1024;

function parse(input: string): ModelRefResult {
  if (input.length === 0) return { error: 'model name is empty' };
  if (input.length > MAX_LEN) return { error: `model name is longer than ${MAX_LEN} characters` };
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f\\@%#?]/.test(input) || input.includes('://') || input.includes('..')) {
    return { error: `invalid model name ${JSON.stringify(input)}` };
  }
  let s = input.toLowerCase();
  let cloud = false;
  let local = false;
  if (s.endsWith(':cloud')) {
    cloud = true;
    s = s.slice(0, -':cloud'.length);
  } else if (s.endsWith(':local')) {
    local = true;
    s = s.slice(0, -':local'.length);
  }
  const parts = s.split('/');
  if (parts.length > 3) return { error: `invalid model name ${JSON.stringify(input)}: too many "/" parts` };
  const last = parts[parts.length - 1]!;
  const colon = last.indexOf(':');
  let model = colon === -1 ? last : last.slice(0, colon);
  const tag = colon === -1 ? DEFAULT_TAG : last.slice(colon + 1);
  if (tag.endsWith('-cloud') || tag === 'cloud') cloud = true;
  if (cloud && local) return { error: `invalid model name ${JSON.stringify(input)}: both a cloud and a :local suffix` };
  const host = parts.length === 3 ? parts[0]! : DEFAULT_HOST;
  const namespace = parts.length >= 2 ? parts[parts.length - 2]! : DEFAULT_NAMESPACE;
  model = model.trim();
  if (!HOST.test(host) || !PART.test(namespace) || !PART.test(model) || !PART.test(tag)) {
    return { error: `invalid model name ${JSON.stringify(input)}` };
  }
  return { raw: input, canonical: `${host}/${namespace}/${model}:${tag}`, cloud, host };
}

export function isModelRef(r: ModelRefResult): r is ModelRef {
  return (r as ModelRef).canonical !== undefined;
}
