// Non-streamed answers, in the three error families of doc §3, with the `destroyAfter` fault and
// token accounting applied in one place.
import { randomBytes } from 'node:crypto';
import type { Ctx } from './context.js';

export const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * What ResponsesMiddleware and AnthropicMessagesMiddleware set for a streamed request before the
 * handler runs (besides Content-Type, which every answer sets itself). Go writes header names
 * sorted, so these come first.
 */
export const STREAM_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'Cache-Control': 'no-cache', Connection: 'keep-alive' });

export interface Usage {
  prompt: number;
  completion: number;
}

/** Writes a complete response. Usage is counted only when the body really went out. */
export function sendRaw(
  ctx: Ctx,
  status: number,
  body: Buffer | string,
  headers: Record<string, string> = {},
  usage?: Usage,
): void {
  const { res } = ctx;
  if (res.destroyed || res.headersSent) return;
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const destroyAfter = ctx.fault?.destroyAfter;
  if (destroyAfter !== undefined) {
    ctx.selfDestroyed = true;
    if (destroyAfter <= 0) {
      res.destroy();
      return;
    }
    // Headers and half the body, then the connection dies: a truncated non-streamed reply.
    res.writeHead(status, { ...ctx.presetHeaders, ...headers, 'Content-Length': String(buf.length) });
    res.write(buf.subarray(0, Math.floor(buf.length / 2)), () => res.destroy());
    return;
  }
  res.writeHead(status, { ...ctx.presetHeaders, ...headers, 'Content-Length': String(buf.length) });
  res.end(buf);
  if (usage) ctx.state.countTokens(usage.prompt, usage.completion);
}

export function sendJson(ctx: Ctx, status: number, obj: unknown, usage?: Usage): void {
  sendRaw(ctx, status, JSON.stringify(obj), { 'Content-Type': JSON_TYPE }, usage);
}

/** gin's c.Status(200): no body, no content type. */
export function sendEmpty(ctx: Ctx, status: number): void {
  sendRaw(ctx, status, '');
}

export function sendText(ctx: Ctx, status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
  sendRaw(ctx, status, text, { 'Content-Type': contentType });
}

function openaiErrorType(status: number): string {
  if (status === 400) return 'invalid_request_error';
  if (status === 404) return 'not_found_error';
  return 'api_error';
}

function anthropicErrorType(status: number): string {
  const byStatus: Record<number, string> = {
    400: 'invalid_request_error',
    401: 'authentication_error',
    403: 'permission_error',
    404: 'not_found_error',
    429: 'rate_limit_error',
    503: 'overloaded_error',
    529: 'overloaded_error',
  };
  return byStatus[status] ?? 'api_error';
}

export function openaiErrorBody(status: number, message: string): unknown {
  return { error: { message, type: openaiErrorType(status), param: null, code: null } };
}

export function anthropicErrorBody(status: number, message: string): unknown {
  return {
    type: 'error',
    error: { type: anthropicErrorType(status), message },
    request_id: 'req_' + randomBytes(12).toString('hex'),
  };
}

/**
 * An error before the first byte, in the route family's shape, as gin's c.JSON writes it
 * (`application/json; charset=utf-8`, no trailing newline): native handlers, and the /v1
 * middlewares' own checks (AbortWithStatusJSON).
 */
export function sendError(ctx: Ctx, status: number, message: string): void {
  if (ctx.family === 'openai') sendJson(ctx, status, openaiErrorBody(status, message));
  else if (ctx.family === 'anthropic') sendJson(ctx, status, anthropicErrorBody(status, message));
  else sendJson(ctx, status, { error: message });
}

/**
 * An error a handler behind a /v1 middleware (ChatHandler, GenerateHandler, EmbedHandler,
 * ShowHandler) answers. The middleware's writer re-encodes it (BaseWriter.writeError in
 * middleware/openai.go, AnthropicWriter.writeError in middleware/anthropic.go): Content-Type set to
 * plain `application/json`, body written by json.Encoder, which ends it with a newline. Native
 * routes have no middleware, so theirs is `sendError`.
 */
export function sendHandlerError(ctx: Ctx, status: number, message: string): void {
  if (ctx.family === 'native') return sendError(ctx, status, message);
  const body = ctx.family === 'openai' ? openaiErrorBody(status, message) : anthropicErrorBody(status, message);
  sendRaw(ctx, status, JSON.stringify(body) + '\n', { 'Content-Type': 'application/json' });
}
