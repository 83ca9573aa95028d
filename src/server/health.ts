import type { ServerResponse } from 'node:http';
import type { KeyCache } from '../auth/key-cache.js';
import type { UpstreamSet } from '../proxy/upstream-set.js';
import type { RequestScope } from '../request/scope.js';

/** How old an upstream answer /readyz accepts before it probes again. */
const READY_PROBE_MAX_AGE_MS = 2000;

/**
 * Gatehouse's own probes, public and answered locally: /healthz says the process is serving,
 * /readyz that it can do its job (keys loaded and fresh, every upstream answering, not shutting
 * down). The upstream answers come from the upstream set's probe, cached there, so a probe storm
 * cannot become load on Ollama.
 */
export class Health {
  readonly #keys: KeyCache;
  readonly #upstreams: UpstreamSet;
  shuttingDown = false;

  constructor(keys: KeyCache, upstreams: UpstreamSet) {
    this.#keys = keys;
    this.#upstreams = upstreams;
  }

  answer(kind: 'healthz' | 'readyz', res: ServerResponse, scope: RequestScope, cors: Record<string, string> | null): void {
    if (kind === 'healthz') {
      this.#send(res, scope, cors, this.shuttingDown ? 503 : 200, { status: this.shuttingDown ? 'shutting down' : 'ok' });
      return;
    }
    void this.#upstreams.ready(READY_PROBE_MAX_AGE_MS).then((upstreamOk) => {
      const keys = this.#keys.health;
      const keysOk = keys.lastOkAt > 0 && Date.now() - keys.lastOkAt < 5000;
      const ok = !this.shuttingDown && keysOk && upstreamOk;
      this.#send(res, scope, cors, ok ? 200 : 503, {
        status: ok ? 'ready' : 'not ready',
        checks: { keys: keysOk ? 'ok' : 'stale', upstream: upstreamOk ? 'ok' : 'unreachable', shutting_down: this.shuttingDown },
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
}
