import { randomBytes } from 'node:crypto';
import type { Family } from '../core/types.js';
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
 * How each family's 404 is written by Go:
 *   native      gin c.JSON: `application/json; charset=utf-8`, {"error":…}, no newline
 *   OpenAI      the /v1 middleware's writeError: `application/json`, openai.NewError
 *               {"error":{message,type:"not_found_error",param:null,code:null}}, json.Encoder's newline
 *   Anthropic   AnthropicWriter.writeError: `application/json`, anthropic.NewError
 *               {"type":"error","error":{type:"not_found_error",message},"request_id":"req_<24 hex>"}, newline
 * `streamHeaders`: the middleware had set Cache-Control and Connection for a streamed request.
 * Go writes a handler's header names sorted, then Date (dropped by the proxy) and Content-Length.
 */
export function ollamaNotFound(family: Family, message: string, streamHeaders: boolean): UpstreamAnswer {
  let text: string;
  let type: string;
  switch (family) {
    case 'openai':
      text = JSON.stringify({ error: { message, type: 'not_found_error', param: null, code: null } }) + '\n';
      type = 'application/json';
      break;
    case 'anthropic':
      // anthropic.generateID("req"): 12 random bytes, hex.
      text = JSON.stringify({ type: 'error', error: { type: 'not_found_error', message }, request_id: `req_${randomBytes(12).toString('hex')}` }) + '\n';
      type = 'application/json';
      break;
    default:
      text = JSON.stringify({ error: message });
      type = 'application/json; charset=utf-8';
  }
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
