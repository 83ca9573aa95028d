import type { Dispatcher } from 'undici';

/**
 * `HEAD /` against Ollama, at most once per `ttlMs` however often Prometheus scrapes, with short
 * timeouts so a hung Ollama cannot hang the scrape.
 */
export function upstreamProbe(pool: Dispatcher, host: string, ttlMs = 5000): () => Promise<boolean> {
  let up = false;
  let at = 0;
  let running: Promise<boolean> | null = null;
  return () => {
    if (Date.now() - at < ttlMs) return Promise.resolve(up);
    running ??= pool
      .request({ path: '/', method: 'HEAD', headers: { host }, headersTimeout: 2000, bodyTimeout: 2000 })
      .then(async (r) => {
        await r.body.dump();
        return r.statusCode < 500;
      })
      .catch(() => false)
      .then((ok) => {
        up = ok;
        at = Date.now();
        running = null;
        return ok;
      });
    return running;
  };
}
