import { Pool, type Dispatcher } from 'undici';

/**
 * The upstreams Gatehouse forwards to, in one object: each target's connection pool, its name, its
 * address and the Host header it is sent, the one probe that asks whether it answers, and the
 * answer (health). The request path asks `pick()` for a target; /readyz, the upstream metric and
 * doctor iterate `targets`. Today the configuration names one target (`upstream`, named
 * "default"); several are a configuration change: a longer list of specs, and a policy in `pick`.
 */

/** One upstream as configured (config/resolved.ts parses it once: `derived(config).upstreams`). */
export interface UpstreamSpec {
  /** For logs and metrics. */
  readonly name: string;
  /** As written in the configuration (`upstream`): what the audit log records as the upstream. */
  readonly url: string;
  /** scheme://host[:port] */
  readonly origin: string;
  /** `Host` sent upstream. */
  readonly host: string;
}

export interface UpstreamTimeouts {
  connectMs: number;
  headersMs: number;
  bodyMs: number;
}

/** What the last probe of a target found. */
export interface UpstreamHealth {
  /** The target answered `HEAD /` below 500 the last time it was asked. False until it has been. */
  readonly up: boolean;
  /** When that answer came (ms since the epoch); 0 = never asked. */
  readonly checkedAt: number;
}

export interface UpstreamTarget {
  readonly name: string;
  readonly url: string;
  /** scheme://host[:port] */
  readonly origin: string;
  /** `Host` sent upstream: the upstream's own, never the client's (Ollama's host check, docs/ollama-api-notes.md §4.2). */
  readonly host: string;
  /** Where requests to this target are dispatched (an undici Pool). */
  readonly dispatcher: Dispatcher;
  readonly health: UpstreamHealth;
}

/** Asks one target whether it answers: true when it does (below 500). Never rejects. */
export type UpstreamProbe = (target: UpstreamTarget) => Promise<boolean>;

/** Probe timeouts: a hung Ollama cannot hang /readyz or a scrape. */
const PROBE_TIMEOUT_MS = 2000;

/** The probe: `HEAD /` with the target's Host, short timeouts, any status below 500 is up. */
const headProbe: UpstreamProbe = (t) =>
  t.dispatcher
    .request({ path: '/', method: 'HEAD', headers: { host: t.host }, headersTimeout: PROBE_TIMEOUT_MS, bodyTimeout: PROBE_TIMEOUT_MS })
    .then(async (r) => {
      await r.body.dump();
      return r.statusCode < 500;
    })
    .catch(() => false);

/**
 * One connection pool per upstream, created at boot. `connections: null` (no cap) on purpose: with
 * HTTP/1.1 every open stream holds its own upstream connection, so any cap turns into a queue
 * that delays the first token of stream N+1 until another stream ends (measured in the bench
 * harness: 2000 slow streams through a pool capped at 1024 had a TTFB p99 of 20 s). Gatehouse's
 * own concurrency limits decide how many requests reach Ollama, not the pool.
 */
function createPool(url: string, o: UpstreamTimeouts): Pool {
  return new Pool(url, {
    connections: null,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
    headersTimeout: o.headersMs,
    bodyTimeout: o.bodyMs,
    connect: { timeout: o.connectMs },
    // Never follow redirects: the upstream comes from config only (docs/threat-model.md C2).
    maxRedirections: 0,
  } as Pool.Options);
}

class Target implements UpstreamTarget, UpstreamHealth {
  readonly name: string;
  readonly url: string;
  readonly origin: string;
  readonly host: string;
  readonly dispatcher: Dispatcher;
  up = false;
  checkedAt = 0;
  /** The probe in flight, shared by whoever asks meanwhile. */
  running: Promise<void> | null = null;

  constructor(spec: UpstreamSpec, dispatcher: Dispatcher) {
    this.name = spec.name;
    this.url = spec.url;
    this.origin = spec.origin;
    this.host = spec.host;
    this.dispatcher = dispatcher;
  }

  get health(): UpstreamHealth {
    return this;
  }
}

export interface UpstreamSetOptions {
  timeouts: UpstreamTimeouts;
  /** Tests: another probe, or dispatchers that are not pools. */
  probe?: UpstreamProbe;
  dispatcher?: (spec: UpstreamSpec) => Dispatcher;
  now?: () => number;
  /** `any`: ready when one target answers (a fleet serves with some nodes down); default `all`. */
  readyWhen?: 'all' | 'any';
}

export class UpstreamSet {
  readonly targets: readonly UpstreamTarget[];
  readonly #targets: readonly Target[];
  readonly #first: Target;
  readonly #probe: UpstreamProbe;
  readonly #now: () => number;
  readonly #any: boolean;

  constructor(specs: readonly UpstreamSpec[], o: UpstreamSetOptions) {
    if (specs.length === 0) throw new Error('an upstream set needs at least one upstream');
    const make = o.dispatcher ?? ((s: UpstreamSpec) => createPool(s.origin, o.timeouts));
    this.#targets = specs.map((s) => new Target(s, make(s)));
    this.targets = this.#targets;
    this.#first = this.#targets[0]!;
    this.#probe = o.probe ?? headProbe;
    this.#now = o.now ?? Date.now;
    this.#any = o.readyWhen === 'any';
  }

  /**
   * The target a request goes to. One target today: always it (no allocation, no lookup). A
   * routing policy (by model, by load, failover on health) is decided here, from the request.
   */
  pick(_request?: unknown): UpstreamTarget {
    return this.#first;
  }

  /**
   * Probes every target whose last answer is older than `maxAgeMs` (at most one probe per target
   * in flight, whoever asks: /readyz and the metric share it, and a probe storm cannot become load
   * on Ollama), then says whether every target is up (with `readyWhen: 'any'`, whether one is).
   */
  async ready(maxAgeMs: number): Promise<boolean> {
    if (this.#targets.length === 1) return this.#check(this.#first, maxAgeMs);
    const all = await Promise.all(this.#targets.map((t) => this.#check(t, maxAgeMs)));
    return this.#any ? all.some(Boolean) : all.every(Boolean);
  }

  async #check(t: Target, maxAgeMs: number): Promise<boolean> {
    if (this.#now() - t.checkedAt >= maxAgeMs) {
      t.running ??= this.#probe(t)
        .catch(() => false)
        .then((ok) => {
          t.up = ok;
          t.checkedAt = this.#now();
          t.running = null;
        });
      await t.running;
    }
    return t.up;
  }

  /** Closes every target's connections (requests still running finish first). */
  async close(): Promise<void> {
    await Promise.all(this.#targets.map((t) => t.dispatcher.close().catch(() => {})));
  }
}
