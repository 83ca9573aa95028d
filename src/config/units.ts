/** Parsers for the human units used in config and CLI flags: durations and byte sizes. */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;

/**
 * `"500ms"`, `"30s"`, `"5m"`, `"2h"`, `"7d"`, `"2w"` → milliseconds. Compound Go-style values such
 * as `"1h30m"` are accepted too, because Ollama's own `keep_alive` uses them. Returns null when the
 * text is not a duration.
 */
export function parseDuration(text: string): number | null {
  const s = text.trim();
  if (s === '0') return 0;
  const single = DURATION_RE.exec(s);
  if (single) return Math.round(Number(single[1]) * DURATION_UNITS[single[2]!]!);
  const parts = s.match(/\d+(?:\.\d+)?(?:ms|s|m|h|d|w)/g);
  if (!parts || parts.join('') !== s) return null;
  let total = 0;
  for (const p of parts) {
    const m = DURATION_RE.exec(p);
    if (!m) return null;
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
  }
  return Math.round(total);
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2, gb: 1024 ** 3, gib: 1024 ** 3, tb: 1024 ** 4, tib: 1024 ** 4 };

/** `"16mb"`, `"512KiB"`, `"2gb"`, `"1048576"` → bytes (binary multiples). Null when invalid. */
export function parseSize(text: string | number): number | null {
  if (typeof text === 'number') return Number.isSafeInteger(text) && text >= 0 ? text : null;
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  if (!m) return null;
  const unit = (m[2] || 'b').toLowerCase();
  const mult = SIZE_UNITS[unit];
  if (mult === undefined) return null;
  const n = Math.floor(Number(m[1]) * mult);
  return Number.isSafeInteger(n) ? n : null;
}

/** Milliseconds → the shortest readable duration (for messages and `keys show`). */
export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0 && ms >= 86_400_000) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0 && ms >= 3_600_000) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
