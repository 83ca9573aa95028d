import type { PrincipalClamps, PrincipalKind, PrincipalLimits, Scope } from '../core/types.js';
import type { RollupQuery, RollupRow } from './rollups.js';

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
  /**
   * The policy (its id) whose scopes, models, limits and clamps this key takes instead of its own;
   * null = the key's own values apply.
   */
  policyId: string | null;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  updatedAt: number;
  /** Monotonic change counter across all keys: caches reload rows with version > their last. */
  version: number;
  /**
   * API keys that were rotated (`keys rotate`): the previous secret's hash and until when it is
   * still accepted. Kept after that, so the old secret is refused as "rotated", not "unknown".
   * Backends always set it (null = never rotated); records built elsewhere may leave it out.
   */
  rotation?: KeyRotation | null;
  /**
   * Personal keys (`/admin/v1/me/keys`): the identity that created it for itself. Such a key takes
   * its owner's policy at creation and works only while a rule of the owner's issuer still maps to
   * that policy (auth/personal-keys.ts). null = an operator's key. Backends always set it.
   */
  owner?: KeyOwner | null;
}

/** The signed-in identity a personal key belongs to (never a token: who, and from which provider). */
export interface KeyOwner {
  /** The identity's principal id (`oidc:…`): what its keys are listed and revoked by. */
  id: string;
  issuer: string;
  subject: string;
}

export interface KeyRotation {
  /** Hex SHA-256 of the secret this key had before its last rotation. Never shown outside the store. */
  previousHash: string;
  /** ms: the previous secret is accepted while now < this (the overlap window's end). */
  previousUntil: number;
  rotatedAt: number;
}

/** A new secret for an API key: its hash and hint (the secret itself is never stored) and the overlap. */
export interface KeyRotationRequest {
  hash: string;
  hint: string;
  /** How long the previous secret keeps working, ms; 0 = refused at once. */
  overlapMs: number;
}

/** `policyId` may be left out: no policy. */
export type NewKey = Omit<KeyRecord, 'createdAt' | 'revokedAt' | 'lastUsedAt' | 'updatedAt' | 'version' | 'policyId' | 'rotation' | 'owner'> & { policyId?: string | null; owner?: KeyOwner | null };

export type KeyPatch = Partial<Pick<KeyRecord, 'name' | 'scopes' | 'models' | 'limits' | 'clamps' | 'expiresAt' | 'policyId'>>;

/** Who did something to the key store, for the admin audit trail. */
export interface Actor {
  /** e.g. `cli:alice@host` or `server`. */
  actor: string;
}

