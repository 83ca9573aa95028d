import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { FastCounter, FastHistogram, type CounterSeries, type HistogramSeries } from './fast-metrics.js';
import type { Limiter } from '../limits/types.js';
import type { Fleet } from '../fleet/fleet.js';
import type { Observer } from '../request/observer.js';
import type { RequestScope } from '../request/scope.js';

/**
 * Every gatehouse_* metric, defined in one place on a registry of our own (never prom-client's
 * global one). Labels carry route ids, scopes, status codes, GW_ERR_* codes, model names and
 * principal *names*: never a key, a key hash, a key id prefix or a prompt (docs/threat-model.md F1, F3).
 * Request metrics are updated by MetricsObserver once per request; gauges that describe the
 * process (in-flight, queue depths, store health) are read at scrape time, never on the request path.
 */

export interface MetricsSources {
  /** Limiter gauges (in flight, queued, store errors, degraded), when the limiter offers them. */
  limiter?: Limiter | null;
  keys?: { readonly size: number; readonly health: { lastOkAt: number; lastError: Error | null } } | null;
  audit?: { readonly stats: { queued: number; written: number; dropped: number; writeErrors: number } } | null;
  /** Is Ollama answering? Called at scrape time (cache it). */
  upstreamUp?: (() => Promise<boolean>) | null;
  /** With `upstreams`: per-node gauges and counters, read at scrape time. */
  fleet?: Fleet | null;
  /** Node.js process metrics (process_*, nodejs_*). Default true. */
  processMetrics?: boolean;
}

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly observer: Observer;
  render(): Promise<string>;
  readonly contentType: string;
}

const LIMITER_CODES = new Set(['GW_ERR_RATE_LIMITED', 'GW_ERR_TOKENS_EXHAUSTED', 'GW_ERR_CONCURRENCY', 'GW_ERR_QUEUE_FULL', 'GW_ERR_LIMITS_UNAVAILABLE', 'GW_ERR_AUTH_TOO_MANY_FAILURES']);
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5];
/** Most model × principal series kept for the token counter; beyond this the model is "other". */
const MAX_TOKEN_SERIES = 2000;

