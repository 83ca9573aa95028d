/**
 * A circuit breaker for one node. Closed: requests go. After `threshold` failures in a row (connect
 * errors, resets, 5xx), or at once on Ollama's 503 "server busy", it opens: the router sends the
 * node nothing until the open time has passed (at least a Retry-After the node gave). Then it is
 * half-open: exactly one request (the trial) may go; its success closes the breaker, its failure
 * opens it again for twice as long (up to 16 times the base). So a node that answers every request
 * with an instant 503 is sent one request per open period, not the share least-connections would
 * give it (docs/fleet.md "Failures").
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

const MAX_DOUBLINGS = 4;

export class Breaker {
  state: BreakerState = 'closed';
  /** When an open breaker becomes half-open (ms, the clock passed in). */
  openUntil = 0;
  /** Times it has opened (a metric). */
  opens = 0;
  #failures = 0;
  #doublings = 0;
  #trialOut = false;
  /** The breaker opened because the node said it was busy (503). */
  #busy = false;
  readonly #threshold: number;
  readonly #baseMs: number;

  constructor(threshold: number, baseMs: number) {
    this.#threshold = threshold;
    this.#baseMs = baseMs;
  }

  /** May a request be sent now? Half-open: only while no trial is out. */
  allows(now: number): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') {
      if (now < this.openUntil) return false;
      this.state = 'half-open';
      this.#trialOut = false;
    }
    return !this.#trialOut;
  }

  /** A request was sent: in half-open it is the trial, and no other goes until it ends. Returns whether it is the trial. */
  dispatched(): boolean {
    if (this.state !== 'half-open') return false;
    this.#trialOut = true;
    return true;
  }

  /** The node answered (any status below 500). */
  success(): void {
    this.#failures = 0;
    this.#doublings = 0;
    this.#trialOut = false;
    this.state = 'closed';
  }

  /**
   * The node failed a request. `busy`: it said so itself (503), which opens at once; `retryAfterMs`
   * is the node's own Retry-After, a floor for the open time.
   */
  failure(now: number, busy: boolean, retryAfterMs: number | null): void {
    if (this.state === 'open') {
      // Requests sent before it opened are still coming back: they say nothing new, and must not
      // lengthen the open time (only a failed trial doubles it). A later Retry-After is honoured.
      if (retryAfterMs !== null) this.openUntil = Math.max(this.openUntil, now + retryAfterMs);
      return;
    }
    this.#failures++;
    if (this.state === 'half-open' || busy || this.#failures >= this.#threshold) {
      this.#busy = busy;
      this.#open(now, retryAfterMs ?? 0);
    }
  }

  /**
   * The active probe reached the node. A breaker opened by failures to connect may try a request
   * at once (the node is back); one opened by "server busy" waits out its time, since a node that
   * is busy for inference still answers the probe.
   */
  probeSucceeded(now: number): void {
    if (this.state === 'open' && !this.#busy && now < this.openUntil) this.openUntil = now;
  }

  /** The trial ended without telling anything about the node (its client left first): another may go. */
  trialAbandoned(): void {
    if (this.state === 'half-open') this.#trialOut = false;
  }

  #open(now: number, floorMs: number): void {
    const ms = this.#baseMs * 2 ** this.#doublings;
    if (this.#doublings < MAX_DOUBLINGS) this.#doublings++;
    this.openUntil = now + Math.max(ms, floorMs);
    this.state = 'open';
    this.#trialOut = false;
    this.#failures = 0;
    this.opens++;
  }
}
