import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { splitHostPort } from '../core/ip.js';
import type { GatewayMetrics } from './definitions.js';

export interface MetricsListener {
  url: string;
  close(): Promise<void>;
}

/**
 * The separate /metrics listener (metrics.listen: HOST:PORT, default 127.0.0.1:9464): GET or HEAD
 * /metrics and nothing else. It has no authentication of its own, which is why it defaults to
 * loopback; `hostAllowed` (the gateway's allowed_hosts check) keeps a browser page from reading it
 * through DNS rebinding.
 */
export async function startMetricsListener(listen: string, metrics: Pick<GatewayMetrics, 'render' | 'contentType'>, hostAllowed: (host: string | undefined) => boolean): Promise<MetricsListener> {
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 75_000, maxHeaderSize: 16 * 1024 }, (req, res) => {
    void answer(req, res, metrics, hostAllowed);
  });
  const { host, port } = splitHostPort(listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shown}:${addr.port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, metrics: Pick<GatewayMetrics, 'render' | 'contentType'>, hostAllowed: (host: string | undefined) => boolean): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  const text = (status: number, body: string, extra: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...extra });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (!hostAllowed(req.headers.host)) return text(403, 'host not allowed\n');
  if (path !== '/metrics') return text(404, 'not found: this listener serves /metrics only\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'method not allowed\n', { allow: 'GET, HEAD' });
  try {
    const body = await metrics.render();
    res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch {
    if (!res.headersSent) text(500, 'metrics collection failed\n');
  }
}
