import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/**
 * The network side of doctor: one bounded HTTP GET, and the list of this host's own addresses.
 * Every probe has a hard deadline; nothing is retried.
 */

export type ProbeResult =
  | { state: 'closed'; code: string }
  | { state: 'not-http'; code: string }
  | { state: 'http'; status: number; headers: IncomingHttpHeaders; body: string; sentAt: number; receivedAt: number };

const MAX_BODY = 64 * 1024;

/** GET http(s)://host:port/path. `host` may be an IPv6 literal with a zone (fe80::1%eth0). */
export function httpGet(o: { host: string; port: number; path: string; tls?: boolean; timeoutMs: number }): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const hostHeader = isIP(o.host.split('%')[0]!) === 6 ? `[${o.host.split('%')[0]}]:${o.port}` : `${o.host}:${o.port}`;
    const sentAt = Date.now();
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      req.destroy();
      resolve(r);
    };
    const make = o.tls ? httpsRequest : httpRequest;
    const req = make({
      host: o.host,
      port: o.port,
      path: o.path,
      method: 'GET',
      agent: false,
      headers: { host: hostHeader, accept: 'application/json', 'user-agent': 'gatehouse-doctor' },
      // A TLS upstream is checked for reachability here, not for its certificate.
      ...(o.tls ? { rejectUnauthorized: false } : {}),
    });
    const deadline = setTimeout(() => finish({ state: req.socket?.remoteAddress ? 'not-http' : 'closed', code: 'ETIMEDOUT' }), o.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'ERROR';
      const connectFailure = ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EINVAL'].includes(code);
      finish({ state: connectFailure ? 'closed' : 'not-http', code });
    });
    req.on('response', (res) => {
      const receivedAt = Date.now();
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
        else finish({ state: 'http', status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), sentAt, receivedAt });
      });
      res.on('end', () => finish({ state: 'http', status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), sentAt, receivedAt }));
      res.on('error', () => finish({ state: 'http', status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), sentAt, receivedAt }));
    });
    req.end();
  });
}

/** The Ollama version in a /api/version answer, or null when it is not one. */
export function ollamaVersion(r: ProbeResult): string | null {
  if (r.state !== 'http' || r.status !== 200) return null;
  try {
    const j = JSON.parse(r.body) as unknown;
    if (j && typeof j === 'object' && typeof (j as { version?: unknown }).version === 'string') return (j as { version: string }).version;
  } catch {
    /* not JSON: not Ollama */
  }
  return null;
}

/**
 * This host's non-loopback addresses, as doctor probes them in production: every address of every
 * interface that is not internal (loopback), IPv6 link-local ones with their zone.
 */
export function localAddresses(): string[] {
  const out = new Set<string>();
  for (const [name, list] of Object.entries(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      const v6LinkLocal = a.family === 'IPv6' && /^fe80:/i.test(a.address);
      out.add(v6LinkLocal && !a.address.includes('%') ? `${a.address}%${name}` : a.address);
    }
  }
  return [...out];
}

/** `[v6]:port` or `v4:port`, for messages. */
export function hostPort(host: string, port: number): string {
  return isIP(host.split('%')[0]!) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
