import type { ServerResponse } from 'node:http';
import type { RequestScope } from '../request/scope.js';
import type { GatewayMetrics } from './definitions.js';

/** How the gateway answers GET /metrics on the main listener (metrics.listen: main), after it has authenticated the caller and checked the `metrics` scope. */
export type MetricsEndpoint = (res: ServerResponse, scope: RequestScope, cors: Record<string, string> | null) => void;

export function metricsEndpoint(metrics: GatewayMetrics): MetricsEndpoint {
  return (res, scope, cors) => {
    const send = (status: number, contentType: string, body: string): void => {
      if (res.destroyed) return;
      const bytes = Buffer.byteLength(body);
      res.writeHead(status, { 'content-type': contentType, 'content-length': bytes, 'cache-control': 'no-store', 'x-request-id': scope.id, ...(cors ?? {}) });
      res.end(res.req.method === 'HEAD' ? undefined : body);
      scope.bytesOut = res.req.method === 'HEAD' ? 0 : bytes;
    };
    metrics.render().then(
      (text) => send(200, metrics.contentType, text),
      () => {
        scope.reason = 'GW_ERR_INTERNAL';
        send(500, 'application/json; charset=utf-8', JSON.stringify({ error: 'metrics collection failed' }));
      },
    );
  };
}
