import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { headerCount } from '../core/raw-headers.js';
import { derived } from '../config/resolved.js';
import type { Config } from '../config/schema.js';
import { holdContinue } from './expect-continue.js';

/**
 * The listening socket, with the timeouts that keep slow clients from holding it: headers must
 * arrive within timeouts.client_headers (checked every second, not Node's default 30 s), idle
 * keep-alive connections close after timeouts.client_idle. Request bodies have their own deadline
 * in read-body/limited-stream (Node's requestTimeout would cut long blob uploads).
 */
export function createListener(cfg: Config, handler: RequestListener): Server {
  handler = guardRequests(handler, cfg.timeouts.client_body);
  const opts = {
    headersTimeout: cfg.timeouts.client_headers,
    requestTimeout: 0,
    keepAliveTimeout: cfg.timeouts.client_idle,
    connectionsCheckingInterval: 1000,
    maxHeaderSize: 16 * 1024,
    noDelay: true,
    insecureHTTPParser: false,
    requireHostHeader: true,
    // One more than we accept, so guardRequests can tell "too many" from "exactly the limit".
    maxHeadersCount: MAX_HEADER_FIELDS + 1,
  };
  let server: Server;
  if (derived(cfg).tls) {
    const mode = cfg.tls.client_auth;
    // requestCert/rejectUnauthorized are fixed for the server's life; the files behind them are re-read by reloadTls.
    server = createHttpsServer({ ...opts, ...tlsContextOptions(cfg), requestCert: mode !== 'none', rejectUnauthorized: mode === 'require' }, handler) as unknown as Server;
  } else {
    server = createHttpServer(opts, handler);
  }
  // Expect: 100-continue is not answered by Node on its own: the gateway invites the body once the
  // request is authenticated and authorized (expect-continue.ts). Any other expectation still gets
  // Node's 417 (no 'checkExpectation' listener).
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    holdContinue(req, res);
    handler(req, res);
  });
  return server;
}

/**
 * The certificate, key and client CA as read from disk now. With client certificates on, the only
 * trust anchor is tls.client_ca, or none at all (`ca: []`): never Node's public root store, so a
 * verified client chain always means "issued by the operator's CA".
 */
export function tlsContextOptions(cfg: Config): SecureContextOptions {
  const t = cfg.tls;
  const ca = t.client_auth === 'none' ? undefined : t.client_ca ? [readFileSync(t.client_ca)] : [];
  return { cert: readFileSync(t.cert!), key: readFileSync(t.key!), ...(ca ? { ca } : {}) };
}

/**
 * SIGHUP: re-reads tls.cert, tls.key and tls.client_ca and swaps them in for new connections;
 * connections already open keep theirs, so in-flight responses are untouched. A pair that does not
 * load (unreadable, key does not match, half-written during renewal) is refused and the server keeps
 * serving the previous one. Returns what is now served.
 */
export function reloadTls(server: Server, cfg: Config): { subject: string; fingerprint256: string; notAfter: string } {
  const options = tlsContextOptions(cfg);
  createSecureContext(options); // throws on a bad or mismatched pair, before anything is swapped
  (server as unknown as TlsServer).setSecureContext(options);
  const cert = new X509Certificate(options.cert as Buffer);
  return { subject: cert.subject.replace(/\n/g, ', '), fingerprint256: cert.fingerprint256, notAfter: cert.validTo };
}

/** More header fields than any client sends (browsers and SDKs send 10–30). */
export const MAX_HEADER_FIELDS = 100;

/**
 * What Node's HTTP parser leaves to the application (SECURITY.md, protocol-level defences):
 * - more than MAX_HEADER_FIELDS header fields is refused with 431; Node itself would silently
 *   drop the fields past maxHeadersCount and carry on with the rest;
 * - more than one Host header is refused with 400 (RFC 9112 §3.2); Node keeps the first and drops
 *   the others, so a proxy in front that reads the last one would see another host;
 * - a request body still arriving after the response was sent (an early 401, 404, 408 or 413) gets
 *   `lingerMs` more to finish, then the connection is closed. Without this a client trickling a
 *   body holds the socket for ever while Node discards it byte by byte (slowloris after refusal).
 */
function guardRequests(handler: RequestListener, lingerMs: number): RequestListener {
  // One shared listener instead of a closure per request: it finds its request through `this`.
  function lingerAfterAnswer(this: ServerResponse): void {
    const req = this.req;
    if (req.complete) return;
    const socket = req.socket;
    const timer = setTimeout(() => {
      if (!req.complete) socket.destroy();
    }, lingerMs);
    timer.unref();
    const stop = (): void => clearTimeout(timer);
    req.once('end', () => {
      stop();
      socket.off('close', stop);
    });
    socket.once('close', stop);
  }
  return (req, res) => {
    res.once('finish', lingerAfterAnswer);
    const raw = req.rawHeaders;
    if (raw.length > 2 * MAX_HEADER_FIELDS) return protocolRefusal(res, 431, `the request has more than ${MAX_HEADER_FIELDS} header fields`);
    if (headerCount(raw, 'host') > 1) return protocolRefusal(res, 400, 'the request has more than one Host header');
    handler(req, res);
  };
}

function protocolRefusal(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', connection: 'close' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
