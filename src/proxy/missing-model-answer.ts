import type { Dialect } from '../dialects/types.js';
import type { Exchange } from './exchange.js';

/**
 * Ollama's own 404 for a model it does not have, as bytes on the wire, and a way to hand it to an
 * Exchange as if Ollama had sent it. A model outside a key's allowlist is answered this way: the
 * answer then takes the very path a proxied answer takes (header hygiene, the request id, the
 * overhead and rate-limit headers, CORS, accounting, audit), so status, headers and body match
 * what the client would see for a missing model by construction, not by a copy kept in step.
 */

export interface UpstreamAnswer {
  status: number;
  /** Flat [name, value, …] as undici hands them over. */
  rawHeaders: Buffer[];
  body: Buffer;
}

/**
 * The dialect's 404 as Go writes it: its body and Content-Type (src/dialects/: native gin c.JSON
 * without a newline; the OpenAI and Anthropic middlewares' writeError with json.Encoder's newline).
 * `streamHeaders`: the middleware had set Cache-Control and Connection for a streamed request.
 * Go writes a handler's header names sorted, then Date (dropped by the proxy) and Content-Length.
 */
export function ollamaNotFound(dialect: Dialect, message: string, streamHeaders: boolean): UpstreamAnswer {
  const text = dialect.notFoundBody(message);
  const type = dialect.notFoundType;
  const body = Buffer.from(text, 'utf8');
  const headers = streamHeaders ? ['Cache-Control', 'no-cache', 'Connection', 'keep-alive'] : [];
  headers.push('Content-Type', type, 'Content-Length', String(body.length));
  return { status: 404, rawHeaders: headers.map((h) => Buffer.from(h, 'latin1')), body };
}

/** Plays `a` into `exchange` the way undici would deliver it; a client already gone ends it. */
export function replayAnswer(exchange: Exchange, a: UpstreamAnswer): void {
  let aborted: Error | null = null;
  exchange.onConnect((reason) => {
    aborted = reason ?? new Error('aborted');
  });
  if (aborted) return exchange.onError(aborted);
  exchange.onHeaders(a.status, a.rawHeaders, noop);
  if (a.body.length) exchange.onData(a.body);
  exchange.onComplete();
}

function noop(): void {}
