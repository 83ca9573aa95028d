import { parseModelRef, isModelRef } from '../policy/model-name.js';
import type { Fleet } from './fleet.js';
import type { FleetNode, Resident } from './node.js';

/**
 * Keeps the fleet's picture of each node fresh: `/api/ps` (loaded models and their expiry) every
 * `psIntervalMs`, which is also the active health probe, and `/api/tags` (installed models) every
 * `tagsIntervalMs` and whenever a management call may have changed it (refreshTags). Between polls
 * traffic corrects the picture (fleet/fleet.ts release). One poll per node at a time; every request
 * has a short deadline, so a hung node cannot pile polls up.
 */

export interface PollerOptions {
  psIntervalMs: number;
  tagsIntervalMs: number;
  /** Per poll request. */
  timeoutMs?: number;
  now?: () => number;
}

/** The largest model list or ps answer read (a node with thousands of models stays far below). */
const MAX_LIST_BYTES = 16 * 1024 * 1024;

export class Poller {
  readonly #fleet: Fleet;
  readonly #o: PollerOptions;
  readonly #now: () => number;
  readonly #running = new Map<FleetNode, Promise<void>>();
  #timer: NodeJS.Timeout | null = null;

  constructor(fleet: Fleet, o: PollerOptions) {
    this.#fleet = fleet;
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  /** Reads every node once (bounded by the poll timeout), then keeps polling. */
  async start(): Promise<void> {
    await this.pollAll();
    this.#timer = setInterval(() => void this.pollAll(), this.#o.psIntervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  pollAll(): Promise<void> {
    return Promise.all(this.#fleet.nodes.map((n) => this.poll(n))).then(() => undefined);
  }

  /** One node: ps always, tags when they are due (or `tags`). At most one poll per node at a time. */
  poll(n: FleetNode, tags = false): Promise<void> {
    const running = this.#running.get(n);
    if (running && !tags) return running;
    const p = (running ?? Promise.resolve()).then(() => this.#pollOnce(n, tags)).finally(() => {
      if (this.#running.get(n) === p) this.#running.delete(n);
    });
    this.#running.set(n, p);
    return p;
  }

  /** After a management call: what is installed on these nodes changed. */
  refreshTags(nodes: readonly FleetNode[]): Promise<void> {
    return Promise.all(nodes.map((n) => this.poll(n, true))).then(() => undefined);
  }

  async #pollOnce(n: FleetNode, forceTags: boolean): Promise<void> {
    try {
      const now = this.#now();
      if (forceTags || n.tagsAt === 0 || now - n.tagsAt >= this.#o.tagsIntervalMs) {
        const tags = await this.#get(n, '/api/tags');
        readTags(n, tags, this.#now());
      }
      const ps = await this.#get(n, '/api/ps');
      readPs(n, ps, this.#now());
      if (!n.up) n.up = true;
      n.pollFailures = 0;
      n.breaker.probeSucceeded(this.#now());
    } catch (err) {
      // A refused connection is a node that is down; a slow answer may be one busy moment, so it
      // takes two in a row.
      n.pollFailures++;
      const refused = (err as { code?: string }).code === 'ECONNREFUSED';
      if (refused || n.pollFailures >= 2) n.up = false;
      n.lastError = { at: this.#now(), message: `poll: ${(err as Error).message}` };
    }
    this.#fleet.drain();
  }

  async #get(n: FleetNode, path: string): Promise<unknown> {
    const t = this.#o.timeoutMs ?? 2000;
    const r = await n.target.dispatcher.request({ path, method: 'GET', headers: { host: n.target.host }, headersTimeout: t, bodyTimeout: t });
    if (r.statusCode !== 200) {
      await r.body.dump();
      throw new Error(`GET ${path} answered ${r.statusCode}`);
    }
    const declared = Number(r.headers['content-length'] ?? 0);
    if (declared > MAX_LIST_BYTES) {
      await r.body.dump();
      throw new Error(`GET ${path} is ${declared} bytes, more than Gatehouse reads`);
    }
    return r.body.json();
  }
}

/** canonical name → entry, for the entries of a /api/tags or /api/ps answer. */
function entries(body: unknown): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  const list = (body as { models?: unknown } | null)?.models;
  if (!Array.isArray(list)) throw new Error('answer has no "models" list');
  for (const e of list) {
    if (!e || typeof e !== 'object') continue;
    const o = e as Record<string, unknown>;
    const name = typeof o.model === 'string' ? o.model : typeof o.name === 'string' ? o.name : null;
    if (name === null) continue;
    const ref = parseModelRef(name);
    if (isModelRef(ref) && !out.has(ref.canonical)) out.set(ref.canonical, o);
  }
  return out;
}

export function readTags(n: FleetNode, body: unknown, now: number): void {
  n.installed = entries(body);
  n.tagsAt = now;
}

/**
 * /api/ps replaces what is resident, except models Gatehouse has requests running for: one still
 * loading is not listed yet (Ollama lists a model once it is loaded), and it is loaded once they answer.
 */
export function readPs(n: FleetNode, body: unknown, now: number): void {
  const listed = entries(body);
  for (const [model, r] of n.resident) {
    if (!listed.has(model) && n.runningOf(model) === 0 && !(r.loading && now - n.lastUsedOf(model) < 1000)) n.resident.delete(model);
  }
  for (const [model, e] of listed) {
    const at = typeof e.expires_at === 'string' ? Date.parse(e.expires_at) : NaN;
    const r: Resident = { expiresAt: Number.isFinite(at) ? at : Infinity, loading: false, entry: e };
    n.resident.set(model, r);
  }
  n.psAt = now;
}
