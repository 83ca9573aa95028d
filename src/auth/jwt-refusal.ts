import { refuse } from '../core/errors.js';
import { KEY_PREFIX } from './api-key.js';
import type { AuthRequest, AuthResult, Authenticator } from './authenticator.js';
import type { Credential } from './credentials.js';

/**
 * A bearer token shaped like a JWT (an OpenID Connect ID or access token) is claimed here and
 * refused saying so, instead of being answered "invalid API key": the person holding it is
 * signed in somewhere and needs to know this gateway wants a Gatehouse key instead. It counts as a
 * failed authentication like any other. Placed before the API-key authenticator; an authenticator
 * that accepts JWTs would take its place.
 *
 * Strict and cheap: a Gatehouse key (prefix, no dots) is passed over after one prefix test, and
 * only a value of three non-empty base64url segments whose first one decodes to a JSON object
 * with "alg" counts as a JWT.
 */

const SEGMENT = /^[A-Za-z0-9_-]+$/;
/** A JOSE header is a few dozen bytes; anything longer is not worth decoding to find out. */
const MAX_HEADER_SEGMENT = 1024;

export class JwtRefusal implements Authenticator {
  authenticate(credential: Credential, request: AuthRequest): AuthResult | null {
    if (credential.kind !== 'api_key') return null;
    const key = credential.key;
    if (key.startsWith(KEY_PREFIX) || !looksLikeJwt(key) || !sentAsBearer(request.req.headers.authorization)) return null;
    return {
      ok: false,
      error: refuse('GW_ERR_AUTH_JWT_UNSUPPORTED', 'this gateway does not accept JWT bearer tokens (no OpenID sign-in is configured); send a Gatehouse API key as "Authorization: Bearer <key>"'),
    };
  }
}

/** Three non-empty base64url segments, the first a JSON object naming its "alg". */
export function looksLikeJwt(value: string): boolean {
  const a = value.indexOf('.');
  if (a <= 0) return false;
  const b = value.indexOf('.', a + 1);
  if (b === -1 || b === a + 1 || b === value.length - 1 || value.indexOf('.', b + 1) !== -1) return false;
  if (a > MAX_HEADER_SEGMENT || !SEGMENT.test(value.slice(0, a)) || !SEGMENT.test(value.slice(a + 1, b)) || !SEGMENT.test(value.slice(b + 1))) return false;
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(value.slice(0, a), 'base64url').toString('utf8'));
  } catch {
    return false;
  }
  return typeof header === 'object' && header !== null && !Array.isArray(header) && typeof (header as { alg?: unknown }).alg === 'string';
}

/** The API-key credential came from `Authorization: Bearer` (not x-api-key or Basic). */
function sentAsBearer(authorization: string | undefined): boolean {
  if (authorization === undefined) return false;
  const v = authorization.trimStart();
  return v.length > 7 && v.slice(0, 7).toLowerCase() === 'bearer ';
}
