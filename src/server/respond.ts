import type { ServerResponse } from 'node:http';
import type { GatewayError, ErrorKind } from '../core/errors.js';
import type { Family } from '../core/types.js';

/**
 * Errors in each client's own language (docs/ollama-api-notes.md §3), so SDKs raise their usual
 * exception types with our message:
 *   /api/*        {"error": "..."}
 *   /v1/* OpenAI  {"error": {"message","type","param":null,"code"}}
 *   /v1/messages  {"type":"error","error":{"type","message"},"request_id"}
 */

const OPENAI_TYPE: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error', authentication: 'authentication_error', permission: 'permission_error',
  not_found: 'not_found_error', method_not_allowed: 'invalid_request_error', too_large: 'invalid_request_error',
  rate_limit: 'rate_limit_error', overloaded: 'server_error', upstream: 'api_error', timeout: 'api_error', internal: 'api_error',
};

const ANTHROPIC_TYPE: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error', authentication: 'authentication_error', permission: 'permission_error',
  not_found: 'not_found_error', method_not_allowed: 'invalid_request_error', too_large: 'request_too_large',
  rate_limit: 'rate_limit_error', overloaded: 'overloaded_error', upstream: 'api_error', timeout: 'api_error', internal: 'api_error',
};

/**
 * Refusals that must be indistinguishable from Ollama's own answer: a model outside the key's
 * allowlist is answered like a missing model, without Gatehouse's error code or markers.
 */
function disguised(err: GatewayError): boolean {
  return err.code === 'GW_ERR_MODEL_NOT_FOUND' || err.code === 'GW_ERR_MODEL_NOT_ALLOWED';
}

export function errorBody(err: GatewayError, family: Family, requestId: string): string {
  switch (family) {
    case 'openai':
      return JSON.stringify({ error: { message: err.message, type: OPENAI_TYPE[err.kind], param: null, code: disguised(err) ? null : err.code } });
    case 'anthropic':
      return JSON.stringify({ type: 'error', error: { type: ANTHROPIC_TYPE[err.kind], message: err.message }, request_id: requestId });
    default:
      return JSON.stringify(err.extra ? { error: err.message, ...err.extra } : { error: err.message });
  }
}

/**
 * Writes a complete error response; `extraHeaders` carry request id, rate-limit and CORS headers.
 * Returns the number of body bytes sent.
 */
export function sendError(res: ServerResponse, err: GatewayError, family: Family, requestId: string, extraHeaders?: Record<string, string>): number {
  if (res.headersSent || res.destroyed) return 0;
  const body = errorBody(err, family, requestId);
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
