import { DEFAULT_HOST, DEFAULT_NAMESPACE, DEFAULT_TAG } from './model-name.js';

/**
 * A key's model allowlist: glob patterns compiled once into one regular expression. Patterns are
 * written the way users name models and completed like names are (docs/ollama-api-notes.md §1.4):
 *   `llama3`        → registry.ollama.ai/library/llama3:latest  (that tag only)
 *   `llama3:*`      → every tag of llama3
 *   `llama3*`       → llama3, llama3.1, llama3.2… any tag (a trailing `*` covers the tag)
 *   `hf.co/org/*`   → everything under that namespace
 *   `*`             → every model
 * Matching is case-insensitive and `*` matches any run of characters.
 */
export class ModelAllowlist {
  readonly patterns: readonly string[];
  readonly #re: RegExp | null;

  constructor(patterns: readonly string[] | null) {
    this.patterns = patterns ?? ['*'];
    this.#re = this.patterns.includes('*') ? null : new RegExp(`^(?:${this.patterns.map(completePattern).map(globToRegex).join('|')})$`);
  }

  get allowsAll(): boolean {
    return this.#re === null;
  }

  /** `canonical` is a ModelRef.canonical. */
  allows(canonical: string): boolean {
    return this.#re === null || this.#re.test(canonical);
  }
}

/** Fills in host, namespace and tag the way Ollama fills in names. */
export function completePattern(pattern: string): string {
  let p = pattern.trim().toLowerCase();
  if (p === '*') return p;
  const parts = p.split('/');
  if (parts.length === 1) p = `${DEFAULT_HOST}/${DEFAULT_NAMESPACE}/${p}`;
  else if (parts.length === 2) p = `${DEFAULT_HOST}/${p}`;
  const last = p.slice(p.lastIndexOf('/') + 1);
  if (!last.includes(':') && !last.endsWith('*')) p = `${p}:${DEFAULT_TAG}`;
  return p;
}

function globToRegex(glob: string): string {
  return glob
    .split('*')
    .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
}

/** Validates patterns given on the CLI: same character set as model names, plus `*`. */
export function invalidPatterns(patterns: readonly string[]): string[] {
  return patterns.filter((p) => !/^[A-Za-z0-9_.:/*-]+$/.test(p) || p.includes('..') || p.includes('//'));
}
