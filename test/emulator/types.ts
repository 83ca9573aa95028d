// Public contract of the Ollama emulator. Other test suites code against these shapes, so they
// change only together with every caller.

/** One request as the emulator saw it on the wire. Pushed into `Emulator.requests` on arrival. */
export interface RecordedRequest {
  method: string;
  /** Raw request-target exactly as received (not decoded, not normalised). */
  url: string;
  /** Raw path part of the request-target (before `?`, still percent-encoded). */
  path: string;
  /** Raw query without the leading `?`; '' when there is none. */
  query: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  /** First 1 MiB of the body only. */
  body: Buffer;
  /** Full body length in bytes, even past the 1 MiB kept in `body`. */
  bodyLength: number;
  /** The body parsed with JSON.parse, when it parsed. */
  json?: unknown;
  /** The client went away before the response finished. */
  aborted: boolean;
  /** The response was completely handed to the socket. */
  finished: boolean;
  /** Arrival time (Date.now()). */
  at: number;
}

export interface EmulatorOptions {
  port?: number;
  /** Default 127.0.0.1. On a loopback address Ollama's Host-header check is active (doc §4.2). */
  host?: string;
  /** Installed models. Default: DEFAULT_MODELS. */
  models?: string[];
  /** Tokens per generation, default 5. */
  chunks?: number;
  /** Delay between streamed tokens, default 0. */
  chunkDelayMs?: number;
  /**
   * Fleet mode: the node schedules model runs as Ollama's scheduler does (server/sched.go), with
   * slots, residency, load time, eviction and a bounded queue (scheduler.ts). Without it every
   * request runs at once and every installed model counts as resident.
   */
  fleet?: FleetOptions;
}

export interface FleetOptions {
  /** OLLAMA_NUM_PARALLEL: requests running at once per resident model (>= 1). */
  parallel: number;
  /** OLLAMA_MAX_LOADED_MODELS: models resident (or loading) at once (>= 1). */
  maxLoaded: number;
  /** Time to load a model that is not resident. */
  loadMs: number;
  /** OLLAMA_MAX_QUEUE: with this many requests waiting, the next is answered 503. Default 512. */
  maxQueue?: number;
  /** OLLAMA_KEEP_ALIVE: an idle resident model unloads after this long. Default 5 min. */
  keepAliveMs?: number;
}

/** What a node did, for fleet benchmarks and tests. Counters restart at `reset()`. */
export interface EmulatorStats {
  /** Model loads completed (fleet mode only). */
  coldLoads: number;
  /** Their total duration. */
  loadMsTotal: number;
  /** Resident models unloaded to make room for another. */
  evictions: number;
  /** Resident models unloaded because their keep_alive ran out (or was 0). */
  expirations: number;
  /** Requests answered 503 because the queue held maxQueue requests. */
  busy503: number;
  /** Requests for a model that is not installed, on a route that runs a model (404). */
  notFound: number;
  /** The most requests ever running a model at once (since start or the last reset). */
  maxRunning: number;
  /** Requests running a model now. */
  running: number;
  /** Requests waiting for a slot or a load now (fleet mode only). */
  queued: number;
  /** Models resident now (fleet mode: loaded, not loading), display names. */
  resident: string[];
}

/**
 * A one-shot (or `times`-shot) misbehaviour applied to the next matching request that reaches a
 * route handler (requests answered 403/404/405/redirect by the routing layer never consume faults).
 *
 * - `status` (+ `body`, `contentType`): answer with this instead of running the handler. Without
 *   `body` the answer is `{"error":"emulated fault"}` as JSON.
 * - `midStreamErrorAfter: N`: write N chunks, then on NDJSON one `{"error":"..."}` line and end; on
 *   SSE just end (no `[DONE]` / `message_stop`). No effect on non-streamed replies.
 * - `destroyAfter: N`: write N chunks, then destroy the socket. On a non-streamed reply, 0 destroys
 *   before the headers and N >= 1 sends the headers and half the body, then destroys.
 * - `hangMs`: wait this long before answering at all (abortable by the client going away).
 * - `chunkDelayMs` / `chunks`: per-request override of the emulator defaults.
 */
export interface Fault {
  match?: (r: RecordedRequest) => boolean;
  times?: number;
  status?: number;
  body?: string;
  contentType?: string;
  midStreamErrorAfter?: number;
  destroyAfter?: number;
  hangMs?: number;
  chunkDelayMs?: number;
  chunks?: number;
}

export interface Emulator {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Totals of the prompt/completion counts actually written into responses so far. */
  tokensSent: { prompt: number; completion: number };
  /** Requests whose handler is still working (a running generation counts until it stops). */
  inFlight(): number;
  fault(f: Fault): void;
  clearFaults(): void;
  /** Clears requests, faults and counters (installed models, blobs and resident models stay). */
  reset(): void;
  /** Counters and residency (see EmulatorStats). */
  stats(): EmulatorStats;
  /** The most requests ever running a model at once: `stats().maxRunning`. */
  maxRunning(): number;
  /** Installs a model (no-op when present); false for an invalid name. */
  install(name: string): boolean;
  /** Removes an installed model (unloading it); false when it was not installed. */
  uninstall(name: string): boolean;
  /** Resolves once `pred(emulator)` holds; rejects after `timeoutMs` (default 2000). */
  waitFor(pred: (e: Emulator) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_MODELS: readonly string[] = [
  'llama3:latest',
  'qwen2.5:7b',
  'nomic-embed-text:latest',
  'mistral:latest',
  'hf.co/org/repo:q4',
];
