/**
 * Is this bearer value a JWT, and if so what do its header and payload say (not yet trusted)?
 * Strict and cheap: three base64url segments, the first two non-empty JSON objects, the header
 * naming its "alg". The signature may be empty, so that an `alg: none` token is recognised as a
 * JWT and refused as one, not answered "invalid API key".
 */

const SEGMENT = /^[A-Za-z0-9_-]*$/;
/** Bigger than any real header; anything longer is not decoded. */
const MAX_HEADER = 2048;
/** ID and access tokens with many groups reach a few KB; the credential parser caps headers at 4 KB anyway. */
const MAX_PAYLOAD = 8192;

export interface UnverifiedJwt {
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
}

export function readJwt(value: string): UnverifiedJwt | null {
  const a = value.indexOf('.');
  if (a <= 0 || a > MAX_HEADER) return null;
  const b = value.indexOf('.', a + 1);
  if (b === -1 || b === a + 1 || b - a > MAX_PAYLOAD || value.indexOf('.', b + 1) !== -1) return null;
  const h = value.slice(0, a);
  const p = value.slice(a + 1, b);
  if (!SEGMENT.test(h) || !SEGMENT.test(p) || !SEGMENT.test(value.slice(b + 1))) return null;
  const header = object(h);
  if (!header || typeof header.alg !== 'string') return null;
  const payload = object(p);
  return payload ? { header, payload } : null;
}

function object(segment: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** A token-supplied string fit to quote in a message: clipped, printable. */
export function quote(v: unknown, max = 120): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  const t = s.length > max ? `${s.slice(0, max)}…` : s;
  // eslint-disable-next-line no-control-regex
  return JSON.stringify(t.replace(/[\u0000-\u001f\u007f]/g, ' '));
}