export interface KeyStore {
  /** A `policyId` must name a policy that exists and is not deleted (else an error, nothing written). */
  create(key: NewKey, by: Actor): Promise<KeyRecord>;
  /** By id, or by name when the name is unique. */
  find(idOrName: string): Promise<KeyRecord | null>;
  list(): Promise<KeyRecord[]>;
  /** A `policyId` in the patch is checked as in `create`. */
  update(id: string, patch: KeyPatch, by: Actor): Promise<KeyRecord>;
  revoke(id: string, by: Actor): Promise<KeyRecord>;
  /**
   * Gives an API key a new secret (same id, grants and history); the previous secret keeps working
   * for `overlapMs`. Refused (KeyNotRotatableError) for SSH and certificate keys and revoked keys.
   */
  rotate(id: string, next: KeyRotationRequest, by: Actor): Promise<KeyRecord>;
  /** Rows changed since `version` (including revocations), for caches. */
  changesSince(version: number): Promise<{ version: number; records: KeyRecord[] }>;
  /** Records last-use times in bulk (does not bump versions: it is not a policy change). */
  touch(lastUsed: ReadonlyMap<string, number>): Promise<void>;
  /** Quick liveness probe for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A named policy: scopes, model allowlist, limits and clamps that keys (and, later, identities)
 * take instead of their own. Deleting one keeps its row (`deletedAt`), as revoking a key does, so
 * caches learn of the deletion through `changesSince`; its name is free again at once.
 */
export interface PolicyRecord {
  /** `pol_` + 12 base62. */
  id: string;
  /** Unique among policies that are not deleted. */
  name: string;
  scopes: Scope[];
  /** Model allowlist globs; null = all models. */
  models: string[] | null;
  limits: PrincipalLimits;
  clamps: PrincipalClamps;
  createdAt: number;
  updatedAt: number;
  deletedAt: number | null;
  /** Monotonic change counter across all policies (its own, not the keys'). */
  version: number;
}

export type NewPolicy = Pick<PolicyRecord, 'id' | 'name' | 'scopes' | 'models' | 'limits' | 'clamps'>;

export type PolicyPatch = Partial<Pick<PolicyRecord, 'name' | 'scopes' | 'models' | 'limits' | 'clamps'>>;

export interface PolicyStore {
  /** Refuses a name a policy that is not deleted already has. */
  create(policy: NewPolicy, by: Actor): Promise<PolicyRecord>;
  /** By id or by name; deleted policies only by id. */
  find(idOrName: string): Promise<PolicyRecord | null>;
  /** Policies not deleted, by name; `includeDeleted` adds the deleted ones (what old keys point at). */
  list(o?: { includeDeleted?: boolean }): Promise<PolicyRecord[]>;
  update(id: string, patch: PolicyPatch, by: Actor): Promise<PolicyRecord>;
  /** Refused with PolicyInUseError while keys that are not revoked use it. Deleting again changes nothing. */
  delete(id: string, by: Actor): Promise<PolicyRecord>;
  /** Rows changed since `version` (deletions included), for caches. */
  changesSince(version: number): Promise<{ version: number; records: PolicyRecord[] }>;
}

/** Only API keys that are not revoked have a secret to rotate. */
export class KeyNotRotatableError extends Error {
  constructor(readonly key: string, why: 'kind' | 'revoked') {
    super(why === 'kind'
      ? `key "${key}" is not an API key: only API keys have a secret to rotate (an SSH or certificate key is replaced by registering the new one and revoking the old)`
      : `key "${key}" is revoked: a revoked key cannot be rotated; create a new one (gatehouse keys create --name NAME)`);
    this.name = 'KeyNotRotatableError';
  }
}

/** A rotation as stored: the overlap's end, checked by both backends the same way. */
export function rotationOf(r: KeyRecord, next: KeyRotationRequest, now: number): KeyRotation {
  if (r.kind !== 'api_key' || r.hash === null) throw new KeyNotRotatableError(r.name, 'kind');
  if (r.revokedAt !== null) throw new KeyNotRotatableError(r.name, 'revoked');
  return { previousHash: r.hash, previousUntil: now + Math.max(0, next.overlapMs), rotatedAt: now };
}

/** A policy that keys still use cannot be deleted. */
export class PolicyInUseError extends Error {
  constructor(readonly policy: string, readonly keys: number) {
    super(`policy "${policy}" is used by ${keys} key${keys === 1 ? '' : 's'} that ${keys === 1 ? 'is' : 'are'} not revoked; give ${keys === 1 ? 'it' : 'them'} another policy (gatehouse keys update ID --policy OTHER), detach ${keys === 1 ? 'it' : 'them'} (--no-policy) or revoke ${keys === 1 ? 'it' : 'them'} first`);
    this.name = 'PolicyInUseError';
  }
}

/**
 * One request as the audit log keeps it: who, what, the decision, tokens and timing. Built from
 * the RequestScope when the response has closed (audit/record.ts). Never holds key material, a
 * hash, a header value, a prompt or an output.
 */
export interface AuditRecord {
  /** Store-assigned, increasing in insertion order. */
  id: number;
  /** Arrival time, ms since the epoch. */
  at: number;
  requestId: string;
  principalId: string | null;
  principalName: string | null;
  clientIp: string;
  method: string;
  /** Route id from the route table; null when no route matched. */
  route: string | null;
  /** The path, only when no route matched (truncated, key-shaped text redacted). */
  path: string | null;
  /** Scope the route requires; null for public or unmatched routes. */
  scope: Scope | null;
  /** First canonical model the request names (what usage reports group by); null if none. */
  model: string | null;
  models: string[];
  decision: 'allowed' | 'refused';
  /** GW_ERR_* code of a refusal or failure. */
  reason: string | null;
  status: number;
  promptTokens: number | null;
  completionTokens: number | null;
  /** Counts were estimated (the stream ended before Ollama's final usage record). */
  tokensEstimated: boolean;
  ttfbMs: number | null;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  clientAborted: boolean;
  stream: boolean;
  /** Upstream node the request was sent to; null when it never left Gatehouse. */
  upstream: string | null;
  /** Short error text when Ollama failed or broke a stream. */
  upstreamError: string | null;
  /** With `upstreams`: the node that served it (names, comma-separated, for a management call sent to several); null otherwise. */
  node: string | null;
}

export type NewAuditRecord = Omit<AuditRecord, 'id'>;

export interface AuditQuery {
  /** at >= since (ms). */
  since?: number;
  /** at < until (ms). */
  until?: number;
  principalId?: string;
  /** Only refusals. */
  deniedOnly?: boolean;
  /** id > afterId (tailing). */
  afterId?: number;
  /** Default 1000. */
  limit?: number;
  /** 'asc' (default): oldest first; 'desc': newest first. */
  order?: 'asc' | 'desc';
}

/** A change to keys or configuration: who, what, when (the admin audit trail). */
export interface AdminEvent {
  id: number;
  at: number;
  /** e.g. `cli:alice@host`, `server:gatehouse@node1`. */
  actor: string;
  /** key.create, key.update, key.revoke, policy.create, policy.update, policy.delete, config.change … */
  action: string;
  keyId: string | null;
  /** policy.* events: `policy` (its id), `name`, and what changed. */
  detail: Record<string, unknown>;
}

export interface AdminQuery {
  since?: number;
  until?: number;
  keyId?: string;
  /** Exact action, or a prefix ending in '.' (e.g. 'config.'). */
  action?: string;
  afterId?: number;
  limit?: number;
  order?: 'asc' | 'desc';
}

/** `all`: one row for the whole period (the report's total, with its percentiles). */
export type UsageGroupBy = 'key' | 'model' | 'node' | 'day' | 'hour' | 'all';

export interface UsageQuery {
  since: number;
  until: number;
  by: UsageGroupBy;
  principalId?: string;
}

/**
 * One group of a usage report. Latency percentiles are over allowed requests (nearest rank), read
 * from the roll-ups' histograms: within 5% (store/histogram.ts).
 */
export interface UsageRow {
  /** Principal id, model, node, or the bucket start (ms, UTC) for day/hour; null = none (unauthenticated, no model, no node). */
  group: string | number | null;
  /** by key: the principal's name. */
  label: string | null;
  requests: number;
  refused: number;
  promptTokens: number;
  completionTokens: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

/** Request records, the admin trail and the usage reports computed from them. */
export interface AuditStore {
  /** Appends a batch in one transaction: all or none. */
  append(records: readonly NewAuditRecord[]): Promise<void>;
  query(q: AuditQuery): Promise<AuditRecord[]>;
  /** From the roll-ups (store/rollup-report.ts): exact counts for any period, percentiles within 5%. */
  usage(q: UsageQuery): Promise<UsageRow[]>;
  /**
   * Roll-up rows of one grain, or audit records as such rows (`raw`): what reports add up. Every
   * backend has it; a store reached through a gateway's admin API (cli/remote-stores.ts) has not.
   */
  rollups?(q: RollupQuery): Promise<RollupRow[]>;
  recordAdmin(e: Omit<AdminEvent, 'id'>): Promise<void>;
  adminEvents(q: AdminQuery): Promise<AdminEvent[]>;
  /**
   * Deletes request records with at < before, in bounded batches, and the minute and hour roll-ups
   * that end by then (day roll-ups are kept: one row per key, model and node a day); returns how
   * many request records.
   */
  prune(before: number): Promise<number>;
}

/**
 * A blob a principal uploaded through Gatehouse (`POST /api/blobs/:digest`): Gatehouse hashed the
 * whole body itself and it matched the digest, and Ollama answered 200 or 201. It records that this
 * principal has shown it holds these bytes; a create may reference only such blobs. Never a secret:
 * the principal's id and name, the digest and the time.
 */
export interface BlobUpload {
  /** `sha256:<64 lower-case hex>`. */
  digest: string;
  principalId: string;
  principalName: string;
  /** ms since the epoch; the first upload is kept. */
  uploadedAt: number;
}

export interface BlobStore {
  /** Records an upload; recording a digest again for the same principal keeps the first record. */
  recordUpload(u: BlobUpload): Promise<void>;
  /** Which of `digests` this principal has uploaded (any order, no duplicates). */
  uploadedBy(principalId: string, digests: readonly string[]): Promise<string[]>;
  /** Every recorded upload of one digest, oldest first. */
  uploadsOf(digest: string): Promise<BlobUpload[]>;
}

/** An append that can never succeed (bad data, not a down database): retrying will not help. */
export class PermanentStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentStoreError';
  }
}

