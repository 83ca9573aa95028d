import type { ServerResponse } from 'node:http';
import type { GatewayError } from '../core/errors.js';
import { disguised } from '../dialects/shared.js';
import type { Dialect } from '../dialects/types.js';

/**
 * Errors in each client's own language (docs/ollama-api-notes.md §3), so SDKs raise their usual
 * exception types with our message: the body is the dialect's (src/dialects/), the status and
 * headers are written here.
 */

/**
 * Writes a complete error response; `extraHeaders` carry request id, rate-limit and CORS headers.
 * Returns the number of body bytes sent.
 */
export function sendError(res: ServerResponse, err: GatewayError, dialect: Dialect, requestId: string, extraHeaders?: Record<string, string>): number {
  if (res.headersSent || res.destroyed) return 0;
  const body = dialect.errorBody(err, requestId);
  const length = Buffer.byteLength(body);
  const headers: Record<string, string | number> = disguised(err)
    ? { 'content-type': 'application/json; charset=utf-8', 'content-length': length, 'x-request-id': requestId }
    : { 'content-type': 'application/json; charset=utf-8', 'content-length': length, 'cache-control': 'no-store', 'x-request-id': requestId, 'x-gatehouse-error': err.code };
  if (err.status === 401) headers['www-authenticate'] = 'Bearer realm="gatehouse"';
  if (extraHeaders) Object.assign(headers, extraHeaders);
  if (err.headers) Object.assign(headers, err.headers);
  res.writeHead(err.status, headers);
  const head = res.req.method === 'HEAD';
  res.end(head ? undefined : body);
  return head ? 0 : length;
}
