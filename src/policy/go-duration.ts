/**
 * Ollama's `keep_alive` (api.Duration.UnmarshalJSON, docs/ollama-api-notes.md §2): a JSON number is seconds,
 * a string is a Go duration ("5m", "1h30m", "300ms"); any negative value means "keep loaded
 * forever", and zero means "unload now". Go counts whole nanoseconds and truncates, so `1e-10`
 * and "0.5ns" are zero (unload) to Ollama: this parser does the same arithmetic, so a value that
 * unloads the model is never mistaken for a short keep-alive. Returns milliseconds (negative =
 * forever, 0 = unload), or null if Ollama would reject the value.
 */
const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const PART = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/y;

export function parseKeepAlive(v: unknown): number | null {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return null;
    if (v < 0) return -1;
    return Math.trunc(v * 1e9) / 1e6;
  }
  if (typeof v !== 'string') return null;
  let s = v;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return null;
  let ns = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const at = PART.lastIndex;
    const m = PART.exec(s);
    if (!m || m.index !== at || (m[1] === '' && (m[2] === undefined || m[2] === ''))) return null;
    const unit = UNIT_NS[m[3]!]!;
    const whole = m[1] === '' ? 0 : Number(m[1]);
    // Go: v*unit + int64(float64(fraction) * unit/scale): the fraction's nanoseconds truncate.
    const frac = m[2] ? Math.trunc(Number(`0.${m[2]}`) * unit) : 0;
    ns += whole * unit + frac;
  }
  if (ns === 0) return 0;
  return sign < 0 ? -1 : ns / 1e6;
}
