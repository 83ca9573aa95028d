import type { Dispatcher } from 'undici';
import type { ExchangeOutcome } from '../proxy/exchange.js';
import { retryAfterMs } from '../proxy/retry-after.js';
import { mapUpstreamError } from '../proxy/upstream-errors.js';
import type { Fleet, Slot, SlotResult, Waiting } from './fleet.js';

/**
 * One request's way to the node the fleet chose: the dispatcher the forward stage sends it to
 * (it forwards to that node's pool with that node's Host header), and the one retry.
 *
 * A retry happens only when nothing has reached the client yet and the node gave nothing usable:
 * the connection could not be made or was reset before a response began, or Ollama answered 503
 * ("server busy") before any body. The request then goes once to another node, at once or after
 * waiting in the fleet's queue like any request (nothing has reached the client), with the same
 * bytes; a body that
 * streams from the client (a blob upload) cannot be sent twice and is never retried. Every attempt
 * gives its node back with what happened there, so breakers and in-flight counts see each one.
 *
 * A fleet of one node has nowhere to retry, so (unless reveal_nodes adds the node's name to the
 * answer) the request is dispatched straight to the node's pool, with no attempt layer between
 * undici and the exchange: what the node did is read from the exchange's outcome either way.
 */

type Handler = Dispatcher.DispatchHandler & {
  onConnect(abort: (reason?: Error) => void): void;
  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText?: string): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: string[] | null): void;
  onError(err: Error): void;
};

const NODE_HEADER = Buffer.from('x-gatehouse-node');
/** Ways a request can end that count against the node (a client leaving does not). */
const NODE_FAILURES = new Set(['GW_ERR_UPSTREAM_UNAVAILABLE', 'GW_ERR_UPSTREAM_RESET', 'GW_ERR_UPSTREAM_TIMEOUT']);

export class PlacedRequest {
  readonly url: string;
  readonly host: string;
  /** This request (retries, the node's name revealed), or the node's own pool when neither can happen. */
  readonly dispatcher: Pick<Dispatcher, 'dispatch'>;
  slot: Slot;
  readonly #fleet: Fleet;
  readonly #reveal: boolean;
  readonly #unload: boolean;
  readonly #pid: string;
  /** A retry waiting in the fleet's queue. */
  #waiting: Waiting | null = null;
  #opts: Dispatcher.DispatchOptions | null = null;
  #handler: Handler | null = null;
  #attempt: Attempt | null = null;
  #retried = false;
  #clientGone: Error | null = null;

  constructor(fleet: Fleet, slot: Slot, reveal: boolean, unload: boolean, pid: string) {
    this.#fleet = fleet;
    this.#pid = pid;
    this.slot = slot;
    this.#reveal = reveal;
    this.#unload = unload;
    this.url = slot.node.target.url;
    this.host = slot.node.target.host;
    this.dispatcher = fleet.nodes.length === 1 && !reveal ? slot.node.target.dispatcher : this;
  }

