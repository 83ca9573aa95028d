// The Ed25519 request token the `ollama` CLI sends when OLLAMA_AUTH is set (docs/ollama-api-notes.md §5):
//
//   Authorization: <base64 SSH wire public key, 68 chars>:<base64 raw signature, 88 chars>
//   signed bytes:  `${METHOD},${path}?ts=${unixSeconds}`
//
// Why this token is weak, and what the gateway has to add around it:
// - It covers only method, path and a timestamp. The body, Host, scheme and every other header are
//   unsigned, so whoever sees one token (a log line, a hop without TLS) can send *any body* to the
//   same endpoint while the timestamp is fresh. → require TLS, keep the window short, replay guard.
// - There is no nonce and Ed25519 is deterministic: the same key, method, path and second always
//   give byte-identical tokens. A verifier cannot tell a replay from a legitimate identical request
//   in the same second; a strict replay guard refuses the second one (see replay-guard.ts).
// - Ollama itself never checks `ts` (and the unmerged upstream verifier does not either), so the
//   freshness check here is the only one.
// - The public key travels inside the token; a valid signature proves possession of *some* key.
//   Authorization comes only from finding that key among the configured ones.
//
// Per request, cheapest and least attacker-steerable checks first:
//   parseOllamaToken → checkTimestamp → look up keyB64 → verifyOllamaSignature → endpointAllowed
//   → ReplayGuard.check (last, so unauthenticated traffic cannot fill the guard).

import { KeyObject, verify as cryptoVerify } from 'node:crypto';
import { decodeStrictBase64 } from './base64.js';
import { createEd25519KeyObject } from './public-key.js';
import { ED25519_KEY_TYPE, ED25519_RAW_KEY_BYTES, parseEd25519Blob, readKeyType, unsupportedKeyTypeMessage } from './wire.js';

/** base64 of the 51-byte wire blob: 17 full groups, so never any padding. */
export const TOKEN_KEY_B64_CHARS = 68;
/** base64 of a 64-byte signature: 21 full groups + one byte, so always ending in `==`. */
export const TOKEN_SIGNATURE_B64_CHARS = 88;
export const ED25519_SIGNATURE_BYTES = 64;
/** Every ed25519 key blob encodes to this: uint32(11) "ssh-ed25519" uint32(32), up to the key's first bits. */
export const ED25519_KEY_B64_PREFIX = 'AAAAC3NzaC1lZDI1NTE5AAAAI';

/** Larger than any sane header (Node caps all headers at 16 KiB by default); checked before scanning. */
const MAX_HEADER_CHARS = 16 * 1024;
/** 96 chars → 72 bytes: the uint32 length plus the longest type name readKeyType accepts. */
const KEY_TYPE_PROBE_CHARS = 96;
const COLON = 0x3a;
const SPACE = 0x20;

export interface OllamaToken {
  ok: true;
  /** The key part as sent: the map key for looking up an authorized key without decoding again. */
  keyB64: string;
  /** The signature part as sent. Canonical (strictly decoded), so it is a sound replay-guard key. */
  signatureB64: string;
  /** SSH wire-format key blob (51 bytes). */
  blob: Buffer;
  /** Raw Ed25519 public key (32 bytes, a view into `blob`). */
  rawKey: Buffer;
  /** Raw Ed25519 signature (64 bytes). */
  signature: Buffer;
}

export type OllamaTokenFailure =
  | { ok: false; reason: 'empty' }
  | { ok: false; reason: 'too-long' }
  | { ok: false; reason: 'missing-separator' }
  | { ok: false; reason: 'bad-key-encoding' }
  | { ok: false; reason: 'unsupported-key-type'; keyType: string }
  | { ok: false; reason: 'malformed-key' }
  | { ok: false; reason: 'bad-signature-encoding' }
  | { ok: false; reason: 'bad-signature-length' };

export type OllamaTokenResult = OllamaToken | OllamaTokenFailure;

