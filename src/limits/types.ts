import type { ResolvedPrincipal } from '../auth/principal.js';
import type { TokenUsage } from '../core/types.js';
import type { RouteDef } from '../routes/table.js';

/**
 * The contract between the request path and the limiter. The request path asks once, before it
 * forwards anything (`admit`), and settles once, when the response has really ended
 * (`Admission.release`): the permit is held for the whole stream (docs/threat-model.md G3) and the token
 * reservation is replaced by the real count (G4), which also teaches the limiter how long this
 * key's answers from this model are.
 */

export interface AdmissionRequest {
  principal: ResolvedPrincipal;
  route: RouteDef;
  /** Canonical model names (for per-model concurrency caps). */
  models: readonly string[];
  /**
   * Tokens the prompt is estimated to use (body bytes / 4, at most the context size); 0 for routes
   * that use no tokens.
   */
  promptEstimate: number;
  /**
   * The request's own output limit after the clamps (num_predict / max_tokens / max_output_tokens);
   * 0 for routes that produce no output (embeddings, listings). The limiter reserves
   * promptEstimate + min(outputCap, the output it expects for this key and model) and settles to
   * the real count at the end (output-estimate.ts).
   */
  outputCap: number;
  /**
   * Fires when the client goes away while the request waits in a queue. Read it only when a
   * request is about to wait: the gateway creates it lazily (a getter), so requests that are
   * admitted at once never pay for an AbortController.
   */
  readonly signal: AbortSignal;
}

export interface Admission {
  /** RateLimit-* and x-ratelimit-* headers for the response, flat [name, value, …] (empty when no limit applies). */
  readonly headers: readonly string[];
  /** Settles the reservation with what was really used and frees every permit. Idempotent. */
  release(usage: TokenUsage | null): void;
}

export interface Limiter {
  /** Resolves when the request may go upstream; rejects with a GatewayError (429/503) otherwise. */
  admit(req: AdmissionRequest): Promise<Admission> | Admission;
  /**
   * Brute-force guard (issue: failed authentications are limited per client address). Records a
   * failed authentication from `ip` and returns the seconds until that address may fail again, or
   * 0 while it is under the limit. Only failures are counted and refused: a valid key from the
   * same address (a shared NAT) keeps working.
   */
  authFailure(ip: string): number;
  /** Point-in-time gauges for /metrics (read at scrape time, never on the request path). */
  snapshot?(): LimiterSnapshot;
  close(): Promise<void>;
}

export interface LimiterSnapshot {
  inFlight: number;
  queued: number;
  /** Limit-store (Redis) errors since start. */
  storeErrors: number;
  /** True while falling back to per-process limits (on_store_error: local). */
  degraded: boolean;
  /** True while the limit store (Redis) is unreachable, whatever on_store_error says. */
  storeUnavailable?: boolean;
}