  get node(): string {
    return this.slot.node.name;
  }

  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.#opts = opts;
    this.#handler = handler as Handler;
    this.#handler.onConnect((reason) => {
      this.#clientGone = reason ?? new Error('aborted');
      this.#attempt?.abort(this.#clientGone);
      if (this.#waiting) {
        this.#waiting.abandon();
        this.#waiting = null;
        this.#handler!.onError(this.#clientGone);
      }
    });
    this.#send();
    return true;
  }

  #send(): void {
    const opts = this.#opts!;
    const node = this.slot.node.target;
    // The Host header is the node's own (Ollama checks it); forward put it first
    // (proxy/headers.ts), already the first node's, in an array built for this request alone: a
    // retry on another node rewrites it in place rather than copying the headers every time.
    const headers = opts.headers as string[];
    if (headers[1] !== node.host) headers[1] = node.host;
    const a = new Attempt(this);
    this.#attempt = a;
    node.dispatcher.dispatch(opts, a);
  }

  /** A body that can be sent again: bytes held in memory (not a stream from the client). */
  #canRetry(): boolean {
    const body = this.#opts!.body;
    return !this.#retried && this.#clientGone === null && (body === null || body === undefined || Buffer.isBuffer(body) || Array.isArray(body));
  }

  /** Attempt callbacks. Returns true when the attempt's failure was absorbed by a retry. */
  retryOn(a: Attempt, status: number, err: Error | null, retryAfter: number | null): boolean {
    if (a !== this.#attempt || !this.#canRetry()) return false;
    const failed = this.slot;
    const next = this.#fleet.retry(failed, this.#pid);
    this.#fleet.release(failed, {
      status, failed: err !== null, abandoned: false, retryAfterMs: retryAfter, loadNs: null, ttfbMs: null, unload: false,
      message: err ? mapUpstreamError(err).message : `answered ${status} before any body`,
    });
    if (!next) return false;
    this.#retried = true;
    if (!('slot' in next)) {
      this.slot = next;
      this.#send();
      return true;
    }
    // Every other node that has the model is busy: wait for one like any request.
    this.#waiting = next;
    void next.slot.then((s) => {
      if (this.#waiting !== next) {
        if (!(s instanceof Error)) this.#fleet.release(s, { status: 0, failed: false, abandoned: true, retryAfterMs: null, loadNs: null, ttfbMs: null, unload: false, message: null });
        return;
      }
      this.#waiting = null;
      if (s instanceof Error) return this.#handler!.onError(s);
      this.slot = s;
      this.#send();
    });
    return true;
  }

  headers(a: Attempt, status: number, raw: Buffer[], resume: () => void): boolean {
    if (a !== this.#attempt) return false;
    if (this.#reveal) raw.push(NODE_HEADER, Buffer.from(this.slot.node.name));
    return this.#handler!.onHeaders(status, raw, resume);
  }

  get handler(): Handler {
    return this.#handler!;
  }

  isCurrent(a: Attempt): boolean {
    return a === this.#attempt;
  }

  /**
   * The request has ended (settle stage): the node is given back with what it did, and named on the
   * record. The exchange saw only the attempt that answered the client, so its outcome is that
   * node's; the time to its first byte is counted from when forward dispatched the request.
   */
  finished(o: ExchangeOutcome, call: { scope: { node: string | null; upstream: string | null; start: number; overheadMs: number | null } }): void {
    const scope = call.scope;
    scope.node = this.slot.node.name;
    if (scope.upstream !== null) scope.upstream = this.slot.node.target.url;
    const result: SlotResult = {
      status: o.status,
      failed: o.error !== null && NODE_FAILURES.has(o.error.code),
      abandoned: o.clientAborted && o.status === 0,
      retryAfterMs: o.retryAfterMs,
      loadNs: o.tap?.loadNs ?? null,
      ttfbMs: o.firstByteAt === null ? null : o.firstByteAt - scope.start - (scope.overheadMs ?? 0),
      unload: this.#unload,
      message: o.error ? o.error.message : o.upstreamError,
    };
    this.#fleet.release(this.slot, result);
  }
}

/** One try on one node: passes everything to the request's handler unless it is retried. */
class Attempt implements Handler {
  readonly #r: PlacedRequest;
  #abort: ((reason?: Error) => void) | null = null;
  #headers = false;
  #dead = false;

  constructor(r: PlacedRequest) {
    this.#r = r;
  }

  abort(reason: Error): void {
    this.#abort?.(reason);
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.#abort = abort;
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (this.#dead) return false;
    if (status === 503 && this.#r.retryOn(this, 503, null, retryAfterMs(raw))) {
      // Ollama said "busy" before any body: this attempt is dropped, the retry answers the client.
      this.#dead = true;
      this.#abort?.(new RetriedElsewhere());
      return false;
    }
    this.#headers = true;
    return this.#r.headers(this, status, raw, resume);
  }

  onData(chunk: Buffer): boolean {
    if (this.#dead) return false;
    return this.#r.handler.onData(chunk);
  }

  onComplete(trailers: string[] | null): void {
    if (this.#dead) return;
    this.#r.handler.onComplete(trailers);
  }

  onError(err: Error): void {
    if (this.#dead) return;
    if (!this.#headers && retryable(err) && this.#r.retryOn(this, 0, err, null)) {
      this.#dead = true;
      return;
    }
    this.#r.handler.onError(err);
  }
}

class RetriedElsewhere extends Error {
  constructor() {
    super('retried on another node');
  }
}

/** Nothing was answered: the connection failed or broke before a response began. A timeout is not retried (the node may be working). */
function retryable(err: Error): boolean {
  const code = mapUpstreamError(err).code;
  return code === 'GW_ERR_UPSTREAM_UNAVAILABLE' || code === 'GW_ERR_UPSTREAM_RESET';
}
