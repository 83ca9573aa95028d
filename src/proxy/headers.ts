import type { IncomingHttpHeaders } from 'node:http';

/**
 * Header hygiene in both directions. Request headers that are hop-by-hop (RFC 9110 §7.6.1), listed
 * in `Connection`, or Gatehouse's own business (credentials, cookies, Origin, forwarding headers
 * the client could forge) never reach Ollama. Ollama copies client headers to ollama.com for
 * cloud models (ollama-api.md §8.8), so anything secret must stop here.
 */
const DROP_REQUEST = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'host', 'content-length', 'expect', 'authorization', 'proxy-authorization', 'x-api-key', 'cookie',
  'origin', 'referer', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto',
  'x-real-ip', 'x-request-id', 'http2-settings',
]);

const DROP_RESPONSE = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'set-cookie', 'proxy-authenticate', 'server', 'date', 'access-control-allow-origin', 'access-control-allow-credentials',
  'access-control-allow-headers', 'access-control-allow-methods', 'access-control-expose-headers', 'access-control-max-age',
]);

function connectionListed(value: string | string[] | undefined): Set<string> | null {
  if (!value) return null;
  const text = Array.isArray(value) ? value.join(',') : value;
  const out = new Set<string>();
  for (const t of text.split(',')) {
    const name = t.trim().toLowerCase();
    if (name && name !== 'close' && name !== 'keep-alive') out.add(name);
  }
  return out.size ? out : null;
}

/** Flat [name, value, …] list for undici, plus the upstream Host and request id. */
export function upstreamRequestHeaders(h: IncomingHttpHeaders, host: string, requestId: string, contentLength: number | null): string[] {
  const listed = connectionListed(h.connection);
  const out: string[] = ['host', host, 'x-request-id', requestId];
  for (const name in h) {
    if (DROP_REQUEST.has(name) || (listed && listed.has(name))) continue;
    const v = h[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) out.push(name, x);
    else out.push(name, v);
  }
  if (contentLength !== null) out.push('content-length', String(contentLength));
  return out;
}

/** Response headers to pass to the client (undici gives lower-case names). */
export function clientResponseHeaders(h: Record<string, string | string[] | undefined>, dropLength: boolean): Record<string, string | string[]> {
  const listed = connectionListed(h.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in h) {
    if (DROP_RESPONSE.has(name) || (listed && listed.has(name)) || (dropLength && name === 'content-length')) continue;
    const v = h[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}
