import { hash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * Gatehouse API keys: `gatehouse_` + 43 base62 characters (256 random bits) + 6 base62 characters
 * of CRC32 checksum. The fixed prefix and checksum let secret scanners recognise a leaked key with
 * almost no false positives (regex `\bgatehouse_[0-9A-Za-z]{49}\b`, then verify the checksum), and
 * let Gatehouse tell a refused client that its key is mistyped rather than unknown. Only SHA-256(key) is ever stored: with 256
 * random bits a fast hash is enough (no bcrypt on the hot path: docs/threat-model.md H1).
 */

export const KEY_PREFIX = 'gatehouse_';
const RANDOM_CHARS = 43;
const CHECK_CHARS = 6;
export const KEY_LENGTH = KEY_PREFIX.length + RANDOM_CHARS + CHECK_CHARS;
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE62 = /^[0-9A-Za-z]+$/;

function toBase62(n: bigint, width: number): string {
  let out = '';
  while (n > 0n) {
    out = ALPHABET[Number(n % 62n)]! + out;
    n /= 62n;
  }
  return out.padStart(width, '0');
}

/** CRC32 in 6 base62 digits; plain number arithmetic (a CRC fits in 32 bits), run on every request. */
function checksum(body: string): string {
  let n = crc32(body);
  let out = '';
  for (let i = 0; i < CHECK_CHARS; i++) {
    out = ALPHABET[n % 62]! + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export interface NewApiKey {
  /** The secret: shown once, never stored. */
  key: string;
  /** SHA-256 of the key, hex: what the store keeps. */
  hash: string;
  /** First characters for people to tell keys apart in `keys list` (24 of 256 bits: not a secret worth having). */
  hint: string;
}

export function generateApiKey(): NewApiKey {
  const random = toBase62(BigInt(`0x${randomBytes(32).toString('hex')}`), RANDOM_CHARS);
  const body = KEY_PREFIX + random;
  const key = body + checksum(body);
  return { key, hash: hashApiKey(key), hint: key.slice(0, KEY_PREFIX.length + 4) };
}

/** Length and prefix only: what must hold before a candidate is worth hashing. */
export function hasKeyShape(candidate: string): boolean {
  return candidate.length === KEY_LENGTH && candidate.startsWith(KEY_PREFIX);
}

/** Shape and checksum only: cheap, constant work for every input of the right length. */
export function isWellFormedApiKey(candidate: string): boolean {
  if (!hasKeyShape(candidate)) return false;
  const rest = candidate.slice(KEY_PREFIX.length);
  if (!BASE62.test(rest)) return false;
  const body = candidate.slice(0, KEY_LENGTH - CHECK_CHARS);
  return checksum(body) === candidate.slice(KEY_LENGTH - CHECK_CHARS);
}

export function hashApiKey(key: string): string {
  // One-shot crypto.hash (Node >= 20.12): no Hash object per request, 0.3 µs instead of 0.75.
  return hash('sha256', key, 'hex');
}
