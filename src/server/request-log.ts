import type { Logger } from 'pino';
import { safePath } from '../audit/record.js';
import type { Observer } from './observer.js';
import type { RequestScope } from './scope.js';

/**
 * One structured log line per request: refusals and upstream failures at info/warn, the rest at
 * debug (the audit log is the complete record). Principal names and ids only: never a key, a
 * token, a header value or a prompt.
 */
export class RequestLog implements Observer {
  readonly #log: Logger;
  constructor(log: Logger) {
    this.#log = log;
  }
  requestEnded(s: RequestScope): void {
    const level = s.upstreamError ? 'warn' : s.decision === 'refused' ? 'info' : 'debug';
    if (!this.#log.isLevelEnabled(level)) return;
    this.#log[level](
      {
        request_id: s.id, method: s.method, path: safePath(s.path), route: s.route?.id ?? null, status: s.status,
        decision: s.decision, reason: s.reason, principal: s.principal?.name ?? null, principal_id: s.principal?.id ?? null,
        client: s.clientIp, models: s.models, ms: Math.round((performance.now() - s.start) * 10) / 10,
        tokens: s.usage ? s.usage.prompt + s.usage.completion : undefined, aborted: s.clientAborted || undefined,
        upstream_error: s.upstreamError ?? undefined,
      },
      s.decision === 'refused' ? 'request refused' : s.upstreamError ? 'upstream failure' : 'request',
    );
  }
}
