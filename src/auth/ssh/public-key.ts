// One public key in authorized_keys / `.pub` form: `ssh-ed25519 AAAA... optional comment`.
// This is how users hand their `~/.ollama/id_ed25519.pub` to the gateway.

import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { decodeStrictBase64 } from './base64.js';
import { nextField } from './fields.js';
import {
  ED25519_KEY_TYPE,
  ED25519_RAW_KEY_BYTES,
  describeWireKeyFailure,
  encodeEd25519Blob,
  parseEd25519Blob,
  unsupportedKeyTypeMessage,
  type WireKeyFailure,
} from './wire.js';

export interface Ed25519PublicKey {
  type: typeof ED25519_KEY_TYPE;
  /** SSH wire-format blob (51 bytes). */
  blob: Buffer;
  /** Raw Ed25519 public key (32 bytes). */
  rawKey: Buffer;
  /** Whatever followed the key data, trimmed; '' when absent. */
  comment: string;
  /** `SHA256:<unpadded base64>`, the same string `ssh-keygen -lf` prints. */
  fingerprint: string;
}

export type PublicKeyLineFailure =
  | { ok: false; reason: 'empty' }
  | { ok: false; reason: 'missing-key-data' }
  /** The first field is not a key type (key options such as `from="..."` are not supported). */
  | { ok: false; reason: 'bad-key-type-field' }
  | { ok: false; reason: 'unsupported-key-type'; keyType: string }
  | { ok: false; reason: 'bad-base64' }
  /** The type field says ssh-ed25519 but the key data is of another type. */
  | { ok: false; reason: 'type-mismatch'; keyType: string }
  | { ok: false; reason: 'bad-key-data'; detail: Exclude<WireKeyFailure['reason'], 'unsupported-key-type'> };

export type PublicKeyLineResult = ({ ok: true } & Ed25519PublicKey) | PublicKeyLineFailure;

/** Far above any real key (an RSA-16384 line is ~2.8 kB); bounds the work a hostile file can cause. */
const MAX_KEY_DATA_CHARS = 16 * 1024;
const MAX_KEY_TYPE_CHARS = 64;
const KEY_TYPE_FIELD = /^[A-Za-z0-9@.+_-]+$/;

/**
 * Parses `ssh-ed25519 <base64 blob> [comment]`. Never throws. The comment is everything after the
 * key data (inner spaces kept), so callers with a richer line format parse the rest themselves.
 */
export function parsePublicKeyLine(line: string): PublicKeyLineResult {
  const typeField = nextField(line, 0);
  if (typeField === null) return { ok: false, reason: 'empty' };
  const type = line.slice(typeField[0], typeField[1]);
  if (type.length > MAX_KEY_TYPE_CHARS || !KEY_TYPE_FIELD.test(type)) return { ok: false, reason: 'bad-key-type-field' };
  if (type !== ED25519_KEY_TYPE) return { ok: false, reason: 'unsupported-key-type', keyType: type };

  const dataField = nextField(line, typeField[1]);
  if (dataField === null) return { ok: false, reason: 'missing-key-data' };
  if (dataField[1] - dataField[0] > MAX_KEY_DATA_CHARS) return { ok: false, reason: 'bad-base64' };
  const blob = decodeStrictBase64(line, dataField[0], dataField[1]);
  if (blob === null) return { ok: false, reason: 'bad-base64' };

  const parsed = parseEd25519Blob(blob);
  if (!parsed.ok) {
    if (parsed.reason === 'unsupported-key-type') return { ok: false, reason: 'type-mismatch', keyType: parsed.keyType };
    return { ok: false, reason: 'bad-key-data', detail: parsed.reason };
  }
  return {
    ok: true,
    type: ED25519_KEY_TYPE,
    blob,
    rawKey: parsed.rawKey,
    comment: line.slice(dataField[1]).trim(),
    fingerprint: sshFingerprint(blob),
  };
}

export function describePublicKeyLineFailure(failure: PublicKeyLineFailure): string {
  switch (failure.reason) {
    case 'empty':
      return 'line is empty';
    case 'missing-key-data':
      return 'key type is not followed by base64 key data';
    case 'bad-key-type-field':
      return 'line must start with a key type such as ssh-ed25519 (key options are not supported)';
    case 'unsupported-key-type':
      return unsupportedKeyTypeMessage(failure.keyType);
    case 'bad-base64':
      return 'key data is not valid base64';
    case 'type-mismatch':
      return `line says ${ED25519_KEY_TYPE} but the key data is ${failure.keyType}`;
    case 'bad-key-data':
      return describeWireKeyFailure({ ok: false, reason: failure.detail });
  }
}

/** OpenSSH's SHA256 fingerprint: sha256 over the wire blob, standard base64 without padding. */
export function sshFingerprint(blob: Uint8Array): string {
  const b64 = createHash('sha256').update(blob).digest('base64');
  // A 32-byte digest is 44 base64 chars ending in exactly one '='.
  return 'SHA256:' + b64.slice(0, 43);
}

/** Builds a Node public KeyObject; build it once per key and reuse it for every verification. */
export function createEd25519KeyObject(rawKey: Uint8Array): KeyObject {
  if (rawKey.length !== ED25519_RAW_KEY_BYTES) {
    throw new RangeError(`an Ed25519 public key is ${ED25519_RAW_KEY_BYTES} bytes, got ${rawKey.length}`);
  }
  const x = Buffer.from(rawKey.buffer, rawKey.byteOffset, rawKey.length).toString('base64url');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
}

/** The canonical line `ssh-ed25519 <base64 blob>` (plus ` comment` when given), as in a `.pub` file. */
export function formatPublicKeyLine(rawKey: Uint8Array, comment?: string): string {
  const line = `${ED25519_KEY_TYPE} ${encodeEd25519Blob(rawKey).toString('base64')}`;
  return comment ? `${line} ${comment}` : line;
}
