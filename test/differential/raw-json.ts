import type { Rng } from './prng.js';

/**
 * JSON written token by token, so that a generated body can hold what JSON.stringify never
 * writes: duplicate keys, keys spelled with other cases, Unicode folds or \u escapes, numbers in
 * any lexical form, and any whitespace between tokens.
 */

export type RawValue = string | RawObject | RawArray;

export interface RawEntry {
  /** The logical field this entry is meant to set (for mutations to find it). */
  name: string;
  /** The key exactly as written, quotes included. */
  key: string;
  value: RawValue;
}

export class RawObject {
  readonly entries: RawEntry[] = [];

  constructor(fields: Record<string, RawValue> = {}) {
    for (const [name, value] of Object.entries(fields)) this.add(name, value);
  }

  add(name: string, value: RawValue, key: string = JSON.stringify(name)): this {
    this.entries.push({ name, key, value });
    return this;
  }

  /** Replaces the value of the first entry for `name`, or appends one. */
  set(name: string, value: RawValue): this {
    const e = this.entries.find((x) => x.name === name);
    if (e) e.value = value;
    else this.add(name, value);
    return this;
  }

  get(name: string): RawValue | undefined {
    return this.entries.find((x) => x.name === name)?.value;
  }

  remove(name: string): this {
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i]!.name === name) this.entries.splice(i, 1);
    return this;
  }
}

export class RawArray {
  constructor(readonly items: RawValue[] = []) {}
}

/** A string literal; `s` is any JS string. */
export const str = (s: string): string => JSON.stringify(s);

/** Whitespace styles between tokens; all four JSON whitespace bytes are legal anywhere in Go. */
export type Whitespace = 'compact' | 'space' | 'lf' | 'crlf' | 'tab' | 'cr' | 'mixed';
export const WHITESPACE: readonly Whitespace[] = ['compact', 'space', 'lf', 'crlf', 'tab', 'cr', 'mixed'];

function gap(style: Whitespace, rng: Rng): string {
  switch (style) {
    case 'compact': return '';
    case 'space': return ' ';
    case 'lf': return '\n  ';
    case 'crlf': return '\r\n  ';
    case 'tab': return '\t';
    case 'cr': return '\r';
    case 'mixed': return rng.pick(['', ' ', '\t', '\n', '\r', '\r\n', ' \t\n\r ']);
  }
}

export function render(v: RawValue, style: Whitespace, rng: Rng): string {
  if (typeof v === 'string') return v;
  if (v instanceof RawArray) {
    if (v.items.length === 0) return '[]';
    return `[${gap(style, rng)}${v.items.map((i) => render(i, style, rng)).join(`,${gap(style, rng)}`)}${gap(style, rng)}]`;
  }
  if (v.entries.length === 0) return `{${gap(style, rng)}}`;
  const parts = v.entries.map((e) => `${gap(style, rng)}${e.key}${gap(style, rng)}:${gap(style, rng)}${render(e.value, style, rng)}`);
  return `{${parts.join(`${gap(style, rng)},`)}${gap(style, rng)}}`;
}

/** How a key is spelled. Go matches struct fields case-insensitively with Unicode folding. */
export type KeySpelling = 'exact' | 'upper' | 'title' | 'mixed-case' | 'fold' | 'escape' | 'escape-all' | 'fold-escaped';
export const KEY_SPELLINGS: readonly KeySpelling[] = ['exact', 'upper', 'title', 'mixed-case', 'fold', 'escape', 'escape-all', 'fold-escaped'];

const u = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * The key literal for `name` in a spelling. 'fold' swaps one s for U+017F (ſ, folds to s in Go)
 * or one k for U+212A (Kelvin sign, folds to k); a name with neither falls back to mixed case.
 */
export function spellKey(name: string, spelling: KeySpelling, rng: Rng): string {
  switch (spelling) {
    case 'exact': return str(name);
    case 'upper': return str(name.toUpperCase());
    case 'title': return str(name.charAt(0).toUpperCase() + name.slice(1));
    case 'mixed-case': return str([...name].map((c) => (rng.chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join(''));
    case 'fold':
    case 'fold-escaped': {
      const at = [...name].findIndex((c) => c === 's' || c === 'k' || c === 'S' || c === 'K');
      if (at < 0) return spellKey(name, 'mixed-case', rng);
      const swap = name[at]!.toLowerCase() === 's' ? '\u017f' : '\u212a';
      const text = spelling === 'fold' ? swap : u(swap);
      return `"${JSON.stringify(name.slice(0, at)).slice(1, -1)}${text}${JSON.stringify(name.slice(at + 1)).slice(1, -1)}"`;
    }
    case 'escape': {
      const at = rng.int(name.length);
      return `"${JSON.stringify(name.slice(0, at)).slice(1, -1)}${u(name[at]!)}${JSON.stringify(name.slice(at + 1)).slice(1, -1)}"`;
    }
    case 'escape-all': return `"${[...name].map(u).join('')}"`;
  }
}
