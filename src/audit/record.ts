import type { RequestScope } from '../request/scope.js';
import type { NewAuditRecord } from '../store/types.js';

/**
 * RequestScope → audit record, at the moment the response has closed. Runs on the request path's
 * tail, so it only copies fields: no I/O, no JSON. Never copies a header, a body, a key or a
 * prompt; the path is kept only for requests that matched no route (scanners, typos) and for
 * forward-auth checks, clipped,
 * with anything shaped like a Gatehouse key blanked out in case someone pasted one into a URL.
 */
export function auditRecordOf(s: RequestScope, now: number = performance.now()): NewAuditRecord {
  const route = s.route;
  const usage = s.usage;
  return {
    at: s.startedAt,
    requestId: s.id,
    principalId: s.principal?.id ?? null,
    principalName: s.principal?.name ?? null,
    clientIp: s.clientIp,
    method: s.method,
    route: route?.id ?? null,
    // A forward-auth check (route auth.verify) keeps the path it was asked about, as unmatched requests do.
    path: route && route.local !== 'verify' ? null : safePath(s.path),
    scope: route?.scope ?? null,
    model: s.models[0] ?? null,
    models: s.models,
    decision: s.decision,
    reason: s.reason,
    status: s.status,
    promptTokens: usage ? usage.prompt : null,
    completionTokens: usage ? usage.completion : null,
    tokensEstimated: usage ? usage.estimated : false,
    ttfbMs: s.ttfbMs === null ? null : round(s.ttfbMs),
    durationMs: round(now - s.start),
    bytesIn: s.bytesIn,
    bytesOut: s.bytesOut,
    clientAborted: s.clientAborted,
    stream: s.stream,
    upstream: s.upstream,
    upstreamError: s.upstreamError === null ? null : clean(s.upstreamError, 300),
    node: s.node,
  };
}

const KEY_SHAPED = /gatehouse_[0-9A-Za-z]{8,}/g;

export function safePath(path: string): string {
  let p = clean(path, 200);
  if (p.includes('gatehouse_')) p = p.replace(KEY_SHAPED, 'gatehouse_[redacted]');
  return p;
}

/** Clipped, without NULs (PostgreSQL text cannot hold them) or other control characters. */
function clean(s: string, max: number): string {
  const t = s.length > max ? s.slice(0, max) : s;
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f]/.test(t) ? t.replace(/[\u0000-\u001f]/g, ' ') : t;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
