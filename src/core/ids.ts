import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * Random base62 string of `length` characters, uniformly distributed (rejection sampling, so no
 * modulo bias: 62 * 4 = 248 is the largest multiple of 62 below 256).
 */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const buf = randomBytes(length * 2);
    for (let i = 0; i < buf.length && out.length < length; i++) {
      const b = buf[i]!;
      if (b < 248) out += ALPHABET[b % 62];
    }
  }
  return out;
}

/** Request ids: short, sortable enough by eye, unique per process and across restarts. */
let seq = 0;
const prefix = randomBase62(6);
export function requestId(): string {
  seq = (seq + 1) % 0x7fffffff;
  return `req_${prefix}${seq.toString(36)}`;
}

/** Public key id (`key_` + 12 base62): what the CLI, audit records and messages use to name a key. */
export function newKeyId(): string {
  return `key_${randomBase62(12)}`;
}
