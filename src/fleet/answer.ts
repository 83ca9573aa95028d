import type { Dispatcher } from 'undici';

/**
 * Plays an answer Gatehouse made (a merged list, a fan-out's result) into the request's handler as
 * undici would deliver one from Ollama, so it takes the proxy path: header hygiene, the request id,
 * rate-limit and CORS headers, the allowlist filter on lists, accounting and audit.
 */

export interface HandlerLike {
  onConnect(abort: (reason?: Error) => void): void;
  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: string[] | null): void;
  onError(err: Error): void;
}

export const JSON_TYPE = 'application/json; charset=utf-8';
export const NDJSON_TYPE = 'application/x-ndjson';

export function rawHeaders(list: string[]): Buffer[] {
  return list.map((h) => Buffer.from(h, 'latin1'));
}

/** A whole answer at once. */
export function playAnswer(h: HandlerLike, status: number, contentType: string, body: Buffer): void {
  h.onHeaders(status, rawHeaders(['content-type', contentType, 'content-length', String(body.length)]), noop);
  if (body.length) h.onData(body);
  h.onComplete(null);
}

/** An error with the code undici gives a refused connection: the exchange answers 502 "not reachable". */
export function unreachable(message: string): Error {
  return Object.assign(new Error(message), { code: 'ECONNREFUSED' });
}

export function asHandler(h: Dispatcher.DispatchHandler): HandlerLike {
  return h as unknown as HandlerLike;
}

export function noop(): void {}
