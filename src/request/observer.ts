import type { RequestScope } from './scope.js';

/**
 * Told about every request exactly once, after its response has closed and its usage has been
 * settled: audit, metrics and the request log subscribe here. Implementations must not block
 * (they queue and batch), because this runs on the request path's tail.
 */
export interface Observer {
  requestEnded(scope: RequestScope): void;
  /** Flush and stop (graceful shutdown); called once, after the last request has ended. */
  close?(): Promise<void>;
}

export class Observers implements Observer {
  readonly #list: Observer[];
  constructor(list: Observer[]) {
    this.#list = list;
  }
  requestEnded(scope: RequestScope): void {
    for (const o of this.#list) {
      try {
        o.requestEnded(scope);
      } catch {
        /* an observer's failure must never reach the client or the other observers */
      }
    }
  }
  async close(): Promise<void> {
    for (const o of this.#list) await o.close?.().catch(() => {});
  }
}
