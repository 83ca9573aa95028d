import { refuse, type GatewayError } from '../core/errors.js';
import type { AcquireSpec, Refused, WindowState, Windows } from './store.js';

/**
 * What a client sees of the limits: RateLimit-* (IETF draft-ietf-httpapi-ratelimit-headers,
 * delta-seconds form) for the window closest to running out, the four OpenAI x-ratelimit-* headers
 * the issue names (requests: limit, remaining, reset; tokens: remaining, per minute or per day when
 * only tpd is set), and on refusals Retry-After plus a message that says which limit and what to do.
 * OpenAI's x-ratelimit-limit-tokens and x-ratelimit-reset-tokens are not sent: Node validates and
 * writes each response header at ~1.7k instructions, and these two repeat what RateLimit-* says
 * whenever tokens are the tightest window.
 */

const EMPTY: readonly string[] = Object.freeze([]) as readonly string[];

/**
 * The headers as a flat [name, value, …] list, the form the response is written from: a per-request
 * object of named properties, walked again with for…in to write it, cost ~2k instructions more.
 */
export function rateHeaders(w: Windows): readonly string[] {
  const { rpm, tpm, tpd } = w;
  const tight = tightest(rpm, tpm, tpd);
  if (!tight) return EMPTY;
  const h = ['ratelimit-limit', String(tight.limit), 'ratelimit-remaining', String(tight.remaining), 'ratelimit-reset', String(Math.ceil(tight.resetMs / 1000))];
  if (rpm) h.push('x-ratelimit-limit-requests', String(rpm.limit), 'x-ratelimit-remaining-requests', String(rpm.remaining), 'x-ratelimit-reset-requests', goDuration(rpm.resetMs));
  const t = tpm ?? tpd;
  if (t) h.push('x-ratelimit-remaining-tokens', String(t.remaining));
  return h;
}

/** A flat list as an object, for refusals (written once, by respond.ts). */
function headerRecord(list: readonly string[], extra: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) out[list[i]!] = list[i + 1]!;
  return Object.assign(out, extra);
}

/** The window with the smallest share left (ties: the first of rpm, tpm, tpd); null when none. */
function tightest(rpm: WindowState | null, tpm: WindowState | null, tpd: WindowState | null): WindowState | null {
  let best = rpm;
  let bestShare = rpm ? share(rpm) : Infinity;
  if (tpm && share(tpm) < bestShare) {
    best = tpm;
    bestShare = share(tpm);
  }
  if (tpd && share(tpd) < bestShare) best = tpd;
  return best;
}

function share(w: WindowState): number {
  return w.limit === 0 ? 0 : w.remaining / w.limit;
}

/** 1500 → "1.5s", 360000 → "6m0s", 20 → "20ms" (Go's Duration.String, as OpenAI sends). */
export function goDuration(ms: number): string {
  ms = Math.max(0, Math.ceil(ms));
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  // Whole milliseconds: the seconds' fraction is at most three digits, trailing zeros dropped
  // (integer arithmetic; formatting the float took a few hundred instructions per header).
  const secMs = ms % 60_000;
  const frac = secMs % 1000;
  const fracText = frac === 0 ? '' : frac % 100 === 0 ? `.${frac / 100}` : frac % 10 === 0 ? `.${String(frac / 10).padStart(2, '0')}` : `.${String(frac).padStart(3, '0')}`;
  const sec = `${(secMs - frac) / 1000}${fracText}s`;
  if (h) return `${h}h${m}m${sec}`;
  if (m) return `${m}m${sec}`;
  return sec;
}

export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** The refusal for a rate or token limit (429), with every header the client can act on. */
export function rateRefusal(r: Refused, s: AcquireSpec): GatewayError {
  const retry = retryAfterSeconds(r.retryMs);
  const headers = headerRecord(rateHeaders(r), { 'retry-after': String(retry) });
  const when = `try again in ${retry} s`;
  switch (r.blocker) {
    case 'rpm':
      return refuse('GW_ERR_RATE_LIMITED', s.rpm === 0
        ? 'this key may not make requests (its rpm limit is 0); ask the operator to raise it'
        : `rate limit reached: this key may make ${s.rpm} requests per minute; ${when}`, { headers });
    case 'tpm':
    case 'tpd': {
      const limit = r.blocker === 'tpm' ? s.tpm! : s.tpd!;
      const per = r.blocker === 'tpm' ? 'per minute' : 'per day (UTC)';
      const left = (r.blocker === 'tpm' ? r.tpm : r.tpd)?.remaining ?? 0;
      const need = Math.min(s.tokens ?? 0, limit);
      const hint = (s.tokens ?? 0) > left && left > 0 ? '; a lower max_tokens / num_predict needs a smaller reservation' : '';
      return refuse('GW_ERR_TOKENS_EXHAUSTED', limit === 0
        ? `this key may not use tokens (its token limit ${per} is 0); ask the operator to raise it`
        : `token limit reached: this key may use ${limit} tokens ${per}, ${left} are left and this request reserves up to ${need} (prompt estimate + expected output)${hint}; ${when}`, { headers });
    }
    default:
      throw new Error(`not a rate blocker: ${r.blocker}`);
  }
}

/** The refusal for a full concurrency cap (429 for the key's own cap, 503 for global/model caps). */
export function concurrencyRefusal(blocker: Refused['blocker'], s: AcquireSpec, model: string | undefined, retryAfter: number, why: 'full' | 'queue-full' | 'waited', waitedMs: number, w: Windows | null): GatewayError {
  const headers = headerRecord(w ? rateHeaders(w) : EMPTY, { 'retry-after': String(retryAfter) });
  const tail = why === 'waited' ? ` (waited ${(waitedMs / 1000).toFixed(1)} s for a free slot)` : why === 'queue-full' ? ' and the wait queue is full' : '';
  if (blocker === 'principal') {
    const msg = s.concurrency === 0
      ? 'this key may not make requests (its concurrency limit is 0); ask the operator to raise it'
      : `too many requests in flight: this key may run ${s.concurrency} at once${tail}; try again in ${retryAfter} s`;
    return refuse('GW_ERR_CONCURRENCY', msg, { headers });
  }
  const what = blocker === 'model' ? `model ${displayModel(model ?? '')} is busy (all its slots are in use)` : 'the server is busy (all inference slots are in use)';
  return refuse('GW_ERR_QUEUE_FULL', `${what}${tail}; try again in ${retryAfter} s`, { headers });
}

function displayModel(canonical: string): string {
  return canonical.replace(/^registry\.ollama\.ai\/library\//, '').replace(/:latest$/, '');
}
