import pino, { type Logger } from 'pino';
import { JSON_FORMAT } from './logger.js';
import { safePath } from '../audit/record.js';
import type { Config } from '../config/schema.js';
import type { Observer } from '../request/observer.js';
import type { RequestScope } from '../request/scope.js';

export type RequestLogMode = Config['log']['requests'];

/**
 * The access log: one structured line per request, at info (log.requests: all, the default), for
 * refusals only (refused), or none (off). Upstream failures are logged at warn in every mode, with
 * their cause (ECONNREFUSED, a timeout, what Ollama wrote into a broken stream) and the upstream
 * URL: the client's answer never carries those, so this line is where the operator finds them.
 * Principal names and ids only: never a key, a token, a header value or a prompt.
 */
export class RequestLog implements Observer {
  readonly #log: Logger;
  readonly #mode: RequestLogMode;
  /** Where the logger writes, for the access line written directly (see #line). */
  readonly #dest: { write(line: string): unknown } | null;
  readonly #base: string;
  #pending: string[] = [];
  readonly #flush = (): void => {
    const lines = this.#pending;
    this.#pending = [];
    if (lines.length) this.#dest!.write(lines.length === 1 ? lines[0]! : lines.join(''));
  };

  constructor(log: Logger, mode: RequestLogMode = 'all') {
    this.#log = log;
    this.#mode = mode;
    // The access line is written straight to the logger's destination, built here: through pino it
    // cost ~7.5 µs of CPU per request (per-key serialization, then the redaction walk), a tenth of a
    // whole request's. Only when the logger is the JSON one createLogger builds (service base,
    // ISO time, level labels); any other logger (tests, pretty output) goes through pino.
    const dest = (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as { write(line: string): unknown } | undefined;
    const chindings = (log as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym];
    this.#dest = dest && typeof dest.write === 'function' && chindings === ',"service":"gatehouse"' && isJsonFormat(log) ? dest : null;
    this.#base = ',"service":"gatehouse"';
  }

  /** Writes the lines still waiting for the end of this event-loop turn (shutdown). */
  async close(): Promise<void> {
    this.#flush();
  }

  requestEnded(s: RequestScope): void {
    const failed = s.upstreamError !== null;
    const refused = s.decision === 'refused';
    if (!failed && (this.#mode === 'off' || (this.#mode === 'refused' && !refused))) return;
    const level = failed ? 'warn' : 'info';
    if (!this.#log.isLevelEnabled(level)) return;
    const msg = refused ? 'request refused' : failed ? 'upstream failure' : 'request';
    if (this.#dest) {
      // Lines ending in one turn of the event loop go out in one write: a write per line cost more
      // than building it (each a separate call into the log destination).
      this.#pending.push(this.#line(s, level, msg, failed));
      if (this.#pending.length === 1) setImmediate(this.#flush);
      return;
    }
    const u = s.usage;
    this.#log[level](
      {
        request_id: s.id, method: s.method, route: s.route?.id ?? null, path: safePath(s.path), status: s.status,
        decision: s.decision, reason: s.reason, principal: s.principal?.name ?? null, principal_id: s.principal?.id ?? null,
        client: s.clientIp, models: s.models, duration_ms: round(performance.now() - s.start),
        ttfb_ms: s.ttfbMs === null ? undefined : round(s.ttfbMs), bytes_in: s.bytesIn, bytes_out: s.bytesOut,
        prompt_tokens: u?.prompt, completion_tokens: u?.completion, tokens_estimated: u?.estimated || undefined,
        stream: s.stream || undefined, aborted: s.clientAborted || undefined,
        upstream: failed ? s.upstream : undefined, upstream_error: s.upstreamError ?? undefined,
      },
      msg,
    );
  }

  /** The same line pino would write for the object above, built as one string. */
  #line(s: RequestScope, level: string, msg: string, failed: boolean): string {
    const u = s.usage;
    let line = `{"level":"${level}","time":"${isoNow()}"${this.#base},"request_id":${str(s.id)},"method":${str(s.method)},"route":${str(s.route?.id ?? null)},"path":${str(safePath(s.path))},"status":${s.status},"decision":${str(s.decision)},"reason":${str(s.reason)},"principal":${str(s.principal?.name ?? null)},"principal_id":${str(s.principal?.id ?? null)},"client":${str(s.clientIp)},"models":${JSON.stringify(s.models)},"duration_ms":${round(performance.now() - s.start)}`;
    if (s.ttfbMs !== null) line += `,"ttfb_ms":${round(s.ttfbMs)}`;
    line += `,"bytes_in":${s.bytesIn},"bytes_out":${s.bytesOut}`;
    if (u) {
      line += `,"prompt_tokens":${u.prompt},"completion_tokens":${u.completion}`;
      if (u.estimated) line += ',"tokens_estimated":true';
    }
    if (s.stream) line += ',"stream":true';
    if (s.clientAborted) line += ',"aborted":true';
    if (failed) line += `,"upstream":${str(s.upstream)},"upstream_error":${str(s.upstreamError)}`;
    return `${line},"msg":${str(msg)}}\n`;
  }
}

/**
 * The current time as ISO-8601 (what pino's isoTime writes), with the part up to the second built
 * once per second: Date#toISOString cost ~10,000 instructions per call, more than the rest of the
 * line's fields together.
 */
let isoSecond = -1;
let isoPrefix = '';
function isoNow(): string {
  const ms = Date.now();
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20); // "2026-12-04T10:00:00."
  }
  const frac = ms - second * 1000;
  return `${isoPrefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
}

const str = (v: string | null | undefined): string => (v === null || v === undefined ? 'null' : JSON.stringify(v));

/** True for the JSON logger createLogger builds: ISO times and level labels. */
function isJsonFormat(log: Logger): boolean {
  const l = log as unknown as Record<symbol, unknown>;
  return l[pino.symbols.timeSym] === JSON_FORMAT.timestamp && typeof l[pino.symbols.formattersSym] === 'object';
}

const round = (ms: number): number => Math.round(ms * 10) / 10;
