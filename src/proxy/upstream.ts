import { Pool } from 'undici';

export interface UpstreamOptions {
  url: string;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
}

/**
 * One connection pool per upstream, created at boot. `connections: null` (no cap) on purpose: with
 * HTTP/1.1 every open stream holds its own upstream connection, so any cap turns into a queue
 * that delays the first token of stream N+1 until another stream ends (measured in the bench
 * harness: 2000 slow streams through a pool capped at 1024 had a TTFB p99 of 20 s). Gatehouse's
 * own concurrency limits decide how many requests reach Ollama, not the pool.
 */
export function createUpstreamPool(o: UpstreamOptions): Pool {
  return new Pool(o.url, {
    connections: null,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
    headersTimeout: o.headersTimeoutMs,
    bodyTimeout: o.bodyTimeoutMs,
    connect: { timeout: o.connectTimeoutMs },
    // Never follow redirects: the upstream comes from config only (threats.md C2).
    maxRedirections: 0,
  } as Pool.Options);
}

/** `Host` sent upstream: the upstream's own, never the client's (Ollama's host check, ollama-api.md §4.2). */
export function upstreamHost(url: string): string {
  return new URL(url).host;
}
