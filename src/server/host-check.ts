import { isIP } from 'node:net';

/**
 * Host header allowlist against DNS rebinding (docs/threat-model.md E1, E2, B4). A browser tricked into
 * sending requests to Gatehouse by a rebinding domain still sends that domain as Host, so only
 * hosts the operator named (plus IP literals and loopback names, which rebinding cannot forge) get
 * through. Empty, port-only and malformed values are refused outright.
 */

export type HostVerdict = { ok: true } | { ok: false; malformed: boolean; reason: string };

const MISSING: HostVerdict = Object.freeze({ ok: false, malformed: true, reason: 'the Host header is missing or empty' });
const MALFORMED: HostVerdict = Object.freeze({ ok: false, malformed: true, reason: 'the Host header is malformed' });
const OK: HostVerdict = Object.freeze({ ok: true });
/** Longer Host values are malformed (a DNS name is at most 253 characters, plus brackets and port). */
const MAX_HOST = 260;
/** Distinct Host values remembered at once. */
const SEEN_MAX = 64;

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?$/;

export function compileHostCheck(allowed: readonly string[]): (host: string | undefined) => HostVerdict {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const a of allowed) {
    const h = a.toLowerCase();
    if (h.startsWith('*.')) suffixes.push(h.slice(1));
    else exact.add(h.startsWith('[') ? h.slice(1, -1) : h);
  }
  // Clients send the same few Host values over and over: remember the verdicts (parsing and the
  // name pattern cost ~3k instructions a request). Bounded, so a stream of invented hosts only
  // empties it; verdicts are never mutated, so they can be shared.
  const seen = new Map<string, HostVerdict>();
  return (raw) => {
    if (raw === undefined) return MISSING;
    if (raw.length > MAX_HOST) return MALFORMED;
    let v = seen.get(raw);
    if (v === undefined) {
      if (seen.size >= SEEN_MAX) seen.clear();
      v = verdict(raw);
      seen.set(raw, v);
    }
    return v;
  };

  function verdict(raw: string): HostVerdict {
    if (raw === '') return MISSING;
    const host = hostPart(raw);
    if (host === null) return MALFORMED;
    const h = host.toLowerCase().replace(/\.$/, '');
    if (isIP(h) !== 0) return OK;
    if (h === 'localhost' || h.endsWith('.localhost')) return OK;
    if (exact.has(h) || suffixes.some((s) => h.endsWith(s))) return OK;
    return { ok: false, malformed: false, reason: `host "${h}" is not in allowed_hosts; the operator can add it to allowed_hosts in gatehouse.yaml` };
  }
}

/** The host of a Host header value without its port, or null if the value is not a valid host[:port]. */
export function hostPart(raw: string): string | null {
  if (raw.length > MAX_HOST) return null;
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
