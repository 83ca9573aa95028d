// Strict standard base64 (RFC 4648 §4, with padding) for attacker-controlled input.
//
// Node's `Buffer.from(s, 'base64')` is lenient: it skips characters outside the alphabet, accepts
// URL-safe characters, missing padding and non-zero "unused" bits. Leniency means several
// strings decode to the same bytes. For a signature that matters: the replay guard is keyed on
// the signature text, so a second spelling of the same signature would slip past it. This decoder
// accepts exactly one spelling per byte string — the one Go's `base64.StdEncoding` produces.

const INVALID = 0xff;

/** char code → 6-bit value, or INVALID. Built once; lookups are branch-free. */
const DECODE_TABLE: Uint8Array = (() => {
  const table = new Uint8Array(256).fill(INVALID);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
})();

const PAD = 0x3d; // '='

function sextet(text: string, index: number): number {
  const code = text.charCodeAt(index);
  // Codes above 255 (any non-Latin-1 character) are invalid; the table only covers 0..255.
  return code < 256 ? DECODE_TABLE[code]! : INVALID;
}

/** Number of bytes `charCount` base64 characters (padding included) would decode to, ignoring validity. */
export function base64DecodedLength(charCount: number, padCount: number): number {
  return (charCount / 4) * 3 - padCount;
}

/**
 * Decodes `text.slice(start, end)` as canonical, padded, standard base64 without slicing the string.
 * Returns null for anything another encoder would not have produced: wrong length, characters
 * outside the alphabet, misplaced padding, or non-zero bits under the padding.
 */
export function decodeStrictBase64(text: string, start = 0, end = text.length): Buffer | null {
  const charCount = end - start;
  if (charCount < 0 || charCount % 4 !== 0 || start < 0 || end > text.length) return null;
  if (charCount === 0) return Buffer.alloc(0);

  let padCount = 0;
  if (text.charCodeAt(end - 1) === PAD) padCount = text.charCodeAt(end - 2) === PAD ? 2 : 1;
  const out = Buffer.allocUnsafe(base64DecodedLength(charCount, padCount));

  const fullGroupsEnd = padCount === 0 ? end : end - 4;
  let o = 0;
  for (let i = start; i < fullGroupsEnd; i += 4) {
    const a = sextet(text, i);
    const b = sextet(text, i + 1);
    const c = sextet(text, i + 2);
    const d = sextet(text, i + 3);
    // Valid sextets are < 64, so one OR tells whether any of the four was INVALID (0xff).
    if ((a | b | c | d) > 63) return null;
    out[o++] = (a << 2) | (b >> 4);
    out[o++] = ((b & 0x0f) << 4) | (c >> 2);
    out[o++] = ((c & 0x03) << 6) | d;
  }
  if (padCount === 0) return out;

  // Final padded group: "xx==" carries one byte, "xxx=" carries two.
  const i = end - 4;
  const a = sextet(text, i);
  const b = sextet(text, i + 1);
  if ((a | b) > 63) return null;
  if (padCount === 2) {
    if ((b & 0x0f) !== 0) return null; // non-canonical: bits under the padding must be zero
    out[o] = (a << 2) | (b >> 4);
    return out;
  }
  const c = sextet(text, i + 2);
  if (c > 63 || (c & 0x03) !== 0) return null;
  out[o++] = (a << 2) | (b >> 4);
  out[o] = ((b & 0x0f) << 4) | (c >> 2);
  return out;
}
