// Ollama's DNS-rebinding guard (allowedHostsMiddleware, doc §4.2). It only runs when the server
// listens on loopback. A request is allowed when the Host (port stripped like Go's
// net.SplitHostPort) is an IP that is loopback, private, unspecified or one of this machine's
// interface addresses, or a name that is empty, `localhost`, the OS hostname, or ends in
// `.localhost`, `.local` or `.internal`. Anything else gets 403 with an empty body.
import { isIPv4, isIPv6 } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';

export type HostVerdict = 'allowed-ip' | 'allowed-name' | 'forbidden';

/** Go's net.SplitHostPort, returning only the host, or undefined when Go would return an error. */
export function splitHostPort(hostport: string): string | undefined {
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0 || hostport[end + 1] !== ':') return undefined;
    if (hostport.slice(end + 2).includes(':')) return undefined;
    return hostport.slice(1, end);
  }
  const i = hostport.lastIndexOf(':');
  if (i < 0 || hostport.indexOf(':') !== i) return undefined; // missing port / too many colons
  const host = hostport.slice(0, i);
  if (host.includes('[') || host.includes(']')) return undefined;
  return host;
}

function ipv4Bytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

/** Expands an IPv6 literal (zone dropped) to 16 bytes. */
function ipv6Bytes(ip: string): number[] {
  let s = ip.split('%')[0]!;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tail = ipv4Bytes(s.slice(lastColon + 1));
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = s.includes('::') ? s.split('::') : [s, undefined];
  const hs = head ? head.split(':') : [];
  const rs = rest ? rest.split(':') : [];
  const groups = [...hs, ...Array(8 - hs.length - rs.length).fill('0'), ...rs].map((g) => parseInt(g || '0', 16));
  const bytes = groups.flatMap((g) => [g >> 8, g & 0xff]);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

function v4Local(b: number[]): boolean {
  const [a = 0, c = 0] = b;
  return (
    a === 127 || // loopback
    a === 10 || (a === 172 && c >= 16 && c <= 31) || (a === 192 && c === 168) || // RFC 1918
    b.every((x) => x === 0) // unspecified
  );
}

function v6Local(b: number[]): boolean {
  const isMapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  if (isMapped) return v4Local(b.slice(12));
  const zeroPrefix = b.slice(0, 15).every((x) => x === 0);
  if (zeroPrefix && (b[15] === 1 || b[15] === 0)) return true; // ::1 loopback, :: unspecified
  return ((b[0] ?? 0) & 0xfe) === 0xfc; // fc00::/7 private
}

function isInterfaceAddress(ip: string): boolean {
  const bare = ip.split('%')[0]!.toLowerCase();
  return Object.values(networkInterfaces()).some((list) => (list ?? []).some((a) => a.address.toLowerCase() === bare));
}

export function isLocalIp(ip: string): boolean {
  if (isIPv4(ip)) return v4Local(ipv4Bytes(ip)) || isInterfaceAddress(ip);
  if (isIPv6(ip)) return v6Local(ipv6Bytes(ip)) || isInterfaceAddress(ip);
  return false;
}

function allowedName(host: string): boolean {
  const h = host.toLowerCase();
  if (h === '' || h === 'localhost') return true;
  if (h === hostname().toLowerCase()) return true;
  return ['localhost', 'local', 'internal'].some((tld) => h.endsWith('.' + tld));
}

export function checkHost(hostHeader: string | undefined): HostVerdict {
  const raw = hostHeader ?? '';
  const host = splitHostPort(raw) ?? raw;
  if ((isIPv4(host) || isIPv6(host)) && isLocalIp(host)) return 'allowed-ip';
  if (allowedName(host)) return 'allowed-name';
  return 'forbidden';
}

/** The check applies only when the listener itself is on loopback. */
export function isLoopbackListener(address: string): boolean {
  if (isIPv4(address)) return address.startsWith('127.');
  if (isIPv6(address)) {
    const b = ipv6Bytes(address);
    const mapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
    return mapped ? b[12] === 127 : b.slice(0, 15).every((x) => x === 0) && b[15] === 1;
  }
  return false;
}
