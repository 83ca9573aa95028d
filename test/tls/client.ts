import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';

/**
 * An HTTPS client pinned to one server certificate: the certificate is its only trust anchor and
 * its SHA-256 fingerprint must match, or the connection is refused. Optionally presents a client
 * certificate. Each call opens a new connection (agent: false).
 */

export interface PinnedOptions {
  /** The server certificate (PEM) to trust, and nothing else. */
  pin: Buffer;
  pinFingerprint: string;
  clientCert?: Buffer;
  clientKey?: Buffer;
  headers?: Record<string, string>;
  method?: string;
  body?: string;
}

export interface PinnedResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
  /** The certificate the server presented on this connection. */
  served: string;
}

export function pinnedRequest(url: string, o: PinnedOptions): Promise<PinnedResponse> {
  return new Promise((resolve, reject) => {
    const req = pinnedStart(url, o, (res, served) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, served }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** Starts a request and hands over the response as it begins (for streams). */
export function pinnedStart(url: string, o: PinnedOptions, onResponse: (res: IncomingMessage, served: string) => void): ReturnType<typeof request> {
  const u = new URL(url);
  const req = request(
    {
      host: u.hostname,
      port: Number(u.port),
      path: u.pathname + u.search,
      method: o.method ?? 'GET',
      agent: false,
      servername: 'localhost',
      ca: [o.pin],
      checkServerIdentity: (_host: string, cert: PeerCertificate) =>
        cert.fingerprint256 === o.pinFingerprint ? undefined : new Error(`pinned certificate mismatch: served ${cert.fingerprint256}`),
      ...(o.clientCert ? { cert: o.clientCert, key: o.clientKey } : {}),
      headers: { ...(o.body ? { 'content-type': 'application/json' } : {}), ...o.headers },
    },
    (res) => onResponse(res, (res.socket as TLSSocket).getPeerCertificate().fingerprint256),
  );
  req.end(o.body);
  return req;
}
