/**
 * CORS, off unless origins are configured. Preflights are answered here and never reach Ollama,
 * whose own CORS rules are looser than they look (docs/ollama-api-notes.md §4.3). A request carrying an
 * Origin that is not allowed is refused outright, so a page cannot even trigger work with
 * credentials a browser might attach on its own (cached Basic auth).
 */

export interface CorsPolicy {
  enabled: boolean;
  allows(origin: string): boolean;
  /** Headers for an allowed actual request. */
  responseHeaders(origin: string): Record<string, string>;
  preflightHeaders(origin: string, method: string | undefined, requestHeaders: string | undefined): Record<string, string>;
}

const ALLOW_HEADERS = 'authorization, content-type, x-api-key, x-request-id, anthropic-version, anthropic-beta, openai-beta, x-stainless-arch, x-stainless-lang, x-stainless-os, x-stainless-package-version, x-stainless-retry-count, x-stainless-runtime, x-stainless-runtime-version, x-stainless-timeout';
const EXPOSE = 'x-request-id, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset, x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-remaining-tokens, x-ratelimit-reset-requests, x-gatehouse-overhead-ms';

export function compileCors(origins: readonly string[], maxAgeMs: number): CorsPolicy {
  const any = origins.includes('*');
  const set = new Set(origins.map((o) => o.toLowerCase()));
  return {
    enabled: origins.length > 0,
    allows: (origin) => any || set.has(origin.toLowerCase()),
    responseHeaders: (origin) => ({
      'access-control-allow-origin': any ? '*' : origin,
      'access-control-expose-headers': EXPOSE,
      vary: 'Origin',
    }),
    preflightHeaders: (origin) => ({
      'access-control-allow-origin': any ? '*' : origin,
      'access-control-allow-methods': 'GET, HEAD, POST, DELETE',
      'access-control-allow-headers': ALLOW_HEADERS,
      'access-control-max-age': String(Math.floor(maxAgeMs / 1000)),
      vary: 'Origin',
    }),
  };
}