// Failures without data are shared constants: rejecting garbage allocates nothing.
const EMPTY: OllamaTokenFailure = Object.freeze({ ok: false, reason: 'empty' });
const TOO_LONG: OllamaTokenFailure = Object.freeze({ ok: false, reason: 'too-long' });
const MISSING_SEPARATOR: OllamaTokenFailure = Object.freeze({ ok: false, reason: 'missing-separator' });
const BAD_KEY_ENCODING: OllamaTokenFailure = Object.freeze({ ok: false, reason: 'bad-key-encoding' });
const MALFORMED_KEY: OllamaTokenFailure = Object.freeze({ ok: false, reason: 'malformed-key' });
const BAD_SIGNATURE_ENCODING: OllamaTokenFailure = Object.freeze({ ok: false, reason: 'bad-signature-encoding' });
const BAD_SIGNATURE_LENGTH: OllamaTokenFailure = Object.freeze({ ok: false, reason: 'bad-signature-length' });

/**
 * Length of an optional `Bearer ` prefix (scheme case-insensitive, then one or more spaces), else 0.
 * The CLI sends no prefix; Ollama's own web-search client and the upstream verifier design use one.
 */
function bearerPrefixLength(value: string): number {
  if (value.length < 7 || value.charCodeAt(6) !== SPACE) return 0;
  // `| 0x20` folds ASCII upper case to lower case; only 'B'/'b' (etc.) survive the comparison.
  if (
    (value.charCodeAt(0) | 0x20) !== 0x62 || // b
    (value.charCodeAt(1) | 0x20) !== 0x65 || // e
    (value.charCodeAt(2) | 0x20) !== 0x61 || // a
    (value.charCodeAt(3) | 0x20) !== 0x72 || // r
    (value.charCodeAt(4) | 0x20) !== 0x65 || // e
    (value.charCodeAt(5) | 0x20) !== 0x72 //    r
  ) {
    return 0;
  }
  let i = 7;
  while (i < value.length && value.charCodeAt(i) === SPACE) i++;
  return i;
}

/**
 * Parses an `Authorization` header value into key and signature. Never throws, on any input.
 * Only the exact shape the CLI produces is accepted, and lengths are checked before decoding.
 * Keys of another type are reported by name (`unsupported-key-type`) so the user learns why.
 */
export function parseOllamaToken(headerValue: string): OllamaTokenResult {
  if (typeof headerValue !== 'string' || headerValue.length === 0) return EMPTY;
  if (headerValue.length > MAX_HEADER_CHARS) return TOO_LONG;
  const end = headerValue.length;
  const start = bearerPrefixLength(headerValue);
  if (start === end) return EMPTY;

  const sep = headerValue.indexOf(':', start);
  if (sep === -1) return MISSING_SEPARATOR;
  if (sep - start !== TOKEN_KEY_B64_CHARS || !headerValue.startsWith(ED25519_KEY_B64_PREFIX, start)) {
    return classifyForeignKey(headerValue, start, sep);
  }
  if (end - sep - 1 !== TOKEN_SIGNATURE_B64_CHARS) return BAD_SIGNATURE_LENGTH;

  const blob = decodeStrictBase64(headerValue, start, sep);
  if (blob === null) return BAD_KEY_ENCODING;
  const key = parseEd25519Blob(blob);
  if (!key.ok) return MALFORMED_KEY; // unreachable given the prefix check; kept as a guard

  const signature = decodeStrictBase64(headerValue, sep + 1, end);
  if (signature === null) return BAD_SIGNATURE_ENCODING;
  // 88 canonical chars decode to 64, 65 or 66 bytes depending on padding; only 64 is a signature.
  if (signature.length !== ED25519_SIGNATURE_BYTES) return BAD_SIGNATURE_LENGTH;

  return {
    ok: true,
    keyB64: headerValue.slice(start, sep),
    signatureB64: headerValue.slice(sep + 1, end),
    blob,
    rawKey: key.rawKey,
    signature,
  };
}

/**
 * The key part is not an ed25519 key of the right size. Decode a bounded prefix to name its type,
 * so "you used an RSA key" can be told apart from garbage; cost is independent of the key length.
 */
