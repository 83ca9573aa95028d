// Decodes a parsed JSON value into a "struct" the way Go's encoding/json does, because Ollama binds
// every request body with it (doc §4.5):
// - object keys match struct fields case-insensitively (exact name first, then Go's fold, in which
//   U+212A KELVIN SIGN folds to K and U+017F LONG S folds to S);
// - entries are applied in order, so with duplicates or case variants the last one wins;
// - `null` leaves strings, numbers, bools and structs unchanged but sets pointers, slices, maps and
//   interfaces to nil;
// - a value of the wrong type is a 400 with Go's "cannot unmarshal" message;
// - unknown keys are ignored.
import { GoNumber, GoObject, jsonKind, setOwn, toPlain, type JValue } from './go-json.js';

export type Spec =
  | { t: 'string' }
  | { t: 'bool' }
  | { t: 'int' }
  | { t: 'float' }
  | { t: 'any' }
  | { t: 'raw' }
  | { t: 'ptr'; of: Spec }
  | { t: 'slice'; of: Spec }
  | { t: 'map'; of: Spec }
  | { t: 'struct'; name: string; fields: Record<string, Spec> };

/** Shorthands for writing request schemas. */
export const S = {
  string: { t: 'string' } as Spec,
  bool: { t: 'bool' } as Spec,
  int: { t: 'int' } as Spec,
  float: { t: 'float' } as Spec,
  any: { t: 'any' } as Spec,
  raw: { t: 'raw' } as Spec,
  ptr: (of: Spec): Spec => ({ t: 'ptr', of }),
  slice: (of: Spec): Spec => ({ t: 'slice', of }),
  map: (of: Spec): Spec => ({ t: 'map', of }),
  struct: (name: string, fields: Record<string, Spec>): Spec => ({ t: 'struct', name, fields }),
};

export class GoTypeError extends Error {}

const NOCHANGE = Symbol('nochange');
type Result = unknown | typeof NOCHANGE;

interface Where {
  struct: string;
  path: string[];
}

function goType(spec: Spec): string {
  switch (spec.t) {
    case 'string':
    case 'bool':
    case 'int':
      return spec.t;
    case 'float':
      return 'float64';
    case 'any':
      return 'interface {}';
    case 'raw':
      return 'json.RawMessage';
    case 'ptr':
      return '*' + goType(spec.of);
    case 'slice':
      return '[]' + goType(spec.of);
    case 'map':
      return 'map[string]' + goType(spec.of);
    case 'struct':
      return 'api.' + spec.name;
  }
}

function typeError(v: JValue, spec: Spec, where: Where): GoTypeError {
  const what = v instanceof GoNumber ? `number ${v.raw}` : jsonKind(v);
  if (where.path.length === 0) return new GoTypeError(`json: cannot unmarshal ${what} into Go value of type ${goType(spec)}`);
  return new GoTypeError(
    `json: cannot unmarshal ${what} into Go struct field ${where.struct}.${where.path.join('.')} of type ${goType(spec)}`,
  );
}

/** Go's case folding for JSON field names (encoding/json foldName), enough for ASCII field names. */
export function foldName(s: string): string {
  let out = '';
  for (const ch of s) {
    if (ch === '\u017f') out += 'S';
    else if (ch === '\u212a') out += 'K';
    else if (ch >= 'a' && ch <= 'z') out += ch.toUpperCase();
    else out += ch;
  }
  return out;
}

function findField(fields: Record<string, Spec>, key: string): string | undefined {
  if (Object.hasOwn(fields, key)) return key;
  const folded = foldName(key);
  return Object.keys(fields).find((f) => foldName(f) === folded);
}

function decodeValue(spec: Spec, v: JValue, existing: unknown, where: Where): Result {
  if (v === null) {
    // Go: null is a no-op for value kinds and "set to nil" for reference kinds.
    if (spec.t === 'ptr' || spec.t === 'slice' || spec.t === 'map' || spec.t === 'any') return undefined;
    if (spec.t === 'raw') return null;
    return NOCHANGE;
  }
  switch (spec.t) {
    case 'string':
      if (typeof v !== 'string') throw typeError(v, spec, where);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw typeError(v, spec, where);
      return v;
    case 'int':
      // strconv.ParseInt: "1.0" and "1e3" are not ints.
      if (!(v instanceof GoNumber) || !/^-?\d+$/.test(v.raw) || !Number.isSafeInteger(v.value)) throw typeError(v, spec, where);
      return v.value;
    case 'float':
      if (!(v instanceof GoNumber)) throw typeError(v, spec, where);
      return v.value;
    case 'any':
    case 'raw':
      return toPlain(v);
    case 'ptr': {
      const inner = decodeValue(spec.of, v, existing, where);
      return inner === NOCHANGE ? existing : inner;
    }
    case 'slice': {
      if (!Array.isArray(v)) throw typeError(v, spec, where);
      return v.map((item) => {
        const r = decodeValue(spec.of, item, undefined, where);
        return r === NOCHANGE ? zeroValue(spec.of) : r;
      });
    }
    case 'map': {
      if (!(v instanceof GoObject)) throw typeError(v, spec, where);
      // Go reuses an existing map, so a repeated key merges into it rather than replacing it.
      const out: Record<string, unknown> = isRecord(existing) ? { ...existing } : {};
      for (const [k, val] of v.entries) {
        const r = decodeValue(spec.of, val, out[k], where);
        if (r !== NOCHANGE) setOwn(out, k, r);
      }
      return out;
    }
    case 'struct': {
      if (!(v instanceof GoObject)) throw typeError(v, spec, where);
      const out: Record<string, unknown> = isRecord(existing) ? { ...existing } : {};
      for (const [k, val] of v.entries) {
        const field = findField(spec.fields, k);
        if (field === undefined) continue;
        const fieldSpec = spec.fields[field]!;
        const r = decodeValue(fieldSpec, val, out[field], { struct: spec.name, path: [...where.path, field] });
        if (r === NOCHANGE) continue;
        if (r === undefined) delete out[field];
        else out[field] = r;
      }
      return out;
    }
  }
}

function zeroValue(spec: Spec): unknown {
  if (spec.t === 'string') return '';
  if (spec.t === 'bool') return false;
  if (spec.t === 'int' || spec.t === 'float') return 0;
  if (spec.t === 'struct') return {};
  return undefined;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Decodes `v` into a fresh value of the struct `spec`; throws GoTypeError on a type mismatch. */
export function decodeStruct<T = Record<string, unknown>>(spec: Spec, v: JValue): T {
  const r = decodeValue(spec, v, {}, { struct: spec.t === 'struct' ? spec.name : '', path: [] });
  return (r === NOCHANGE || r === undefined ? {} : r) as T;
}
