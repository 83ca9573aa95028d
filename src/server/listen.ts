import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP } from 'node:net';
import type { Config } from '../config/schema.js';

/**
 * The listening socket, with the timeouts that keep slow clients from holding it: headers must
 * arrive within timeouts.client_headers (checked every second, not Node's default 30 s), idle
 * keep-alive connections close after timeouts.client_idle. Request bodies have their own deadline
 * in read-body/limited-stream (Node's requestTimeout would cut long blob uploads).
 */
export function createListener(cfg: Config, handler: RequestListener): Server {
  const opts = {
    headersTimeout: cfg.timeouts.client_headers,
    requestTimeout: 0,
    keepAliveTimeout: cfg.timeouts.client_idle,
    connectionsCheckingInterval: 1000,
    maxHeaderSize: 16 * 1024,
    noDelay: true,
    insecureHTTPParser: false,
    requireHostHeader: true,
  };
  if (cfg.tls.cert && cfg.tls.key) {
    return createHttpsServer({ ...opts, cert: readFileSync(cfg.tls.cert), key: readFileSync(cfg.tls.key) }, handler) as unknown as Server;
  }
  return createHttpServer(opts, handler);
}

export function splitHostPort(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  let host = listen.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host || '0.0.0.0', port: Number(listen.slice(i + 1)) };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
