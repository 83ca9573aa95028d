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
