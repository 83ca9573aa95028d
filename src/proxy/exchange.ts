import type { ServerResponse } from 'node:http';
import { refuse, type GatewayError } from '../core/errors.js';
import type { Accounting, Dialect } from '../dialects/types.js';
import { UsageTap, type StreamMode } from './accounting/usage-tap.js';
import { clientResponseHeaders } from './headers.js';
import { endBrokenSse } from './stream-break.js';
import { mapUpstreamError } from './upstream-errors.js';
import { retryAfterMs } from './retry-after.js';

/**
 * One request/response exchange with Ollama, as an undici dispatch handler. Bytes flow from
 * Ollama to the client chunk by chunk with backpressure (upstream paused while the client socket
 * is full) and no buffering; a UsageTap watches them for token counts. A client that goes away
 * aborts the upstream request so the GPU stops. Whatever happens, `onFinish` runs exactly once.
 *
 * It implements undici's own handler interface (onConnect/onHeaders/onData/onComplete/onError)
 * rather than the controller-based one: undici 7 dispatches to that interface natively, while the
 * other is adapted per request (a wrapper object, a controller, headers parsed into an object),
 * which was measurable on the hot path. Response headers stay a flat raw list end to end.
 */

export interface ExchangeOutcome {
  status: number;
  /** Ollama's Retry-After with a 503 (ms), for the fleet's breaker; null otherwise. */
  retryAfterMs: number | null;
  bytesOut: number;
  /** Response started reaching the client (performance.now()). */
  firstByteAt: number | null;
  clientAborted: boolean;
  error: GatewayError | null;
  /** Error text Ollama wrote into a stream after it had started. */
  upstreamError: string | null;
  tap: UsageTap | null;
}

export interface ExchangeOptions {
  res: ServerResponse;
  /** The route's dialect: how a stream that broke after it started is ended. */
  dialect: Dialect;
  accounting: Accounting;
  stripInjectedUsage: boolean;
  /** Headers Gatehouse adds to every proxied response (request id, overhead, rate limits), flat. */
  extraHeaders: string[];
  /** Replace the whole body (model lists filtered by allowlist); null = pass through. */
  rewriteBody: ((body: Buffer, status: number) => Buffer) | null;
  /**
   * Called with Ollama's status before anything reaches the client; a returned promise holds the
   * whole response (kept as Ollama sent it) until it settles. A blob upload is recorded this way
   * before the client can send the create that references it. Absent or null = never held.
   */
  holdResponse?: ((status: number) => Promise<unknown> | null) | null;
  onError: (err: GatewayError) => void;
  onFinish: (o: ExchangeOutcome) => void;
}

const MAX_REWRITE = 16 * 1024 * 1024;

export class Exchange {
  readonly #o: ExchangeOptions;
  #abort: ((reason?: Error) => void) | null = null;
  #resume: (() => void) | null = null;
  #status = 0;
  #retryAfterMs: number | null = null;
  #bytesOut = 0;
  #firstByteAt: number | null = null;
  #tap: UsageTap | null = null;
  #mode: StreamMode = 'json';
  #rewrite: Buffer[] | null = null;
  #rewriteBytes = 0;
  #held: { hold: Promise<unknown>; headers: string[] } | null = null;
  #done = false;
  #clientGone = false;
  #paused = false;

  constructor(o: ExchangeOptions) {
    this.#o = o;
    o.res.once('close', this.#onClientClose);
  }

  readonly #onClientClose = (): void => {
    if (this.#done) return;
    this.#clientGone = true;
    // Stop generation upstream at once: Ollama cancels the runner when the connection closes.
    this.#abort?.(new ClientGoneError());
  };

  readonly #onDrain = (): void => {
    if (this.#paused) {
      this.#paused = false;
      this.#resume?.();
    }
  };