export function createMetrics(src: MetricsSources = {}): GatewayMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (src.processMetrics !== false) collectDefaultMetrics({ register: registry });

  // Per-request metrics: fast series (see fast-metrics.ts), looked up once per label combination.
  const requests = new FastCounter(registry, 'gatehouse_requests_total', 'Requests answered, by route id, required scope, HTTP status and decision.', ['route', 'scope', 'status', 'decision']);
  const refusals = new FastCounter(registry, 'gatehouse_refusals_total', 'Refused requests by GW_ERR_* code.', ['reason']);
  const limiterRefusals = new FastCounter(registry, 'gatehouse_limiter_refusals_total', 'Requests refused by rate, token, concurrency or queue limits (and failed-auth throttling), by GW_ERR_* code.', ['reason']);
  const tokens = new FastCounter(registry, 'gatehouse_tokens_total', 'Tokens counted from Ollama responses, by model, principal name and kind (prompt|completion).', ['model', 'principal', 'kind']);
  const estimated = new FastCounter(registry, 'gatehouse_tokens_estimated_requests_total', 'Requests whose token counts were estimated (the stream ended before the final usage record).', []).series();
  const duration = new FastHistogram(registry, 'gatehouse_request_duration_seconds', 'Arrival to response closed, by route id.', ['route'], LATENCY_BUCKETS);
  const ttfb = new FastHistogram(registry, 'gatehouse_time_to_first_byte_seconds', 'Arrival to the first response byte of proxied requests, by route id.', ['route'], LATENCY_BUCKETS);
  const overhead = new FastHistogram(registry, 'gatehouse_overhead_seconds', 'Time spent in Gatehouse before a request went upstream.', [], OVERHEAD_BUCKETS).series();
  const bytes = new FastCounter(registry, 'gatehouse_bytes_total', 'Body bytes received from clients (in) and sent to them (out).', ['direction']);
  const bytesIn = bytes.series('in');
  const bytesOut = bytes.series('out');
  const aborts = new FastCounter(registry, 'gatehouse_client_aborts_total', 'Requests whose client went away before the response finished, by route id.', ['route']);
  const upstreamErrors = new FastCounter(registry, 'gatehouse_upstream_errors_total', 'Upstream failures by GW_ERR_UPSTREAM_* code, or "stream_error" for an error Ollama wrote into a started stream.', ['reason']);

  new Gauge({
    // serve --workers sums the workers' metrics: state gauges say what the worst worker sees.
    name: 'gatehouse_upstream_up', help: '1 when Ollama answered the last health probe (cached a few seconds), else 0.', registers, aggregator: 'min',
    async collect() {
      if (src.upstreamUp) this.set((await src.upstreamUp()) ? 1 : 0);
    },
  });
  if (src.limiter?.snapshot) {
    const snap = () => src.limiter!.snapshot!();
    new Gauge({ name: 'gatehouse_requests_in_flight', help: 'Requests admitted by the limiter and not yet finished.', registers, collect() { this.set(snap().inFlight); } });
    new Gauge({ name: 'gatehouse_requests_queued', help: 'Requests waiting in the limiter queue.', registers, collect() { this.set(snap().queued); } });
    new Gauge({ name: 'gatehouse_limiter_degraded', help: '1 while the limiter falls back to per-process limits (limit store unreachable).', registers, aggregator: 'max', collect() { this.set(snap().degraded ? 1 : 0); } });
    new Counter({ name: 'gatehouse_limiter_store_errors_total', help: 'Errors talking to the limit store since start.', registers, collect() { this.reset(); this.inc(snap().storeErrors); } });
  }
  if (src.fleet) fleetMetrics(src.fleet, registers);
  if (src.audit) {
    const stats = () => src.audit!.stats;
    new Gauge({ name: 'gatehouse_audit_queue_depth', help: 'Audit records waiting to be written.', registers, collect() { this.set(stats().queued); } });
    new Counter({ name: 'gatehouse_audit_records_written_total', help: 'Audit records written to the store.', registers, collect() { this.reset(); this.inc(stats().written); } });
    new Counter({ name: 'gatehouse_audit_records_dropped_total', help: 'Audit records dropped because the queue was full (store slow or down) or the store rejected them.', registers, collect() { this.reset(); this.inc(stats().dropped); } });
    new Counter({ name: 'gatehouse_audit_write_errors_total', help: 'Failed audit batch writes (each is retried unless rejected as invalid).', registers, collect() { this.reset(); this.inc(stats().writeErrors); } });
  }
  if (src.keys) {
    const keys = src.keys;
    new Gauge({ name: 'gatehouse_keys_loaded', help: 'Keys in the in-memory key cache (including revoked and expired).', registers, aggregator: 'min', collect() { this.set(keys.size); } });
    new Gauge({
      name: 'gatehouse_key_store_staleness_seconds', help: 'Seconds since the key cache last heard from the key store (keys keep working from memory meanwhile).', registers, aggregator: 'max',
      collect() { this.set(keys.health.lastOkAt ? (Date.now() - keys.health.lastOkAt) / 1000 : -1); },
    });
  }

  // Series for a route (and route × status × decision), looked up once and kept.
  const byRoute = new Map<string, { duration: HistogramSeries; ttfb: HistogramSeries; aborts: CounterSeries; outcome: Map<number, CounterSeries> }>();
  const routeSeries = (route: string) => {
    let c = byRoute.get(route);
    if (!c) byRoute.set(route, (c = { duration: duration.series(route), ttfb: ttfb.series(route), aborts: aborts.series(route), outcome: new Map() }));
    return c;
  };

  // Model → principal name → series. Two lookups instead of a joined key: building and hashing a
  // new "model\0principal" string on every request showed in S2's CPU profile.
  const tokenSeries = new Map<string, Map<string, { prompt: CounterSeries; completion: CounterSeries }>>();
  let tokenPairs = 0;
  const observer: Observer = {
    requestEnded(s: RequestScope): void {
      const route = s.route?.id ?? 'unmatched';
      const seconds = (performance.now() - s.start) / 1000;
      const rc = routeSeries(route);
      const outcomeKey = s.decision === 'allowed' ? s.status : -s.status;
      let counter = rc.outcome.get(outcomeKey);
      if (!counter) rc.outcome.set(outcomeKey, (counter = requests.series(route, s.route?.scope ?? 'public', String(s.status), s.decision)));
      counter.value++;
      rc.duration.observe(seconds);
      if (s.decision === 'refused' && s.reason) {
        refusals.series(s.reason).value++;
        if (LIMITER_CODES.has(s.reason)) limiterRefusals.series(s.reason).value++;
      }
      if (s.ttfbMs !== null) rc.ttfb.observe(s.ttfbMs / 1000);
      if (s.overheadMs !== null) overhead.observe(s.overheadMs / 1000);
      if (s.bytesIn) bytesIn.value += s.bytesIn;
      if (s.bytesOut) bytesOut.value += s.bytesOut;
      if (s.clientAborted) rc.aborts.value++;
      if (s.reason !== null && s.reason.startsWith('GW_ERR_UPSTREAM_')) upstreamErrors.series(s.reason).value++;
      else if (s.upstreamError !== null) upstreamErrors.series('stream_error').value++;
      const u = s.usage;
      if (u && (u.prompt > 0 || u.completion > 0)) {
        const principal = s.principal?.name ?? '';
        const model = s.models[0] ?? '';
        let byPrincipal = tokenSeries.get(model);
        let t = byPrincipal?.get(principal);
        if (!t) {
          // Past the cap, new pairs are counted under model="other" (not cached: rare by design).
          const m = tokenPairs < MAX_TOKEN_SERIES ? model : 'other';
          t = { prompt: tokens.series(m, principal, 'prompt'), completion: tokens.series(m, principal, 'completion') };
          if (m === model) {
            if (!byPrincipal) tokenSeries.set(model, (byPrincipal = new Map()));
            byPrincipal.set(principal, t);
            tokenPairs++;
          }
        }
        if (u.prompt > 0) t.prompt.value += u.prompt;
        if (u.completion > 0) t.completion.value += u.completion;
        if (u.estimated) estimated.value++;
      }
    },
  };

  return { registry, observer, render: () => registry.metrics(), contentType: registry.contentType };
}

