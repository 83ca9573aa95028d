// A JSON reader that keeps what JSON.parse throws away: the order of object keys, duplicate keys
// and the literal text of numbers. Ollama decodes bodies with Go's encoding/json, where
// `{"model":"a","MODEL":"b"}` means model "b"; reproducing that needs every key in order
// (see go-decode.ts). Error texts imitate Go's so that a gateway sees the same 400 bodies.

/** A JSON number, kept as written: Go refuses `1.0` for an int field but accepts it for float64. */
export class GoNumber {
  constructor(readonly raw: string) {}
  get value(): number {
    return Number(this.raw);
  }
}

/** A JSON object as an ordered list of entries, duplicates included. */
export class GoObject {
  constructor(readonly entries: Array<[string, JValue]>) {}
}

export type JValue = null | boolean | string | GoNumber | JValue[] | GoObject;

export class JsonSyntaxError extends Error {}

/** Thrown for an empty body: Go's decoder returns io.EOF, which Ollama reports as "missing request body". */
export class JsonEmptyError extends Error {
  constructor() {
    super('EOF');
  }
}

const WS = new Set([' ', '\t', '\n', '\r']);

function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return "'\"'";
  return `'${c}'`;
}

/**
 * Reads the first JSON value of `text`, like Go's json.Decoder.Decode: leading whitespace is skipped
 * and anything after the value is ignored.
 */
export function parseFirstJsonValue(text: string): JValue {
  let i = 0;
  const eof = (): never => {
    throw new JsonSyntaxError('unexpected EOF');
  };
  const bad = (c: string, context: string): never => {
    throw new JsonSyntaxError(`invalid character ${quoteChar(c)} ${context}`);
  };
  const skipWs = (): void => {
    while (i < text.length && WS.has(text[i]!)) i++;
  };

  const parseLiteral = (word: string, value: JValue): JValue => {
    for (let k = 0; k < word.length; k++) {
      if (i >= text.length) eof();
      if (text[i] !== word[k]) bad(text[i]!, `in literal ${word} (expecting ${quoteChar(word[k]!)})`);
      i++;
    }
    return value;
  };

  const parseNumber = (): GoNumber => {
    const start = i;
    const digit = (): boolean => i < text.length && text[i]! >= '0' && text[i]! <= '9';
    if (text[i] === '-') i++;
    if (i >= text.length) eof();
    if (text[i] === '0') i++;
    else if (digit()) while (digit()) i++;
    else bad(text[i]!, 'in numeric literal');
    if (text[i] === '.') {
      i++;
      if (i >= text.length) eof();
      if (!digit()) bad(text[i]!, 'after decimal point in numeric literal');
      while (digit()) i++;
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (i >= text.length) eof();
      if (!digit()) bad(text[i]!, 'in exponent of numeric literal');
      while (digit()) i++;
    }
    return new GoNumber(text.slice(start, i));
  };

  const parseString = (): string => {
    i++; // opening quote
    let out = '';
    for (;;) {
      if (i >= text.length) eof();
      const c = text[i]!;
      if (c === '"') {
        i++;
        // Go replaces an unpaired surrogate escape such as \ud800 with U+FFFD.
        return out.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
      }
      if (c.charCodeAt(0) < 0x20) bad(c, 'in string literal');
      if (c !== '\\') {
        out += c;
        i++;
        continue;
      }
      i++;
      if (i >= text.length) eof();
      const e = text[i]!;
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (e in simple) {
        out += simple[e];
        i++;
        continue;
      }
      if (e !== 'u') bad(e, 'in string escape code');
      i++;
      const hex = text.slice(i, i + 4);
      if (hex.length < 4) eof();
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) bad(hex.replace(/[0-9a-fA-F]/g, '')[0] ?? hex[0]!, 'in \\u hexadecimal character escape');
      out += String.fromCharCode(parseInt(hex, 16));
      i += 4;
    }
  };

  const parseValue = (context: string): JValue => {
    skipWs();
    if (i >= text.length) eof();
    const c = text[i]!;
    if (c === '{') return parseObject();
    if (c === '[') return parseArray();
    if (c === '"') return parseString();
    if (c === 't') return parseLiteral('true', true);
    if (c === 'f') return parseLiteral('false', false);
    if (c === 'n') return parseLiteral('null', null);
    if (c === '-' || (c >= '0' && c <= '9')) return parseNumber();
    return bad(c, context);
  };

  const parseObject = (): GoObject => {
    i++;
    const entries: Array<[string, JValue]> = [];
    skipWs();
    if (text[i] === '}') {
      i++;
      return new GoObject(entries);
    }
    for (;;) {
      skipWs();
      if (i >= text.length) eof();
      if (text[i] !== '"') bad(text[i]!, 'looking for beginning of object key string');
      const key = parseString();
      skipWs();
      if (i >= text.length) eof();
      if (text[i] !== ':') bad(text[i]!, 'after object key');
      i++;
      entries.push([key, parseValue('looking for beginning of value')]);
      skipWs();
      if (i >= text.length) eof();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return new GoObject(entries);
      }
      bad(text[i]!, 'after object key:value pair');
    }
  };

  const parseArray = (): JValue[] => {
    i++;
    const items: JValue[] = [];
    skipWs();
    if (text[i] === ']') {
      i++;
      return items;
    }
    for (;;) {
      items.push(parseValue('looking for beginning of value'));
      skipWs();
      if (i >= text.length) eof();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') {
        i++;
        return items;
      }
      bad(text[i]!, 'after array element');
    }
  };

  skipWs();
  if (i >= text.length) throw new JsonEmptyError();
  return parseValue('looking for beginning of value');
}

/** The JSON kind word Go uses in "cannot unmarshal <kind> into ..." messages. */
export function jsonKind(v: JValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (v instanceof GoNumber) return 'number';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

/** Converts to plain JS the way Go fills an `interface{}`: objects become maps, last key wins. */
export function toPlain(v: JValue): unknown {
  if (v instanceof GoNumber) return v.value;
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof GoObject) {
    const out: Record<string, unknown> = {};
    // defineProperty, not assignment: a "__proto__" key must stay an ordinary key.
    for (const [k, val] of v.entries) setOwn(out, k, toPlain(val));
    return out;
  }
  return v;
}

/** Sets an own enumerable property even for keys such as "__proto__". */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
