import type { IncomingHttpHeaders } from 'node:http';
import { DIALECTS } from '../dialects/index.js';

/**
 * Header hygiene in both directions. Request headers that are hop-by-hop (RFC 9110 §7.6.1), listed
 * in `Connection`, or Gatehouse's own business (credentials, cookies, Origin, forwarding headers
 * the client could forge) never reach Ollama. Ollama copies client headers to ollama.com for
 * cloud models (docs/ollama-api-notes.md §7.3), so anything secret must stop here.
 */
const DROP_REQUEST = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'host', 'content-length', 'expect', 'authorization', 'proxy-authorization', 'x-api-key', 'cookie',
  'origin', 'referer', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto',
  'x-real-ip', 'x-request-id', 'http2-settings',
  // Gatehouse's own: which nodes a management call goes to (fleet/fanout.ts)
  'x-gatehouse-node',
  // and whatever header any dialect's clients send their credential in
  ...DIALECTS.flatMap((d) => d.credentialHeaders),
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

/**
 * Flat [name, value, …] list for undici, plus the upstream Host and request id. A body Gatehouse
 * rebuilt gets its own Content-Type, and no Content-Encoding: what is forwarded is plain bytes.
 */
export function upstreamRequestHeaders(h: IncomingHttpHeaders, host: string, requestId: string, contentLength: number | null, contentType: string | null = null): string[] {
  const listed = connectionListed(h.connection);
  const out: string[] = ['host', host, 'x-request-id', requestId];
  for (const name in h) {
    if (DROP_REQUEST.has(name) || (listed && listed.has(name))) continue;
    if (contentType !== null && (name === 'content-type' || name === 'content-encoding')) continue;
    const v = h[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) out.push(name, x);
    else out.push(name, v);
  }
  if (contentType !== null) out.push('content-type', contentType);
  if (contentLength !== null) out.push('content-length', String(contentLength));
  return out;
}

/**
 * Response headers to pass to the client, from undici's raw list ([name, value, …] as Buffers),
 * kept flat for `res.writeHead` and in latin1 so header bytes pass through unchanged. Also reports
 * the content type and whether the body is encoded (the usage tap only reads plain bodies).
 */
export function clientResponseHeaders(raw: Buffer[], dropLength: boolean): { headers: string[]; contentType: string; encoded: boolean } {
  const headers: string[] = [];
  let contentType = '';
  let encoded = false;
  let listed: Set<string> | null = null;
  const names: string[] = new Array(raw.length >> 1);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    names[i >> 1] = name;
    if (name === 'connection') listed = connectionListed(raw[i + 1]!.toString('latin1'));
  }
  for (let i = 0; i < raw.length; i += 2) {
    const name = names[i >> 1]!;
    if (DROP_RESPONSE.has(name) || (listed && listed.has(name)) || (dropLength && name === 'content-length')) continue;
    const value = raw[i + 1]!.toString('latin1');
    if (name === 'content-type') contentType = value;
    else if (name === 'content-encoding' && value !== 'identity') encoded = true;
    headers.push(name, value);
  }
  return { headers, contentType, encoded };
}