function classifyForeignKey(value: string, start: number, sep: number): OllamaTokenFailure {
  const probeChars = Math.min(sep - start, KEY_TYPE_PROBE_CHARS) & ~3;
  const probe = probeChars === 0 ? null : decodeStrictBase64(value, start, start + probeChars);
  if (probe === null) return BAD_KEY_ENCODING;
  const type = readKeyType(probe);
  if (!type.ok) return MALFORMED_KEY;
  if (type.keyType === ED25519_KEY_TYPE) return MALFORMED_KEY;
  return { ok: false, reason: 'unsupported-key-type', keyType: type.keyType };
}

export function describeTokenFailure(failure: OllamaTokenFailure): string {
  switch (failure.reason) {
    case 'empty':
      return 'authorization header is empty';
    case 'too-long':
      return 'authorization header is too long';
    case 'missing-separator':
      return 'expected <public key>:<signature>';
    case 'bad-key-encoding':
      return 'public key is not valid base64';
    case 'unsupported-key-type':
      return unsupportedKeyTypeMessage(failure.keyType);
    case 'malformed-key':
      return `public key is not a well-formed ${ED25519_KEY_TYPE} key`;
    case 'bad-signature-encoding':
      return 'signature is not valid base64';
    case 'bad-signature-length':
      return `signature must be ${ED25519_SIGNATURE_BYTES} bytes (${TOKEN_SIGNATURE_B64_CHARS} base64 chars)`;
  }
}

/**
 * The exact bytes the CLI signs. `path` is the request path as sent, without the gateway's mount
 * prefix and without the query; `ts` is the raw `ts` query value.
 */
export function buildChallenge(method: string, path: string, ts: string | number): string {
  return `${method},${path}?ts=${ts}`;
}

/** Go's strconv.FormatInt of a Unix time in seconds has 10 digits until year 2286; 12 is ample. */
const MAX_TS_DIGITS = 12;

export type TimestampResult =
  | { ok: true; ts: number }
  | { ok: false; reason: 'missing' | 'malformed' }
  | { ok: false; reason: 'stale' | 'future'; skewSec: number };

/**
 * Checks the `ts` query value against the clock. Accepted: |ts − now| ≤ windowSec, both ends
 * inclusive. Only what Go's FormatInt emits is accepted: plain ASCII digits, no sign, no spaces,
 * no exponent, no leading zero — so `String(ts)` equals `tsRaw` and the challenge is unambiguous.
 * `skewSec` is ts − now (negative when stale), for logs and error messages.
 */
export function checkTimestamp(tsRaw: string | undefined, nowSec: number, windowSec: number): TimestampResult {
  if (tsRaw === undefined) return { ok: false, reason: 'missing' };
  const len = tsRaw.length;
  if (len === 0 || len > MAX_TS_DIGITS) return { ok: false, reason: 'malformed' };
  if (len > 1 && tsRaw.charCodeAt(0) === 0x30) return { ok: false, reason: 'malformed' };
  for (let i = 0; i < len; i++) {
    const c = tsRaw.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return { ok: false, reason: 'malformed' };
  }
  const ts = Number(tsRaw); // ≤ 12 digits: exactly representable
  const skewSec = ts - nowSec;
  if (skewSec < -windowSec) return { ok: false, reason: 'stale', skewSec };
  if (skewSec > windowSec) return { ok: false, reason: 'future', skewSec };
  return { ok: true, ts };
}

/**
 * Verifies a raw 64-byte Ed25519 signature over the challenge (pure Ed25519, no prehash).
 * Pass a KeyObject built once per authorized key (createEd25519KeyObject); a raw key works but
 * builds a KeyObject on every call. Returns false, never throws, for any bad input.
 */
export function verifyOllamaSignature(key: KeyObject | Uint8Array, challenge: string | Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_BYTES) return false;
  let keyObject: KeyObject;
  if (key instanceof KeyObject) {
    // With a null algorithm, Node would happily verify an RSA or EC key with its default digest.
    if (key.type !== 'public' || key.asymmetricKeyType !== 'ed25519') return false;
    keyObject = key;
  } else {
    if (key.length !== ED25519_RAW_KEY_BYTES) return false;
    try {
      keyObject = createEd25519KeyObject(key);
    } catch {
      return false;
    }
  }
  const data = typeof challenge === 'string' ? Buffer.from(challenge, 'utf8') : challenge;
  try {
    return cryptoVerify(null, data, keyObject, signature);
  } catch {
    return false;
  }
}
