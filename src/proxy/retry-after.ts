/**
 * The Retry-After an upstream sent with a 503, from undici's raw header list, in ms (capped at an
 * hour); null when absent or not a number of seconds. The fleet's breaker keeps a busy node closed
 * at least that long (fleet/breaker.ts).
 */
const RETRY_AFTER = 'retry-after';

export function retryAfterMs(raw: Buffer[]): number | null {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.length === RETRY_AFTER.length && raw[i]!.toString('latin1').toLowerCase() === RETRY_AFTER) {
      const s = Number(raw[i + 1]!.toString('latin1').trim());
      return Number.isFinite(s) && s >= 0 ? Math.min(s, 3600) * 1000 : null;
    }
  }
  return null;
}
