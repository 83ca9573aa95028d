// Request-target handling in front of the router, as Go's net/http + gin do it (doc §4.5):
// the path is percent-decoded before routing (`/api/%70ull` is /api/pull), http.ServeMux
// redirects unclean paths (`//`, `.`, `..`) with 301, and matching is exact and case-sensitive.
import { posix } from 'node:path';

export interface Target {
  rawPath: string;
  rawQuery: string;
}

/** Splits a request-target into raw path and raw query; absolute-form targets lose scheme+authority. */
export function splitTarget(url: string): Target {
  let rest = url;
  const abs = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(rest);
  if (abs) rest = rest.slice(abs[0].length) || '/';
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  if (q < 0) return { rawPath: rest, rawQuery: '' };
  return { rawPath: rest.slice(0, q), rawQuery: rest.slice(q + 1) };
}

/** Go's url.PathUnescape: undefined on a malformed escape (Go answers 400 Bad Request). */
export function unescapePath(raw: string): string | undefined {
  if (!raw.includes('%')) return raw;
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; ) {
    if (raw[i] === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 3;
    } else {
      const code = raw.codePointAt(i)!;
      const ch = String.fromCodePoint(code);
      bytes.push(...Buffer.from(ch, 'utf8'));
      i += ch.length;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** http.ServeMux cleanPath: rooted, `.`/`..`/`//` resolved, trailing slash kept. */
export function cleanPath(p: string): string {
  if (p === '') return '/';
  const rooted = p.startsWith('/') ? p : '/' + p;
  let np = posix.normalize(rooted);
  if (np.length > 1 && np.endsWith('/')) np = np.slice(0, -1);
  if (rooted.endsWith('/') && np !== '/') np += '/';
  return np;
}

/** Re-escapes a decoded path for a Location header, as url.URL.EscapedPath does. */
export function escapePath(p: string): string {
  return p.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/]/g, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join(''),
  );
}

export function withQuery(path: string, rawQuery: string): string {
  return rawQuery ? `${escapePath(path)}?${rawQuery}` : escapePath(path);
}
