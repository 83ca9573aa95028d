import { BlockList, isIP } from 'node:net';

/**
 * The client's address. X-Forwarded-For is believed only when the direct peer is a configured
 * trusted proxy, and then only as far back as the chain stays trusted: the first untrusted hop
 * from the right is the client (anything left of it could be forged).
 */
export function compileClientAddress(trusted: readonly string[]): {
  trusts: (peer: string) => boolean;
  resolve: (peer: string, xff: string | string[] | undefined) => string;
} {
  const list = new BlockList();
  for (const t of trusted) {
    const [addr, bits] = t.split('/');
    const family = isIP(addr!) === 6 ? 'ipv6' : 'ipv4';
    if (bits !== undefined) list.addSubnet(addr!, Number(bits), family);
    else list.addAddress(addr!, family);
  }
  const trusts = (ip: string): boolean => {
    if (trusted.length === 0 || !ip) return false;
    const v4mapped = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
    const fam = isIP(v4mapped);
    if (fam === 0) return false;
    return list.check(v4mapped, fam === 6 ? 'ipv6' : 'ipv4');
  };
  return {
    trusts,
    resolve: (peer, xff) => {
      if (!xff || !trusts(peer)) return peer;
      const hops = (Array.isArray(xff) ? xff.join(',') : xff).split(',').map((s) => s.trim()).filter(Boolean);
      for (let i = hops.length - 1; i >= 0; i--) {
        const hop = hops[i]!;
        if (isIP(hop) === 0) return peer;
        if (!trusts(hop)) return hop;
      }
      return hops[0] ?? peer;
    },
  };
}
