/**
 * How many times a header appears in Node's raw list (name, value, name, value, …). Node keeps only
 * the first of some repeated headers in `req.headers`; a repeat is an ambiguity the caller refuses.
 * Counted on the raw list: `req.headersDistinct` would build a second object per request.
 */
export function headerCount(raw: readonly string[], lowerName: string): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!;
    if (k.length === lowerName.length && k.toLowerCase() === lowerName) n++;
  }
  return n;
}
