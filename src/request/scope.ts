import type { ResolvedPrincipal } from '../auth/principal.js';
import type { TokenUsage } from '../core/types.js';
import type { RouteDef } from '../routes/table.js';

export type Decision = 'allowed' | 'refused';

/**
 * Everything one request accumulates on its way through Gatehouse, in one typed object created
 * by the first hook. The audit record and metrics are built from it once, when
 * the response has closed.
 */
export class RequestScope {
  readonly id: string;
  /** performance.now() at arrival. */
  readonly start: number;
  readonly startedAt: number;
  clientIp: string;
  method: string;
  path: string;
  route: RouteDef | null = null;
  principal: ResolvedPrincipal | null = null;
  /** Canonical model names the request uses. */
  models: string[] = [];
  decision: Decision = 'allowed';
  /** GW_ERR_* code of a refusal or failure. */
  reason: string | null = null;
  status = 0;
  usage: TokenUsage | null = null;
  bytesIn = 0;
  bytesOut = 0;
  /** ms from arrival to the first response byte. */
  ttfbMs: number | null = null;
  /** ms spent in Gatehouse before the request went upstream. */
  overheadMs: number | null = null;
  clientAborted = false;
  upstreamError: string | null = null;
  upstream: string | null = null;
  /** With `upstreams`: the node that served it (names, comma-separated, for a management call sent to several). */
  node: string | null = null;
  stream = false;

  constructor(id: string, start: number, clientIp: string, method: string, path: string) {
    this.id = id;
    this.start = start;
    this.startedAt = Date.now();
    this.clientIp = clientIp;
    this.method = method;
    this.path = path;
  }
}
