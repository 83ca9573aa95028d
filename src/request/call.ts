import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ResolvedPrincipal } from '../auth/principal.js';
import type { Dialect } from '../dialects/types.js';
import type { ModelRef } from '../policy/model-name.js';
import type { Admission } from '../limits/types.js';
import type { ExchangeOutcome } from '../proxy/exchange.js';
import type { UpstreamAnswer } from '../proxy/missing-model-answer.js';
import type { RouteDef } from '../routes/table.js';
import type { Observer } from './observer.js';
import type { RequestScope } from './scope.js';

/** A request body on its way to Ollama, with the headers that describe it. */
export interface Outgoing {
  /** Bytes Gatehouse rebuilt (pieces for a large one), or a blob upload passed through as it arrives. */
  body: Buffer | Buffer[] | Readable;
  length: number | null;
  /** Replaces the client's Content-Type (a rebuilt multipart form has Gatehouse's boundary); null keeps it. */
  contentType: string | null;
}

/** Where forward sends a request: an upstream's pool, or the fleet's dispatcher for this request. */
export interface ForwardTarget {
  /** Host header sent (the fleet's dispatcher rewrites it per node). */
  readonly host: string;
  /** What the audit log records as `upstream`. */
  readonly url: string;
  readonly dispatcher: Pick<Dispatcher, 'dispatch'>;
  /** The request has ended: give the node back (the fleet's placement; absent for plain upstreams). */
  finished?(o: ExchangeOutcome, call: Call): void;
}

/**
 * One request on its way through the gateway's stages (server/stages/): what each stage learns is
 * written here for the next, instead of travelling as parameters. The scope is the record audit and
 * metrics read; the call holds it, and tells the observer about it exactly once, when the response
 * has closed and no upstream exchange is still running.
 *
 * A class with every field set in the constructor, so every call shares one hidden class.
 */
export class Call {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly scope: RequestScope;
  /** The request's method; for a forward-auth check, the described request's (stages/verify.ts). */
  method: string;
  /** Path as sent, base_path removed once the edge has checked it; no query. */
  path: string;
  /** The raw query string, without `?`. */
  query: string;
  /** The shape refusals take: from the path until the route is known, then the route's. */
  dialect: Dialect;
  /** CORS headers for an allowed browser origin, added to every answer; null without an Origin. */
  cors: Record<string, string> | null = null;
  route: RouteDef | null = null;
  /** The canonical path sent upstream (routes/match.ts). */
  upstreamPath = '';
  /** The route's path parameter, validated; null when it has none. */
  param: string | null = null;
  principal: ResolvedPrincipal | null = null;
  /** The body to forward; null forwards none. */
  outgoing: Outgoing | null = null;
  /** Tokens the prompt is estimated to use; 0 for routes that use none. */
  promptEstimate = 0;
  /** What the limiter reserves in all: the prompt estimate plus the output expected, at most the cap. */
  reserveTokens = 0;
  /** Gatehouse asked Ollama for a usage record the client did not ask for: strip it from the answer. */
  injectedUsage = false;
  /** A model off the key's allowlist: this answer is played instead of forwarding (policy/missing-model.ts). */
  hidden: UpstreamAnswer | null = null;
  /** The models the body names, as parsed (the fleet routes by the first; its raw spelling is for not-found messages). */
  modelRefs: readonly (ModelRef & { field?: string })[] | null = null;
  /** keep_alive: 0 — Ollama unloads the model after this request. */
  unload = false;
  /**
   * Where the fleet placed this request (server/stages/place.ts): what forward dispatches to
   * instead of `upstreams.pick()`, told by settle how the request ended. null without `upstreams`.
   */
  target: ForwardTarget | null = null;
  /** What the limiter granted; null until admitted, and for public routes, which the limiter never sees. */
  admission: Admission | null = null;
  /** How the upstream exchange ended, for the settle stage. */
  outcome: ExchangeOutcome | null = null;
  /**
   * A forward-auth check (`GET /auth/verify`): method, path, query and route are those of the request
   * the proxy described; it is answered after admit and nothing is forwarded (stages/verify.ts).
   */
  verifying = false;
  /** Index of the next stage to run (server/stages/stage.ts). */
  next = 0;
  readonly #observer: Observer;
  #responseClosed = false;
  #exchangeOpen = false;
  #observed = false;

  constructor(req: IncomingMessage, res: ServerResponse, scope: RequestScope, path: string, query: string, dialect: Dialect, observer: Observer) {
    this.req = req;
    this.res = res;
    this.scope = scope;
    this.method = scope.method;
    this.path = path;
    this.query = query;
    this.dialect = dialect;
    this.#observer = observer;
    res.once('close', this.#onClose);
  }

  readonly #onClose = (): void => {
    const scope = this.scope;
    scope.status = this.res.statusCode;
    if (!this.res.writableFinished) scope.clientAborted = true;
    this.#responseClosed = true;
    this.#observeOnceDone();
  };

  /** An upstream exchange (or a replayed answer) has started: the call is not over before it ends. */
  exchangeStarted(): void {
    this.#exchangeOpen = true;
  }

  /** The exchange has ended and its usage is settled. */
  exchangeFinished(): void {
    this.#exchangeOpen = false;
    this.#observeOnceDone();
  }

  #observeOnceDone(): void {
    if (!this.#responseClosed || this.#exchangeOpen || this.#observed) return;
    this.#observed = true;
    this.#observer.requestEnded(this.scope);
  }
}