  onConnect(abort: (reason?: Error) => void): void {
    this.#abort = abort;
    if (this.#clientGone) abort(new ClientGoneError());
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    this.#status = statusCode;
    if (statusCode === 503) this.#retryAfterMs = retryAfterMs(rawHeaders);
    this.#resume = resume;
    const res = this.#o.res;
    const { headers, contentType, encoded } = clientResponseHeaders(rawHeaders, this.#o.stripInjectedUsage);
    this.#mode = contentType.startsWith('application/x-ndjson') ? 'ndjson' : contentType.startsWith('text/event-stream') ? 'sse' : 'json';
    if (this.#o.accounting !== 'none' && statusCode < 400 && !encoded) {
      this.#tap = new UsageTap({ kind: this.#o.accounting, mode: this.#mode, stripInjectedUsage: this.#o.stripInjectedUsage && this.#mode === 'sse' });
    }
    if (this.#o.rewriteBody && statusCode === 200) {
      if (encoded) {
        // A compressed list cannot be filtered, and passing it on would show every model (and its
        // size every model's): fail closed. Ollama itself never compresses.
        this.#abort?.(refuse('GW_ERR_UPSTREAM_BAD_RESPONSE', 'Ollama sent the model list compressed (Content-Encoding), which Gatehouse cannot filter to this key\'s models, so it is not passed on'));
        return true;
      }
      this.#rewrite = [];
      return true; // headers are written once the rewritten body is known
    }
    const hold = this.#o.holdResponse?.(statusCode);
    if (hold) {
      this.#held = { hold, headers };
      this.#rewrite = []; // the (short) body is kept until the hold settles
      return true;
    }
    const extra = this.#o.extraHeaders;
    for (let i = 0; i < extra.length; i++) headers.push(extra[i]!);
    this.#firstByteAt = performance.now();
    res.writeHead(statusCode, headers);
    // Streams must reach the client per chunk, not when Nagle or a buffer decides.
    if (this.#mode !== 'json') res.flushHeaders();
    res.on('drain', this.#onDrain);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#rewrite) {
      this.#rewriteBytes += chunk.length;
      if (this.#rewriteBytes > MAX_REWRITE) {
        this.#abort?.(Object.assign(new Error('model list too large to filter'), { code: 'GW_REWRITE_TOO_LARGE' }));
        return true;
      }
      this.#rewrite.push(chunk);
      return true;
    }
    const out = this.#tap ? this.#tap.data(chunk) : chunk;
    if (out === null || out.length === 0) return true;
    this.#bytesOut += out.length;
    if (!this.#o.res.write(out)) {
      // Backpressure: undici stops reading from Ollama until the client has drained.
      this.#paused = true;
      return false;
    }
    return true;
  }

  onComplete(): void {
    const res = this.#o.res;
    if (this.#held) {
      const { hold, headers } = this.#held;
      const body = Buffer.concat(this.#rewrite!);
      this.#held = null;
      this.#rewrite = null;
      const send = (): void => {
        const extra = this.#o.extraHeaders;
        for (let i = 0; i < extra.length; i++) headers.push(extra[i]!);
        this.#firstByteAt = performance.now();
        if (!res.destroyed) {
          res.writeHead(this.#status, headers);
          res.end(body);
          this.#bytesOut = body.length;
        }
        this.#finish(null);
      };
      void hold.then(send, send);
      return;
    }
    if (this.#rewrite) {
      const body = this.#o.rewriteBody!(this.#rewrite.length === 1 ? this.#rewrite[0]! : Buffer.concat(this.#rewrite), this.#status);
      this.#rewrite = null;
      const headers = ['content-type', 'application/json; charset=utf-8', 'content-length', String(body.length), ...this.#o.extraHeaders];
      this.#firstByteAt = performance.now();
      res.writeHead(this.#status, headers);
      const head = res.req.method === 'HEAD'; // HEAD /api/tags: the filtered list's headers, no body
      this.#bytesOut = head ? 0 : body.length;
      res.end(head ? undefined : body);
      this.#finish(null);
      return;
    }
    const tail = this.#tap?.end();
    if (tail && tail.length) {
      this.#bytesOut += tail.length;
      res.write(tail);
    }
    // Ollama's /v1 middlewares swallow an error raised mid-stream and just stop (docs/ollama-api-notes.md §1.3).
    if (this.#mode === 'sse' && this.#tap && !this.#tap.sawEnd) this.#bytesOut += endBrokenSse(res, this.#tap, this.#o.accounting, null);
    else res.end();
    this.#finish(null);
  }

  onError(err: Error): void {
    if (this.#done) return;
    if (err instanceof ClientGoneError || this.#clientGone) {
      this.#tap?.end();
      this.#finish(null);
      return;
    }
    const mapped = mapUpstreamError(err);
    const res = this.#o.res;
    const errorLine = this.#mode === 'ndjson' ? this.#o.dialect.ndjsonErrorLine : null;
    if (!res.headersSent) {
      this.#o.onError(mapped);
    } else if (errorLine !== null) {
      // A dialect whose clients read an error line as the end of a failed stream (Ollama's native one: docs/ollama-api-notes.md §3).
      this.#tap?.end();
      res.end(errorLine(mapped.message));
    } else if (this.#mode === 'sse') {
      // OpenAI/Anthropic streams: an error event their SDKs raise, and no [DONE]/message_stop.
      this.#bytesOut += endBrokenSse(res, this.#tap, this.#o.accounting, mapped);
    } else {
      // A half-sent JSON body must not look complete.
      res.destroy();
    }
    this.#finish(mapped);
  }

  #finish(error: GatewayError | null): void {
    if (this.#done) return;
    this.#done = true;
    this.#o.res.off('drain', this.#onDrain);
    this.#o.onFinish({
      status: this.#status,
      retryAfterMs: this.#retryAfterMs,
      bytesOut: this.#bytesOut,
      firstByteAt: this.#firstByteAt,
      clientAborted: this.#clientGone,
      error,
      upstreamError: this.#tap?.upstreamError ?? null,
      tap: this.#tap,
    });
  }
}

class ClientGoneError extends Error {
  constructor() {
    super('client closed the connection');
    this.name = 'ClientGoneError';
  }
}
