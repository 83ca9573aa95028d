import { ROUTES } from './table.js';

/**
 * The request a reverse proxy asks Gatehouse about (`GET /auth/verify`, server/stages/verify.ts),
 * read from its X-Forwarded-Method and X-Forwarded-Uri headers. The proxy will send the client's
 * request to Ollama as it came, so the URI is read as strictly as a request line and never cleaned
 * up: anything a proxy, Gatehouse and Ollama could read three ways (dot segments, encoded slashes,
 * empty segments, an authority, a fragment) is refused with a reason, and what is left is matched
 * by routes/match.ts exactly as a real request's path is.
 */

export type Described =
  | { ok: true; method: string; /** Path as sent, no query. */ path: string; /** Raw query, without `?`. */ query: string }
  | { ok: false; reason: string };

/** Longer than any Ollama route with a model name and a signed `ts` query. */
export const MAX_FORWARDED_URI = 4096;

/** The methods the route table knows; anything else describes no request Gatehouse would forward. */
const METHODS: ReadonlySet<string> = new Set(ROUTES.map((r) => r.method));

/** RFC 3986 pchar, `/` and `?` (the query may hold `?` and `/` too); `%` checked separately. */
const URI_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/;
const PERCENT = /%(?![0-9A-Fa-f]{2})/;
/** A dot segment, plain or percent-encoded (`.`, `%2e`, `..`, `.%2E` …), ending at `/` or the end. */
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:\/|$)/i;
/** An encoded `/`, `\` or NUL: a proxy or Ollama may decode it into a separator. */
const ENCODED_SEPARATOR = /%(?:2f|5c|00)/i;

/**
 * `method` and `uri` are the header values as Node parsed them (undefined when absent, an array
 * never: the caller counts repeats in rawHeaders first).
 */
export function describeForwarded(method: string | undefined, uri: string | undefined): Described {
  if (method === undefined || method === '') return no('X-Forwarded-Method is missing: the proxy must send the method of the request it asks about');
  if (!METHODS.has(method)) return no(`X-Forwarded-Method ${JSON.stringify(method.slice(0, 20))} is not a method any Gatehouse route takes (${[...METHODS].join(', ')}; upper case)`);
  if (uri === undefined || uri === '') return no('X-Forwarded-Uri is missing: the proxy must send the path and query of the request it asks about');
  if (uri.length > MAX_FORWARDED_URI) return no(`X-Forwarded-Uri is longer than ${MAX_FORWARDED_URI} characters`);
  if (uri[0] !== '/') return no('X-Forwarded-Uri must be a path starting with "/" (origin form), not an absolute URI or "*"');
  if (uri.startsWith('//')) return no('X-Forwarded-Uri starts with "//", which reads as an authority, not a path');
  if (uri.includes('#')) return no('X-Forwarded-Uri has a fragment ("#"), which no request line carries');
  if (!URI_CHARS.test(uri)) return no('X-Forwarded-Uri has a character a request line cannot carry unencoded (space, control, backslash, quote or non-ASCII)');
  if (PERCENT.test(uri)) return no('X-Forwarded-Uri has a "%" that is not followed by two hex digits');
  const q = uri.indexOf('?');
  const path = q === -1 ? uri : uri.slice(0, q);
  const query = q === -1 ? '' : uri.slice(q + 1);
  if (DOT_SEGMENT.test(path)) return no('X-Forwarded-Uri has a dot segment ("." or "..", plain or percent-encoded) in its path');
  if (ENCODED_SEPARATOR.test(path)) return no('X-Forwarded-Uri has an encoded "/", "\\" or NUL (%2F, %5C, %00) in its path');
  if (path.includes('//')) return no('X-Forwarded-Uri has an empty path segment ("//")');
  return { ok: true, method, path, query };
}

function no(reason: string): Described {
  return { ok: false, reason };
}