const BREAKER_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

/**
 * One series per node (names from the config, so the label set is bounded) and one per model loaded
 * on a node (at most max_loaded each). With serve --workers the primary sums the workers': in
 * flight, queue and counters add up; up and breaker say what the worst worker sees.
 */
function fleetMetrics(fleet: Fleet, registers: Registry[]): void {
  const each = (g: { set(labels: Record<string, string>, v: number): void }, value: (n: Fleet['nodes'][number]) => number) => {
    for (const n of fleet.nodes) g.set({ node: n.name }, value(n));
  };
  const counter = (c: Counter<'node'>, value: (n: Fleet['nodes'][number]) => number) => {
    c.reset();
    for (const n of fleet.nodes) c.inc({ node: n.name }, value(n));
  };
  new Gauge({ name: 'gatehouse_node_up', help: '1 when the node answered its last poll (/api/ps every fleet.ps_interval) and no request since failed to connect, else 0.', labelNames: ['node'], registers, aggregator: 'min', collect() { each(this, (n) => (n.up ? 1 : 0)); } });
  new Gauge({ name: 'gatehouse_node_breaker_state', help: 'Circuit breaker per node: 0 closed, 1 half-open (one trial request may go), 2 open (no requests).', labelNames: ['node'], registers, aggregator: 'max', collect() { const now = Date.now(); each(this, (n) => BREAKER_VALUE[n.breaker.state === 'open' && now >= n.breaker.openUntil ? 'half-open' : n.breaker.state]); } });
  new Gauge({ name: 'gatehouse_node_in_flight', help: 'Requests this gateway has running on the node.', labelNames: ['node'], registers, collect() { each(this, (n) => n.inFlight); } });
  new Gauge({ name: 'gatehouse_node_parallel', help: 'The node\'s parallel slots per loaded model (upstreams[].parallel).', labelNames: ['node'], registers, aggregator: 'max', collect() { each(this, (n) => n.parallel); } });
  new Gauge({ name: 'gatehouse_node_resident_models', help: 'Models loaded on the node (its /api/ps, corrected from traffic).', labelNames: ['node'], registers, aggregator: 'max', collect() { each(this, (n) => n.resident.size); } });
  new Gauge({
    name: 'gatehouse_node_model_resident', help: '1 for each model loaded on a node (its /api/ps, corrected from traffic).', labelNames: ['node', 'model'], registers, aggregator: 'max',
    collect() {
      this.reset();
      for (const n of fleet.nodes) for (const m of n.resident.keys()) this.set({ node: n.name, model: m }, 1);
    },
  });
  new Gauge({ name: 'gatehouse_fleet_queue_depth', help: 'Requests waiting in the gateway\'s fleet queue for a free slot on a node that has their model.', registers, collect() { this.set(fleet.queued); } });
  new Counter({ name: 'gatehouse_node_requests_total', help: 'Requests sent to the node (retries included).', labelNames: ['node'], registers, collect() { counter(this, (n) => n.stats.requests); } });
  new Counter({ name: 'gatehouse_node_cold_loads_total', help: 'Requests that made the node load their model (it was not loaded there).', labelNames: ['node'], registers, collect() { counter(this, (n) => n.stats.coldLoads); } });
  new Counter({ name: 'gatehouse_node_cold_load_seconds_total', help: 'Seconds the node spent loading models for requests (Ollama\'s load_duration, or the time to first byte of a cold request).', labelNames: ['node'], registers, collect() { counter(this, (n) => n.stats.coldLoadSeconds); } });
  new Counter({ name: 'gatehouse_node_retries_total', help: 'Requests retried on this node after another failed before answering.', labelNames: ['node'], registers, collect() { counter(this, (n) => n.stats.retries); } });
  new Counter({ name: 'gatehouse_node_failures_total', help: 'Requests the node failed: connect errors, resets, timeouts, 5xx (503 included).', labelNames: ['node'], registers, collect() { counter(this, (n) => n.stats.failures); } });
}
