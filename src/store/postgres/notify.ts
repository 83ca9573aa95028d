import pg from 'pg';

/**
 * One dedicated connection that LISTENs for key and policy changes and calls the subscribers, so replicas
 * reload a revoked key within milliseconds instead of at the next poll. The poll stays as the
 * safety net: if this connection drops, it reconnects with backoff and, once back, tells the
 * subscribers anyway (changes made while it was away were not announced).
 */
export class KeyChangeListener {
  readonly #config: pg.ClientConfig;
  readonly #channel: string;
  readonly #subscribers = new Set<() => void>();
  #client: pg.Client | null = null;
  #retryMs = 100;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(config: pg.ClientConfig, channel: string) {
    this.#config = config;
    this.#channel = channel;
  }

  subscribe(fn: () => void): () => void {
    this.#subscribers.add(fn);
    if (!this.#client && !this.#timer) void this.#connect();
    return () => {
      this.#subscribers.delete(fn);
    };
  }

  /** True while the LISTEN connection is up (for tests and metrics). */
  get listening(): boolean {
    return this.#client !== null;
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({ ...this.#config, query_timeout: undefined, keepAlive: true });
    let failed = false;
    const fail = (): void => {
      if (failed) return;
      failed = true;
      if (this.#client === client) this.#client = null;
      client.end().catch(() => {});
      this.#retry();
    };
    client.on('error', fail);
    client.on('end', fail);
    client.on('notification', () => this.#emit());
    try {
      await client.connect();
      await client.query(`LISTEN ${this.#channel}`);
      if (this.#closed || failed) return void client.end().catch(() => {});
      this.#client = client;
      this.#retryMs = 100;
      this.#emit();
    } catch {
      fail();
    }
  }

  #retry(): void {
    if (this.#closed || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#connect();
    }, this.#retryMs);
    this.#timer.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, 5000);
  }

  #emit(): void {
    for (const fn of this.#subscribers) {
      try {
        fn();
      } catch {
        /* a subscriber's failure is its own */
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const c = this.#client;
    this.#client = null;
    if (c) {
      c.removeAllListeners('end');
      c.on('error', () => {});
      await c.end().catch(() => {});
    }
  }
}
