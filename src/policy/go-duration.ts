/**
 * Ollama's `keep_alive` (api.Duration.UnmarshalJSON, ollama-api.md §2): a JSON number is seconds,
 * a string is a Go duration ("5m", "1h30m", "300ms"); any negative value means "keep loaded
 * forever". Returns milliseconds (negative = forever), or null if Ollama would reject the value.
 */
const UNIT: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

export function parseKeepAlive(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v * 1000 : null;
  if (typeof v !== 'string') return null;
  let s = v;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return null;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const at = PART.lastIndex;
    const m = PART.exec(s);
    if (!m || m.index !== at) return null;
    total += Number(m[1]) * UNIT[m[2]!]!;
  }
  return sign * total;
}
