/**
 * The contract between the limiter (queue, headers, refusals) and the place where counters live
 * (this process's memory, or Redis shared by replicas). One call decides a whole admission
 * atomically: every configured limit is checked first and, only if all pass, every one is
 * charged. Nothing is taken when anything refuses, so a refused request never uses up quota and
 * a queued request can simply try again.
 *
 * Algorithms (docs/limits.md has the user-facing version):
 *   rpm  token bucket, capacity rpm, refilled continuously at rpm per 60 s (one request = 1).
 *   tpm  token bucket, capacity tpm, refilled at tpm per 60 s; a request takes its reservation
 *        (min(estimate, tpm)) up front and settles to the real count at the end. The level may go
 *        below zero when a request used more than it reserved: that debt is repaid by refill
 *        before the next token request is admitted.
 *   tpd  fixed UTC calendar day: used + reservation must fit in tpd; settled the same way, on the
 *        day the request started.
 *   concurrency  counted permits per key, per model and global, held until `release`.
 */

/** Which limit refused. Rate kinds refuse at once; concurrency kinds may wait in the queue. */
export type Blocker = 'rpm' | 'tpm' | 'tpd' | 'principal' | 'model' | 'global';

export const RATE_BLOCKERS: ReadonlySet<Blocker> = new Set(['rpm', 'tpm', 'tpd']);

export interface ModelCap {
  /** Canonical model name: the permit pool is per model. */
  readonly model: string;
  readonly cap: number;
}

export interface AcquireSpec {
  /** Principal id (key id, `file:SHA256:…` for authorized_keys entries). */
  readonly pid: string;
  readonly rpm: number | null;
  /** Token limits are checked only when `tokens` is not null (routes that use tokens). */
  readonly tpm: number | null;
  readonly tpd: number | null;
  /** Reservation (prompt estimate + expected output, at most the output cap; limiter.ts), or null when the route uses no tokens. */
  readonly tokens: number | null;
  readonly concurrency: number | null;
  readonly models: readonly ModelCap[];
  readonly global: number | null;
}

/** One window's state after the decision, for RateLimit-* / x-ratelimit-* headers. */
export interface WindowState {
  readonly limit: number;
  /** Whole units left now (never negative). */
  readonly remaining: number;
  /** Milliseconds until the window is full again (bucket) or starts over (day). */
  readonly resetMs: number;
}

export interface Windows {
  rpm: WindowState | null;
  tpm: WindowState | null;
  tpd: WindowState | null;
}

export interface Granted extends Windows {
  ok: true;
  lease: Lease;
}

export interface Refused extends Windows {
  ok: false;
  blocker: Blocker;
  /** For model refusals: the model whose pool is full. */
  model?: string;
  /** When the refused limit can next admit this request (rate kinds); 0 when unknown (concurrency). */
  retryMs: number;
}

export type AcquireResult = Granted | Refused;

/** What an admission holds: reservations and permits, given back exactly once. */
export interface Lease {
  /** Settles the token reservation to `actualTokens` and frees every permit. Called once. */
  release(actualTokens: number): void;
}

export interface LimitStore {
  acquire(spec: AcquireSpec): AcquireResult | Promise<AcquireResult>;
  /** Permits held through this store (this process's leases). */
  inFlight(): number;
  close(): Promise<void>;
}

export const MINUTE = 60_000;
export const DAY = 86_400_000;

export function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}
