/**
 * The wait queue: one FIFO per principal, served round-robin across principals. The Map's
 * insertion order is the service order: a principal that was just served goes to the back, and a
 * principal that starts waiting joins at the back. So a principal with one waiting request is
 * served after at most one grant to each other waiting principal, however many requests they
 * have queued.
 *
 *   principals:  [B] → [C] → [A]          (A was served last)
 *   FIFOs:        B: b1        C: c1 c2    A: a2 a3 … a100
 */

export interface QueueEntry {
  readonly pid: string;
  /** performance.now() by which the entry must be served. */
  readonly deadline: number;
  /** Set once the entry is granted, refused, expired or abandoned. */
  done: boolean;
}

const EMPTY: readonly never[] = Object.freeze([]);

export class FairQueue<E extends QueueEntry> {
  readonly #byPid = new Map<string, E[]>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  countFor(pid: string): number {
    return this.#byPid.get(pid)?.length ?? 0;
  }

  push(e: E): void {
    const q = this.#byPid.get(e.pid);
    if (q) q.push(e);
    else this.#byPid.set(e.pid, [e]);
    this.#size++;
  }

  /** Principals with waiters, in service order (a snapshot: serving reorders the live queue). */
  principals(): string[] {
    return [...this.#byPid.keys()];
  }

  head(pid: string): E | undefined {
    return this.#byPid.get(pid)?.[0];
  }

  /** Takes the head of `pid`'s FIFO after it was granted, and sends `pid` to the back of the round. */
  served(e: E): void {
    const q = this.#byPid.get(e.pid);
    if (!q || q[0] !== e) {
      this.remove(e);
      return;
    }
    q.shift();
    this.#size--;
    this.#byPid.delete(e.pid);
    if (q.length) this.#byPid.set(e.pid, q);
  }

  /** A principal's waiting entries, oldest first (the live list: read it, change it only through this queue). */
  entriesOf(pid: string): readonly E[] {
    return this.#byPid.get(pid) ?? EMPTY;
  }

  /**
   * Takes an entry that was granted from anywhere in its principal's FIFO (a router may serve a
   * later request whose model has a free slot while the head still waits for one), and sends the
   * principal to the back of the round, as `served` does.
   */
  take(e: E): void {
    const q = this.#byPid.get(e.pid);
    if (!q) return;
    const i = q.indexOf(e);
    if (i === -1) return;
    q.splice(i, 1);
    this.#size--;
    this.#byPid.delete(e.pid);
    if (q.length) this.#byPid.set(e.pid, q);
  }

  /** Removes an entry wherever it is (abandoned or expired). Keeps the principal's place. */
  remove(e: E): boolean {
    const q = this.#byPid.get(e.pid);
    if (!q) return false;
    const i = q.indexOf(e);
    if (i === -1) return false;
    q.splice(i, 1);
    this.#size--;
    if (q.length === 0) this.#byPid.delete(e.pid);
    return true;
  }

  /** The earliest deadline (every principal's FIFO is in deadline order: one max_wait for all). */
  earliestDeadline(): number {
    let min = Infinity;
    for (const q of this.#byPid.values()) if (q[0]!.deadline < min) min = q[0]!.deadline;
    return min;
  }

  /** Removes and returns every entry whose deadline has passed. */
  takeExpired(now: number): E[] {
    const out: E[] = [];
    for (const [pid, q] of this.#byPid) {
      let n = 0;
      while (n < q.length && q[n]!.deadline <= now) n++;
      if (n === 0) continue;
      out.push(...q.splice(0, n));
      this.#size -= n;
      if (q.length === 0) this.#byPid.delete(pid);
    }
    return out;
  }

  /** Removes and returns everything (shutdown). */
  drain(): E[] {
    const out: E[] = [];
    for (const q of this.#byPid.values()) out.push(...q);
    this.#byPid.clear();
    this.#size = 0;
    return out;
  }
}
