import type { PrincipalClamps, PrincipalKind, PrincipalLimits, Scope } from '../core/types.js';

/**
 * Storage contracts. Backends (sqlite/, postgres/) implement these; nothing outside store/ imports
 * a backend directly. Every backend passes the same contract suite (test/contract/).
 */

/** A key as stored: never the key itself, only its SHA-256 (API keys) or public key (SSH keys). */
export interface KeyRecord {
  id: string;
  name: string;
  kind: PrincipalKind;
  /** API keys: hex SHA-256 of the key. */
  hash: string | null;
  /** API keys: the first characters, to tell keys apart in listings. */
  hint: string | null;
  /** SSH keys: `SHA256:...` as ssh-keygen -lf prints it. */
  fingerprint: string | null;
  /** SSH keys: `ssh-ed25519 AAAA...` (public, safe to store). */
  publicKey: string | null;
  scopes: Scope[];
  /** Model allowlist globs; null = all models. */
  models: string[] | null;
  limits: PrincipalLimits;
  clamps: PrincipalClamps;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  updatedAt: number;
  /** Monotonic change counter across all keys: caches reload rows with version > their last. */
  version: number;
}

export type NewKey = Omit<KeyRecord, 'createdAt' | 'revokedAt' | 'lastUsedAt' | 'updatedAt' | 'version'>;

export type KeyPatch = Partial<Pick<KeyRecord, 'name' | 'scopes' | 'models' | 'limits' | 'clamps' | 'expiresAt'>>;

/** Who did something to the key store, for the admin audit trail. */
export interface Actor {
  /** e.g. `cli:alice@host` or `server`. */
  actor: string;
}

export interface KeyStore {
  create(key: NewKey, by: Actor): Promise<KeyRecord>;
  /** By id, or by name when the name is unique. */
  find(idOrName: string): Promise<KeyRecord | null>;
  list(): Promise<KeyRecord[]>;
  update(id: string, patch: KeyPatch, by: Actor): Promise<KeyRecord>;
  revoke(id: string, by: Actor): Promise<KeyRecord>;
  /** Rows changed since `version` (including revocations), for caches. */
  changesSince(version: number): Promise<{ version: number; records: KeyRecord[] }>;
  /** Records last-use times in bulk (does not bump versions: it is not a policy change). */
  touch(lastUsed: ReadonlyMap<string, number>): Promise<void>;
  /** Quick liveness probe for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
