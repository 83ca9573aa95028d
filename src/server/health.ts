import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { KeyCache } from '../auth/key-cache.js';
import type { RequestScope } from '../request/scope.js';

/**
 * Gatehouse's own probes, public and answered locally: /healthz says the process is serving,
 * /readyz that it can do its job (keys loaded and fresh, Ollama answering, not shutting down).
 * The upstream probe is cached so a probe storm cannot become load on Ollama.
 */
export class Health {
  readonly #keys: KeyCache;
  readonly #pool: Dispatcher;
  readonly #host: string;
  #upstreamOk = false;
  #upstreamCheckedAt = 0;
  #probe: Promise<void> | null = null;
  shuttingDown = false;

  constructor(keys: KeyCache, pool: Dispatcher, upstreamHost: string) {
    this.#keys = keys;
    this.#pool = pool;
    this.#host = upstreamHost;
  }

  answer(kind: 'healthz' | 'readyz', res: ServerResponse, scope: RequestScope, cors: Record<string, string> | null): void {
    if (kind === 'healthz') {
      this.#send(res, scope, cors, this.shuttingDown ? 503 : 200, { status: this.shuttingDown ? 'shutting down' : 'ok' });
      return;
    }
    void this.#checkUpstream().then(() => {
      const keys = this.#keys.health;
      const keysOk = keys.lastOkAt > 0 && Date.now() - keys.lastOkAt < 5000;
      const ok = !this.shuttingDown && keysOk && this.#upstreamOk;
      this.#send(res, scope, cors, ok ? 200 : 503, {
        status: ok ? 'ready' : 'not ready',
        checks: { keys: keysOk ? 'ok' : 'stale', upstream: this.#upstreamOk ? 'ok' : 'unreachable', shutting_down: this.shuttingDown },
      });
    });
  }

  #send(res: ServerResponse, scope: RequestScope, cors: Record<string, string> | null, status: number, body: unknown): void {
    if (res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', 'x-request-id': scope.id, ...(cors ?? {}) });
    const head = res.req.method === 'HEAD';
    scope.bytesOut = head ? 0 : Buffer.byteLength(text);
    res.end(head ? undefined : text);
  }

  #checkUpstream(): Promise<void> {
    if (Date.now() - this.#upstreamCheckedAt < 2000) return Promise.resolve();
    this.#probe ??= this.#pool
      .request({ path: '/', method: 'HEAD', headers: { host: this.#host }, headersTimeout: 2000, bodyTimeout: 2000 })
      .then(async (r) => {
        await r.body.dump();
        this.#upstreamOk = r.statusCode < 500;
      })
      .catch(() => {
        this.#upstreamOk = false;
      })
      .finally(() => {
        this.#upstreamCheckedAt = Date.now();
        this.#probe = null;
      });
    return this.#probe;
  }
}
