import type { KeyStore } from '../store/types.js';

/**
 * Remembers when each key was last used and writes that to the store in one batch every few
 * seconds, off the request path (a Map.set per request; no I/O). A crash loses at most one
 * interval of last-used times, which are informational (`keys list`, `doctor`'s unused keys).
 */
export class LastUsed {
  readonly #store: KeyStore;
  #pending = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;

  constructor(store: KeyStore) {
    this.#store = store;
  }

  note(id: string, at: number): void {
    this.#pending.set(id, at);
  }

  start(everyMs = 5000): void {
    this.#timer ??= setInterval(() => void this.flush(), everyMs);
    this.#timer.unref();
  }

  async flush(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    for (const id of batch.keys()) if (id.startsWith('file:')) batch.delete(id);
    await this.#store.touch(batch).catch(() => {
      // Store unavailable: keep the newest times for the next attempt.
      for (const [id, at] of batch) if ((this.#pending.get(id) ?? 0) < at) this.#pending.set(id, at);
    });
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.flush();
  }
}
