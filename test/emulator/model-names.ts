// Model-name semantics of doc §1.4: `[host/][namespace/]model[:tag]` with the defaults
// registry.ollama.ai / library / latest, compared part by part case-insensitively, plus the
// `:cloud` / `-cloud` / `:local` source suffixes.

export interface ModelName {
  host: string;
  namespace: string;
  model: string;
  tag: string;
}

export const DEFAULT_HOST = 'registry.ollama.ai';
export const DEFAULT_NAMESPACE = 'library';
export const DEFAULT_TAG = 'latest';

// A part that was promised by a separator but is empty ("a//b", "x:") makes the name invalid.
const MISSING = '!MISSING!';

function cutLast(s: string, sep: string): [before: string, after: string, found: boolean] {
  const i = s.lastIndexOf(sep);
  if (i < 0) return [s, '', false];
  return [s.slice(0, i) || MISSING, s.slice(i + sep.length) || MISSING, true];
}

/** Parses a name and fills in default parts. Check `isValidName` before trusting it. */
export function parseModelName(input: string): ModelName {
  let s = input;
  const at = s.indexOf('@'); // a trailing @digest does not take part in matching
  if (at >= 0) s = s.slice(0, at);
  const n: ModelName = { host: '', namespace: '', model: '', tag: '' };
  // "/" cannot appear in a tag, so a ":" after the last "/" starts the tag (a ":" before it is a port).
  if (s.lastIndexOf(':') > s.lastIndexOf('/')) [s, n.tag] = cutLast(s, ':');
  let found: boolean;
  [s, n.model, found] = cutLast(s, '/');
  if (!found) n.model = s;
  else {
    [s, n.namespace, found] = cutLast(s, '/');
    if (!found) n.namespace = s;
    else {
      const scheme = s.indexOf('://');
      n.host = scheme >= 0 ? s.slice(scheme + 3) : s;
    }
  }
  return {
    host: n.host || DEFAULT_HOST,
    namespace: n.namespace || DEFAULT_NAMESPACE,
    model: n.model,
    tag: n.tag || DEFAULT_TAG,
  };
}

export function isValidName(n: ModelName): boolean {
  return (
    /^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,349}$/.test(n.host) &&
    /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,79}$/.test(n.namespace) &&
    /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,79}$/.test(n.model) &&
    /^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,79}$/.test(n.tag)
  );
}

/** Case-insensitive comparison of every part, as `getExistingName` does. */
export function sameName(a: ModelName, b: ModelName): boolean {
  const eq = (x: string, y: string): boolean => x.toLowerCase() === y.toLowerCase();
  return eq(a.host, b.host) && eq(a.namespace, b.namespace) && eq(a.model, b.model) && eq(a.tag, b.tag);
}

/** The shortest display form, as `ollama list` prints it: default host and namespace omitted. */
export function displayName(n: ModelName): string {
  if (n.host.toLowerCase() !== DEFAULT_HOST) return `${n.host}/${n.namespace}/${n.model}:${n.tag}`;
  if (n.namespace.toLowerCase() !== DEFAULT_NAMESPACE) return `${n.namespace}/${n.model}:${n.tag}`;
  return `${n.model}:${n.tag}`;
}

export type ModelRef =
  | { kind: 'local' | 'default'; name: string }
  | { kind: 'cloud'; name: string }
  | { kind: 'invalid'; error: string };

/**
 * Splits the source suffix off a requested name: `x:cloud`, `x:tag:cloud` and `x:tag-cloud` are
 * cloud references, `x:local` forces local, and both at once is an error (400).
 */
export function parseModelRef(raw: string): ModelRef {
  let name = raw;
  let local = false;
  if (/:local$/i.test(name)) {
    local = true;
    name = name.slice(0, -':local'.length);
  }
  let cloud = false;
  if (/:cloud$/i.test(name)) {
    cloud = true;
    name = name.slice(0, -':cloud'.length);
  } else {
    const colon = name.lastIndexOf(':');
    if (colon > name.lastIndexOf('/') && /-cloud$/i.test(name.slice(colon + 1))) cloud = true;
  }
  if (cloud && local) return { kind: 'invalid', error: `invalid model name: "${raw}" cannot be both cloud and local` };
  if (cloud) return { kind: 'cloud', name };
  return { kind: local ? 'local' : 'default', name };
}
