import { PassThrough, Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { asHandler, JSON_TYPE, NDJSON_TYPE, noop, playAnswer, rawHeaders, type HandlerLike } from './answer.js';
import type { FleetNode } from './node.js';
import type { Poller } from './poller.js';

/**
 * A management call (pull, create, copy, delete, push, blob check and upload) sent to several
 * nodes at once: every node, or those an `X-Gatehouse-Node: a,b` header names. Each node gets the
 * same request with its own Host; a blob upload's body is teed to all of them as it arrives.
 *
 * The client gets one answer in Ollama's shape, so the `ollama` CLI renders it as it would one
 * server's: a progress stream merges the nodes' progress (per layer, the bytes done and to do on
 * all nodes together; each status line once), then ends with `{"status":"success"}` when every
 * node succeeded, or an `{"error":…}` line naming the nodes that failed and why. A plain answer is
 * the first node's when all agree; a delete or copy that found the model on some nodes and not on
 * others (404) succeeded; any other mix is a 502 whose error names the nodes that failed.
 * Afterwards the installed models of these nodes are read again (the poller).
 */

interface NodeResult {
  node: FleetNode;
  status: number;
  /** The answer is fine: below 300, and a stream without an error line. */
  ok: boolean;
  message: string | null;
  contentType: string;
  body: Buffer;
}

/** Routes on which "not there" (404) on some nodes is not a failure when others did it. */
const ABSENT_OK = new Set(['delete', 'copy']);
const MAX_ANSWER = 4 * 1024 * 1024;

export class FanOutTarget {
  readonly host: string;
  readonly url: string;
  readonly nodes: readonly FleetNode[];
  readonly #route: string;
  readonly #poller: Poller;
  /** Set when some nodes failed: the audit reason and the failures (settle reads them). */
  partial: string | null = null;

  constructor(nodes: readonly FleetNode[], route: string, poller: Poller) {
    this.nodes = nodes;
    this.#route = route;
    this.#poller = poller;
    this.host = nodes[0]!.target.host;
    this.url = nodes.map((n) => n.target.url).join(',');
  }

  get dispatcher(): Pick<Dispatcher, 'dispatch'> {
    return this;
  }

  /** The call has ended (settle stage): the nodes on the record; a partial failure as its reason. */
  finished(_o: unknown, call: { scope: { node: string | null; reason: string | null; upstreamError: string | null } }): void {
    call.scope.node = this.nodes.map((n) => n.name).join(',');
    if (this.partial !== null) {
      call.scope.reason = 'GW_ERR_NODES_PARTIAL';
      call.scope.upstreamError = this.partial;
    }
  }

  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const h = asHandler(handler);
    const controllers: AbortController[] = this.nodes.map(() => new AbortController());
    h.onConnect((reason) => {
      for (const c of controllers) c.abort(reason);
    });
    const bodies = split(opts.body, this.nodes.length);
    const merger = new ProgressMerger(h);
    const runs = this.nodes.map((n, i) => this.#one(n, opts, bodies[i]!, controllers[i]!.signal, merger));
    void Promise.all(runs).then((results) => this.#answer(h, results, merger), (err: Error) => h.onError(err));
    return true;
  }

  async #one(n: FleetNode, opts: Dispatcher.DispatchOptions, body: Dispatcher.DispatchOptions['body'], signal: AbortSignal, merger: ProgressMerger): Promise<NodeResult> {
    const headers = (opts.headers as string[]).slice();
    headers[1] = n.target.host;
    try {
      const r = await n.target.dispatcher.request({ path: opts.path, method: opts.method, headers, body, signal });
      const contentType = String(r.headers['content-type'] ?? '');
      if (r.statusCode === 200 && contentType.startsWith(NDJSON_TYPE)) {
        let failure: string | null = null;
        let rest = '';
        for await (const chunk of r.body) {
          rest += (chunk as Buffer).toString('utf8');
          let nl: number;
          while ((nl = rest.indexOf('\n')) >= 0) {
            const line = rest.slice(0, nl).trim();
            rest = rest.slice(nl + 1);
            if (!line) continue;
            const o = parse(line);
            if (!o) continue;
            if (typeof o.error === 'string') failure = o.error;
            else merger.progress(n, o);
          }
        }
        return { node: n, status: 200, ok: failure === null, message: failure, contentType, body: Buffer.alloc(0) };
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of r.body) {
        size += (c as Buffer).length;
        if (size <= MAX_ANSWER) chunks.push(c as Buffer);
      }
      const text = Buffer.concat(chunks);
      const ok = r.statusCode < 300;
      return { node: n, status: r.statusCode, ok, message: ok ? null : errorText(text, r.statusCode), contentType, body: text };
    } catch (err) {
      return { node: n, status: 0, ok: false, message: (err as Error).message, contentType: '', body: Buffer.alloc(0) };
    } finally {
      void this.#poller.refreshTags([n]);
    }
  }

  #answer(h: HandlerLike, results: NodeResult[], merger: ProgressMerger): void {
    // "Is this blob there?" is yes only if it is on every node asked: otherwise Ollama's own 404, so
    // the client uploads it (to all of them) before the create.
    const missing = this.#route === 'blobs.head' ? results.find((r) => r.status === 404) : undefined;
    if (missing) return playAnswer(h, 404, missing.contentType || JSON_TYPE, missing.body);
    const failed = results.filter((r) => !r.ok && !(ABSENT_OK.has(this.#route) && r.status === 404));
    const succeeded = results.filter((r) => r.ok);
    const okAll = failed.length === 0 && (succeeded.length > 0 || !ABSENT_OK.has(this.#route));
    if (failed.length) this.partial = failed.map((r) => `${r.node.name}: ${r.message ?? r.status}`).join('; ');
    if (merger.started) {
      // A progress stream is under way: it ends with Ollama's success line, or an error line.
      merger.end(okAll ? { status: 'success' } : { error: summary(this.#route, failed, succeeded) });
      return;
    }
    const first = okAll ? succeeded[0] ?? results[0]! : null;
    if (first) return playAnswer(h, first.status, first.contentType || JSON_TYPE, first.body);
    // Every node failed the same way (a model nobody has, a bad request): that one answer, as Ollama gave it.
    const same = failed.length === results.length && failed.every((r) => r.status === failed[0]!.status && r.status !== 0);
    if (same) return playAnswer(h, failed[0]!.status, failed[0]!.contentType || JSON_TYPE, failed[0]!.body);
    if (results.every((r) => r.status === 0)) return h.onError(Object.assign(new Error(failed[0]!.message ?? 'no node answered'), { code: 'ECONNREFUSED' }));
    playAnswer(h, 502, JSON_TYPE, Buffer.from(JSON.stringify({ error: summary(this.#route, failed, succeeded) })));
  }
}

function summary(route: string, failed: NodeResult[], succeeded: NodeResult[]): string {
  const what = `${route} failed on ${failed.length} of ${failed.length + succeeded.length} nodes: ` + failed.map((r) => `${r.node.name} (${r.message ?? `status ${r.status}`})`).join(', ');
  return succeeded.length ? `${what}; done on ${succeeded.map((r) => r.node.name).join(', ')}. Retry on the failed nodes with the header X-Gatehouse-Node: ${failed.map((r) => r.node.name).join(',')}` : what;
}

/**
 * Merges progress lines of several nodes into one stream the CLI can draw: a line with a layer
 * (`digest`) carries the sum of `total` and `completed` over the nodes; a line without one (a
 * phase: "pulling manifest", "writing manifest") is sent the first time any node reports it.
 */
class ProgressMerger {
  readonly #h: HandlerLike;
  readonly #layers = new Map<string, Map<FleetNode, { total: number; completed: number }>>();
  readonly #phases = new Set<string>();
  started = false;

  constructor(h: HandlerLike) {
    this.#h = h;
  }

  progress(n: FleetNode, o: Record<string, unknown>): void {
    const status = typeof o.status === 'string' ? o.status : '';
    if (status === 'success') return; // said once, when every node is done
    const digest = typeof o.digest === 'string' ? o.digest : null;
    if (digest === null) {
      if (this.#phases.has(status)) return;
      this.#phases.add(status);
      this.#send({ status });
      return;
    }
    let per = this.#layers.get(digest);
    if (!per) this.#layers.set(digest, (per = new Map()));
    per.set(n, { total: num(o.total), completed: num(o.completed) });
    let total = 0;
    let completed = 0;
    for (const v of per.values()) {
      total += v.total;
      completed += v.completed;
    }
    this.#send({ status, digest, total, completed });
  }

  end(last: Record<string, unknown>): void {
    this.#send(last);
    this.#h.onComplete(null);
  }

  #send(o: Record<string, unknown>): void {
    if (!this.started) {
      this.started = true;
      this.#h.onHeaders(200, rawHeaders(['content-type', NDJSON_TYPE]), noop);
    }
    this.#h.onData(Buffer.from(JSON.stringify(o) + '\n'));
  }
}

/** The same body for every node: bytes are shared, a stream from the client is teed (paced by the slowest node). */
function split(body: Dispatcher.DispatchOptions['body'], n: number): Dispatcher.DispatchOptions['body'][] {
  if (!(body instanceof Readable)) return Array.from({ length: n }, () => body);
  const outs = Array.from({ length: n }, () => new PassThrough());
  for (const o of outs) body.pipe(o);
  body.once('error', (err) => outs.forEach((o) => o.destroy(err)));
  return outs;
}

function parse(line: string): Record<string, unknown> | null {
  try {
    const o = JSON.parse(line) as unknown;
    return o && typeof o === 'object' && !Array.isArray(o) ? (o as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function errorText(body: Buffer, status: number): string {
  const o = parse(body.toString('utf8'));
  return o && typeof o.error === 'string' ? o.error : `status ${status}`;
}
