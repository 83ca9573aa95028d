import { isLoopback, splitHostPort } from '../core/ip.js';
import type { Config } from './schema.js';

/**
 * Values derived from the configuration, computed once per Config (and cached with it) instead of
 * again in every module that needs them: whether TLS is on, the listen address, the upstream
 * targets with their addresses, the signed-request window in seconds. Pure: no I/O.
 */

/** One upstream target's address, parsed once. */
export interface UpstreamAddress {
  /** For audit, logs and metrics: the `upstreams` entry's name; "default" for `upstream`. */
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
  /** That server's OLLAMA_NUM_PARALLEL (`upstreams[].parallel`; 1 for `upstream`). */
  readonly parallel: number;
  /** That server's OLLAMA_MAX_LOADED_MODELS (`upstreams[].max_loaded`; 1 for `upstream`). */
  readonly maxLoaded: number;
}

export interface Derived {
  /** tls.cert and tls.key are set: the main listener speaks HTTPS. */
  readonly tls: boolean;
  readonly listen: { readonly host: string; readonly port: number; readonly loopback: boolean };
  /** The upstream targets, in order: `upstreams`, or the one `upstream` names (called "default"). */
  readonly upstreams: readonly UpstreamAddress[];
  /**
   * `upstreams` is configured (even with one entry): requests are placed on nodes by the fleet
   * router (fleet/). False for the `upstream` shorthand, which forwards everything to one server.
   */
  readonly fleet: boolean;
  /** ssh.window in whole seconds. */
  readonly sshWindowSec: number;
}

/** The name of the one target `upstream` configures. */
const DEFAULT_UPSTREAM = 'default';
/** Where Ollama listens by default: `upstream` when neither it nor `upstreams` is set. */
export const DEFAULT_UPSTREAM_URL = 'http://127.0.0.1:11434';

const cache = new WeakMap<Config, Derived>();

export function derived(config: Config): Derived {
  let d = cache.get(config);
  if (!d) {
    const listen = splitHostPort(config.listen);
    d = Object.freeze({
      tls: !!(config.tls.cert && config.tls.key),
      listen: Object.freeze({ ...listen, loopback: isLoopback(listen.host) }),
      upstreams: Object.freeze(
        config.upstreams
          ? config.upstreams.map((u) => upstreamAddress(u.name, u.url, u.parallel, u.max_loaded))
          : [upstreamAddress(DEFAULT_UPSTREAM, config.upstream ?? DEFAULT_UPSTREAM_URL, 1, 1)],
      ),
      fleet: !!config.upstreams,
      sshWindowSec: Math.round(config.ssh.window / 1000),
    });
    cache.set(config, d);
  }
  return d;
}

function upstreamAddress(name: string, url: string, parallel: number, maxLoaded: number): UpstreamAddress {
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
    parallel,
    maxLoaded,
  });
}
