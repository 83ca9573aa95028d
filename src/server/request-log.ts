import type { Logger } from 'pino';
import { safePath } from '../audit/record.js';
import type { Config } from '../config/schema.js';
import type { Observer } from './observer.js';
import type { RequestScope } from './scope.js';

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
  constructor(log: Logger, mode: RequestLogMode = 'all') {
    // Without the logger's redaction: it matches field *names* (key, authorization, token…), which
    // this fixed-shape line never has, and walking every line for them cost ~3x the line itself.
    this.#log = log.child({}, { redact: [] });
    this.#mode = mode;
  }

  requestEnded(s: RequestScope): void {
    const failed = s.upstreamError !== null;
    const refused = s.decision === 'refused';
    if (!failed && (this.#mode === 'off' || (this.#mode === 'refused' && !refused))) return;
    const level = failed ? 'warn' : 'info';
    if (!this.#log.isLevelEnabled(level)) return;
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
      refused ? 'request refused' : failed ? 'upstream failure' : 'request',
    );
  }
}

const round = (ms: number): number => Math.round(ms * 10) / 10;
