/** How numbers, times and sizes read in the console (the browser's locale). */

const int = new Intl.NumberFormat();
export const num = (n: number | null | undefined): string => (n === null || n === undefined ? '—' : int.format(n));
export const ms = (n: number | null | undefined): string => (n === null || n === undefined ? '—' : `${int.format(Math.round(n))} ms`);

export function when(t: number | string | null | undefined): string {
  if (t === null || t === undefined) return '—';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** "in 4 min" / "2 h ago" */
export function relative(t: number | string | null | undefined, now = Date.now()): string {
  if (t === null || t === undefined) return '—';
  const at = new Date(t).getTime();
  if (Number.isNaN(at)) return String(t);
  const s = Math.round((at - now) / 1000);
  const abs = Math.abs(s);
  if (abs < 5) return 'just now';
  const text = abs < 90 ? `${abs} s` : abs < 5400 ? `${Math.round(abs / 60)} min` : abs < 172800 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86400)} d`;
  return s >= 0 ? `in ${text}` : `${text} ago`;
}

/** `<input type="datetime-local">` value ↔ ms since the epoch, in local time. */
export function toLocalInput(t: number): string {
  const d = new Date(t - new Date(t).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}
export function fromLocalInput(v: string): number | null {
  if (!v) return null;
  const t = new Date(v).getTime();
  return Number.isNaN(t) ? null : t;
}
