// SSH wire-format public key blobs (RFC 4253 §6.6, RFC 8709 §4).
//
// An Ed25519 blob is exactly: uint32(11) "ssh-ed25519" uint32(32) <32-byte key> — 51 bytes.
// The blob comes from an attacker-controlled header, so every length field is checked against the
// bytes actually left before it is used, and nothing here throws or allocates from a length field.

export const ED25519_KEY_TYPE = 'ssh-ed25519';
export const ED25519_RAW_KEY_BYTES = 32;
/** 4 + 11 + 4 + 32. */
export const ED25519_BLOB_BYTES = 51;

/** Key type names are short ASCII identifiers; anything longer is garbage, not a type we could name. */
const MAX_KEY_TYPE_BYTES = 64;

export type WireKeyFailure =
  /** A length field points past the end of the blob. */
  | { ok: false; reason: 'truncated' }
  /** Bytes follow the key. A second spelling of the same key must not exist. */
  | { ok: false; reason: 'trailing-bytes' }
  /** The type name is empty, too long or contains characters no key type uses. */
  | { ok: false; reason: 'bad-key-type-name' }
  /** A well-formed key of another type (ssh-rsa, ecdsa-sha2-nistp256, sk-ssh-ed25519@openssh.com, ...). */
  | { ok: false; reason: 'unsupported-key-type'; keyType: string }
  /** An ssh-ed25519 blob whose key field is not 32 bytes. */
  | { ok: false; reason: 'bad-key-length' };

export type WireKeyResult = { ok: true; rawKey: Buffer } | WireKeyFailure;

export type KeyTypeResult = { ok: true; keyType: string; next: number } | WireKeyFailure;

function readUint32(bytes: Uint8Array, offset: number): number {
  // `>>> 0` keeps the top bit from turning the value negative.
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

/** Letters, digits and `@ . + _ -`: enough for every registered and `@openssh.com` key type. */
function isKeyTypeByte(b: number): boolean {
  return (
    (b >= 0x61 && b <= 0x7a) || // a-z
    (b >= 0x41 && b <= 0x5a) || // A-Z
    (b >= 0x30 && b <= 0x39) || // 0-9
    b === 0x40 || b === 0x2e || b === 0x2b || b === 0x5f || b === 0x2d // @ . + _ -
  );
}

/**
 * Reads the leading `string keytype` of a blob. Works on a prefix of a blob too, which lets the
 * token parser name the type of an oversized key without decoding all of it.
 * The returned name is safe to put in an error message: it is restricted to key-type characters.
 */
export function readKeyType(blob: Uint8Array): KeyTypeResult {
  if (blob.length < 4) return { ok: false, reason: 'truncated' };
  const len = readUint32(blob, 0);
  if (len === 0 || len > MAX_KEY_TYPE_BYTES) return { ok: false, reason: 'bad-key-type-name' };
  if (len > blob.length - 4) return { ok: false, reason: 'truncated' };
  for (let i = 4; i < 4 + len; i++) {
    if (!isKeyTypeByte(blob[i]!)) return { ok: false, reason: 'bad-key-type-name' };
  }
  return { ok: true, keyType: Buffer.from(blob.buffer, blob.byteOffset + 4, len).toString('latin1'), next: 4 + len };
}

/**
 * Parses a complete public key blob and returns the raw 32-byte Ed25519 key.
 * The returned `rawKey` is a view into `blob` (no copy); copy it if `blob` will be reused.
 */
export function parseEd25519Blob(blob: Uint8Array): WireKeyResult {
  // Fast path for the only shape we accept: avoids decoding the type name into a string.
  if (blob.length === ED25519_BLOB_BYTES && hasEd25519Header(blob)) {
    return { ok: true, rawKey: Buffer.from(blob.buffer, blob.byteOffset + 19, ED25519_RAW_KEY_BYTES) };
  }
  const type = readKeyType(blob);
  if (!type.ok) return type;
  if (type.keyType !== ED25519_KEY_TYPE) return { ok: false, reason: 'unsupported-key-type', keyType: type.keyType };

  let offset = type.next;
  if (blob.length - offset < 4) return { ok: false, reason: 'truncated' };
  const keyLen = readUint32(blob, offset);
  offset += 4;
  if (keyLen > blob.length - offset) return { ok: false, reason: 'truncated' };
  if (keyLen !== ED25519_RAW_KEY_BYTES) return { ok: false, reason: 'bad-key-length' };
  offset += keyLen;
  if (offset !== blob.length) return { ok: false, reason: 'trailing-bytes' };
  // Unreachable in practice (the fast path covers it), kept so the slow path is complete on its own.
  return { ok: true, rawKey: Buffer.from(blob.buffer, blob.byteOffset + offset - keyLen, keyLen) };
}

/** The 19 fixed bytes: uint32(11) "ssh-ed25519" uint32(32). */
const ED25519_BLOB_HEADER = Buffer.from('0000000b7373682d65643235353139' + '00000020', 'hex');

function hasEd25519Header(blob: Uint8Array): boolean {
  for (let i = 0; i < ED25519_BLOB_HEADER.length; i++) {
    if (blob[i] !== ED25519_BLOB_HEADER[i]) return false;
  }
  return true;
}

/** Builds the 51-byte wire blob for a raw 32-byte Ed25519 public key. */
export function encodeEd25519Blob(rawKey: Uint8Array): Buffer {
  if (rawKey.length !== ED25519_RAW_KEY_BYTES) {
    throw new RangeError(`an Ed25519 public key is ${ED25519_RAW_KEY_BYTES} bytes, got ${rawKey.length}`);
  }
  const blob = Buffer.allocUnsafe(ED25519_BLOB_BYTES);
  ED25519_BLOB_HEADER.copy(blob, 0);
  blob.set(rawKey, ED25519_BLOB_HEADER.length);
  return blob;
}

/** The message a user should see; it names the offending key type when there is one. */
export function describeWireKeyFailure(failure: WireKeyFailure): string {
  switch (failure.reason) {
    case 'unsupported-key-type':
      return unsupportedKeyTypeMessage(failure.keyType);
    case 'truncated':
      return 'public key data is truncated';
    case 'trailing-bytes':
      return 'public key data has trailing bytes';
    case 'bad-key-type-name':
      return 'public key data does not start with a valid key type';
    case 'bad-key-length':
      return 'ssh-ed25519 key data must hold a 32-byte key';
  }
}

export function unsupportedKeyTypeMessage(keyType: string): string {
  return `key type ${keyType} is not supported; the ollama CLI uses ${ED25519_KEY_TYPE} keys`;
}
