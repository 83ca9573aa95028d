import { isIP } from 'node:net';

/**
 * Host header allowlist against DNS rebinding (threats.md E1, E2, B4). A browser tricked into
 * sending requests to Gatehouse by a rebinding domain still sends that domain as Host, so only
 * hosts the operator named (plus IP literals and loopback names, which rebinding cannot forge) get
 * through. Empty, port-only and malformed values are refused outright.
 */

export type HostVerdict = { ok: true } | { ok: false; malformed: boolean; reason: string };

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?$/;

export function compileHostCheck(allowed: readonly string[]): (host: string | undefined) => HostVerdict {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const a of allowed) {
    const h = a.toLowerCase();
    if (h.startsWith('*.')) suffixes.push(h.slice(1));
    else exact.add(h.startsWith('[') ? h.slice(1, -1) : h);
  }
  return (raw) => {
    if (raw === undefined || raw === '') return { ok: false, malformed: true, reason: 'the Host header is missing or empty' };
    const host = hostPart(raw);
    if (host === null) return { ok: false, malformed: true, reason: 'the Host header is malformed' };
    const h = host.toLowerCase().replace(/\.$/, '');
    if (isIP(h) !== 0) return { ok: true };
    if (h === 'localhost' || h.endsWith('.localhost')) return { ok: true };
    if (exact.has(h) || suffixes.some((s) => h.endsWith(s))) return { ok: true };
    return { ok: false, malformed: false, reason: `host "${h}" is not in allowed_hosts; the operator can add it to allowed_hosts in gatehouse.yaml` };
  };
}

/** The host of a Host header value without its port, or null if the value is not a valid host[:port]. */
export function hostPart(raw: string): string | null {
  if (raw.length > 260) return null;
  let host: string;
  let port: string | null = null;
  if (raw.startsWith('[')) {
    const end = raw.indexOf(']');
    if (end === -1) return null;
    host = raw.slice(1, end);
    const rest = raw.slice(end + 1);
    if (rest) {
      if (!rest.startsWith(':')) return null;
      port = rest.slice(1);
    }
    if (isIP(host) !== 6) return null;
  } else {
    const colon = raw.indexOf(':');
    if (colon !== -1) {
      host = raw.slice(0, colon);
      port = raw.slice(colon + 1);
    } else host = raw;
    if (host === '' || !NAME.test(host)) return null;
  }
  if (port !== null && (!/^\d{1,5}$/.test(port) || Number(port) > 65535)) return null;
  return host;
}
