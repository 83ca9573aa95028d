import { isLoopback, splitHostPort } from '../core/ip.js';
import type { Config } from './schema.js';

/**
 * Values derived from the configuration, computed once per Config (and cached with it) instead of
 * again in every module that needs them: whether TLS is on, the listen address, the upstream
 * targets with their addresses, the signed-request window in seconds. Pure: no I/O.
 */

/** One upstream target's address, parsed once. */
export interface UpstreamAddress {
  /** For logs and metrics; the single upstream of today's configuration is "default". */
  readonly name: string;
  /** As configured: what logs, the audit log and doctor show. */
  readonly url: string;
  /** scheme://host[:port] */
  readonly origin: string;
  /** `Host` sent upstream (host[:port], v6 in brackets). */
  readonly host: string;
  /** The host to connect to (v6 without brackets). */
  readonly hostname: string;
  readonly port: number;
  readonly tls: boolean;
}

export interface Derived {
  /** tls.cert and tls.key are set: the main listener speaks HTTPS. */
  readonly tls: boolean;
  readonly listen: { readonly host: string; readonly port: number; readonly loopback: boolean };
  /** The upstream targets, in order (today one: `upstream`, named "default"). */
  readonly upstreams: readonly UpstreamAddress[];
  /** ssh.window in whole seconds. */
  readonly sshWindowSec: number;
}

/** The name of the one target `upstream` configures. */
const DEFAULT_UPSTREAM = 'default';

const cache = new WeakMap<Config, Derived>();

export function derived(config: Config): Derived {
  let d = cache.get(config);
  if (!d) {
    const listen = splitHostPort(config.listen);
    d = Object.freeze({
      tls: !!(config.tls.cert && config.tls.key),
      listen: Object.freeze({ ...listen, loopback: isLoopback(listen.host) }),
      upstreams: Object.freeze([upstreamAddress(DEFAULT_UPSTREAM, config.upstream)]),
      sshWindowSec: Math.round(config.ssh.window / 1000),
    });
    cache.set(config, d);
  }
  return d;
}

function upstreamAddress(name: string, url: string): UpstreamAddress {
  const u = new URL(url);
  const tls = u.protocol === 'https:';
  return Object.freeze({
    name,
    url,
    origin: u.origin,
    host: u.host,
    hostname: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : tls ? 443 : 80,
    tls,
  });
}