/**
 * Who a console session acts for, re-checked on every request (server/console/session-principal.ts): a key
 * by id (revoking or expiring the key ends its sessions), or a signed-in identity with the policy
 * its groups mapped to at sign-in (followed live; the rule must still give it).
 */
export type SessionPrincipal =
  | { kind: 'key'; keyId: string }
  | { kind: 'oidc'; issuer: string; subject: string; name: string; policyId: string }
  /** A sign-in under way at the provider (server/console/oidc-sign-in.ts): never a session, taken once by the callback. */
  | { kind: 'pending'; codeVerifier: string };

/** A console session (server/console/sessions.ts): never its secret, only the secret's SHA-256. */
export interface ConsoleSessionRecord {
  idHash: string;
  principal: SessionPrincipal;
  createdAt: number;
  lastSeenAt: number;
  /** The absolute end, ms since the epoch; the idle end is lastSeenAt + the idle timeout. */
  expiresAt: number;
}

/** Console sessions, shared by every process on the store (--workers, replicas on PostgreSQL). */
export interface ConsoleSessionStore {
  create(s: ConsoleSessionRecord): Promise<void>;
  get(idHash: string): Promise<ConsoleSessionRecord | null>;
  touch(idHash: string, at: number): Promise<void>;
  remove(idHash: string): Promise<void>;
  /** Deletes sessions whose absolute end or idle end (lastSeenAt + idleMs) has passed; returns how many. */
  prune(now: number, idleMs: number): Promise<number>;
}
