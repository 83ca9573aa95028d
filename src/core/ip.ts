import { isIP } from 'node:net';

/** Validates config entries (`10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`). */
export function invalidProxyEntries(entries: readonly string[]): string[] {
  return entries.filter((t) => {
    const [addr, bits, extra] = t.split('/');
    if (extra !== undefined || !addr) return true;
    const fam = isIP(addr);
    if (fam === 0) return true;
    if (bits === undefined) return false;
    const n = Number(bits);
    return !/^\d+$/.test(bits) || n > (fam === 6 ? 128 : 32);
  });
}

/** `host:port` / `[v6]:port` / `:port` → parts (an empty host means every interface). */
export function splitHostPort(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  let host = listen.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host || '0.0.0.0', port: Number(listen.slice(i + 1)) };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
