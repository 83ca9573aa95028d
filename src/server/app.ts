import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ApiKeyAuthenticator } from '../auth/authenticate.js';
import { AuthenticatorChain } from '../auth/authenticator.js';
import { AuthorizedKeysFile } from '../auth/authorized-keys-file.js';
import { ClientCertAuthenticator } from '../auth/client-cert.js';
import { JwtRefusal } from '../auth/jwt-refusal.js';
import { KeyCache } from '../auth/key-cache.js';
import { PolicyCache } from '../auth/policy-cache.js';
import { PersonalKeyGate } from '../auth/personal-keys.js';
import { LastUsed } from '../auth/last-used.js';
import { OidcAuthenticator } from '../auth/oidc/authenticator.js';
import type { ResolvedPrincipal } from '../auth/principal.js';
import { OllamaTokenAuthenticator, SshAuthenticator } from '../auth/ssh-auth.js';
import { ReplayGuard } from '../auth/ssh/replay-guard.js';
import { systemClock, type Clock } from '../core/clock.js';
import { derived } from '../config/resolved.js';
import type { Config } from '../config/schema.js';
import { createLimiter } from '../limits/index.js';
import type { Limiter } from '../limits/types.js';
import { RequestPolicy } from '../policy/request-policy.js';
import { UpstreamSet } from '../proxy/upstream-set.js';
import { Fleet } from '../fleet/fleet.js';
import { Poller } from '../fleet/poller.js';
import { snapshot, startSnapshots } from '../fleet/snapshot.js';
import { AdminApi } from '../admin/api.js';
import { consoleParts } from './console/index.js';
import { openAdminListener } from './admin-listener.js';
import type { FleetDeps } from './stages/place.js';
import { openStores, type Stores } from '../store/index.js';
import { BlobRegistry } from './blob-registry.js';
import { Gateway, type GatewayDeps } from './gateway.js';
import { ensureInitialKey } from './initial-key.js';
import { Health } from './health.js';
import { createListener, reloadTls } from './listen.js';
import { Observers, type Observer } from '../request/observer.js';
import { RequestLog } from './request-log.js';
import { AuditWriter } from '../audit/writer.js';
import { createMetrics } from '../metrics/definitions.js';
import { metricsEndpoint } from '../metrics/endpoint.js';
import type { MetricsListener } from '../metrics/listener.js';
import { openMetricsListener, recordStartConfig } from './startup.js';
import { listenFailure } from './startup-errors.js';
import { upstreamAtStart } from './upstream-at-start.js';
import { shareMetricsWithPrimary } from './workers.js';

/**
 * The composition root: builds every part from the validated config and wires them together.
 * Nothing else constructs backends, pools or listeners.
 */

export interface StartOptions {
  config: Config;
  log: Logger;
  clock?: Clock;
  /** Extra observers (tests, metrics, audit). */
  observers?: Observer[];
  limiter?: Limiter;
  /**
   * One of `serve --workers N` (workers.ts): the primary has prepared the store and recorded the
   * config, and serves the summed metrics, so this process shares its registry instead.
   */
  worker?: boolean;
}

export interface RunningGateway {
  server: Server;
  gateway: Gateway;
  stores: Stores;
  keys: KeyCache;
  health: Health;
  /** e.g. http://127.0.0.1:11435 */
  url: string;
  /** Where /admin/v1 is served (the main URL with admin.listen: main); null when it is off. */
  adminUrl: string | null;
  port: number;
  /** Stops accepting, lets in-flight responses finish up to `graceMs`, then closes everything. */
  close(graceMs?: number): Promise<void>;
  /** SIGHUP: re-reads tls.cert/key/client_ca for new connections (open ones keep theirs). False if not TLS or the files did not load. */
  reloadTls(): boolean;
}

export async function startGateway(o: StartOptions): Promise<RunningGateway> {
  // What start-up has opened so far, closed again (last first) if it fails part-way: a failed
  // start leaves no thread, timer or socket behind (an in-process caller would otherwise hang).
  const undo: Array<() => unknown> = [];
  try {
    return await build(o, undo);
  } catch (err) {
    for (const step of undo.reverse()) await Promise.resolve().then(step).catch(() => {});
    throw err;
  }
}

async function build(o: StartOptions, undo: Array<() => unknown>): Promise<RunningGateway> {
  const { config, log } = o;
  const d = derived(config);
  const clock = o.clock ?? systemClock;
  const stores = await openStores({ dataDir: config.data_dir, store: config.store, role: 'server' });
  undo.push(() => stores.close());
  await ensureInitialKey(stores.keys, config.data_dir, log);
  // Shared by keys with a policy and by OIDC identities (their rules name policies); the key cache's poll refreshes it.
  const policies = new PolicyCache(stores.policies);
  const keys = new KeyCache(stores.keys, policies);
  await keys.refresh();
  if (keys.health.lastError) throw keys.health.lastError;
  keys.start(250);
  undo.push(() => keys.stop());
  // Postgres: NOTIFY brings a revocation or a policy change from any replica or CLI in milliseconds; the poll stays.
  const unwatchKeys = stores.watchKeys?.(() => void keys.refresh()) ?? null;
  undo.push(() => unwatchKeys?.());

  let fileKeys: AuthorizedKeysFile | null = null;
  if (config.ssh.enabled && config.ssh.authorized_keys) {
    fileKeys = new AuthorizedKeysFile(config.ssh.authorized_keys, config.ssh.authorized_keys_scopes, log);
    fileKeys.watch();
    undo.push(() => fileKeys?.close());
  }
  const noFileKeys: ReadonlyMap<string, ResolvedPrincipal> = new Map();
  const windowSec = d.sshWindowSec;
  const ssh = config.ssh.enabled
    ? new SshAuthenticator(keys, clock, {
        windowSec,
        replayGuard: config.ssh.replay === 'once' ? new ReplayGuard({ windowSec, onCapacityExceeded: (i) => log.error(i, 'ssh replay guard is full; refusing signed requests until entries expire') }) : null,
        fileKeys: () => fileKeys?.keys ?? noFileKeys,
      })
    : null;
  // With auth.oidc, JWTs from those issuers are checked (auth/oidc/); without, a JWT is refused saying so.
  let jwt: OidcAuthenticator | JwtRefusal = new JwtRefusal();
  if (config.auth.oidc.length > 0) {
    const oidc = new OidcAuthenticator(config.auth.oidc, policies, clock);
    oidc.warm((issuer, why) => log.warn({ issuer, err: why }, `the OpenID provider ${issuer} cannot be read yet (${why}); its tokens get 503 until it can`));
    jwt = oidc;
  }
  // The console (/console/): its session cookie authenticates admin API calls without another credential.
  const consoleSetup = consoleParts(config, { store: stores.sessions, keys, policies, clock, log, tls: d.tls });
  // Asked in this order; each claims its own credentials (auth/authenticator.ts). A certificate is
  // looked at only when the listener asks clients for one, and only without a header credential.
  const authenticators = new AuthenticatorChain([
    jwt,
    new ApiKeyAuthenticator(keys, clock, config.auth.oidc.length > 0 ? new PersonalKeyGate(config.auth.oidc, policies) : null),
    new OllamaTokenAuthenticator(ssh),
    // Before the certificate: on an admin path, a console cookie is the browser's explicit choice.
    ...(consoleSetup ? [consoleSetup.authenticator] : []),
    ...(config.tls.client_auth !== 'none' ? [new ClientCertAuthenticator(keys, clock)] : []),
  ]);

  const upstreams = new UpstreamSet(d.upstreams, {
    timeouts: { connectMs: config.timeouts.upstream_connect, headersMs: config.timeouts.upstream_headers, bodyMs: config.timeouts.upstream_body },
    readyWhen: d.fleet ? 'any' : 'all',
  });
  undo.push(() => upstreams.close());
  // upstreams: the fleet (fleet/, docs/fleet.md). Its first read of every node is awaited, bounded
  // by the poll timeout, so the first requests are routed by what the nodes have.
  let fleet: FleetDeps | null = null;
  if (d.fleet) {
    const f = new Fleet(upstreams, d.upstreams, {
      queueMax: config.fleet.queue.max_size, queueWaitMs: config.fleet.queue.max_wait,
      breakerFailures: config.fleet.breaker_failures, breakerOpenMs: config.fleet.breaker_open,
    });
    const poller = new Poller(f, { psIntervalMs: config.fleet.ps_interval, tagsIntervalMs: config.fleet.tags_interval, timeoutMs: Math.min(config.timeouts.upstream_connect, 2000) });
    await poller.start();
    undo.push(() => poller.stop());
    undo.push(() => f.close());
    const stopSnapshots = startSnapshots(f, config.data_dir, (err) => log.warn({ err: err.message }, `cannot write the fleet view to ${config.data_dir}/nodes: \`gatehouse nodes\` will ask the nodes directly instead`));
    undo.push(stopSnapshots);
    fleet = { fleet: f, poller, reveal: config.fleet.reveal_nodes };
  }
  const limiter = o.limiter ?? (await createLimiter(config, { clock, log }));
  if (!o.limiter) undo.push(() => limiter.close());
  const health = new Health(keys, upstreams);
  const audit = config.audit.enabled
    ? new AuditWriter({ store: stores.audit, batchSize: config.audit.batch_size, queueSize: config.audit.queue_size, flushIntervalMs: config.audit.flush_interval, retentionMs: config.audit.retention, log })
    : null;
  const metrics = config.metrics.listen === 'off' ? null : createMetrics({ limiter, keys, audit, upstreamUp: () => upstreams.ready(5000), fleet: fleet?.fleet ?? null });
  const observer = new Observers([new RequestLog(log, config.log.requests), ...(audit ? [audit] : []), ...(metrics ? [metrics.observer] : []), ...(o.observers ?? [])]);
  undo.push(() => observer.close());
  const lastUsed = new LastUsed(stores.keys);
  lastUsed.start();
  undo.push(() => lastUsed.stop());
  // The admin API (/admin/v1): on the main listener (admin.listen: main) or a listener of its own.
  const adminApi = config.admin.listen === 'off' ? null : new AdminApi({ keys: stores.keys, policies: stores.policies, audit: stores.audit, config, fleet: fleet ? () => snapshot(fleet!.fleet) : null });
  const gatewayDeps: GatewayDeps = {
    config, authenticators, upstreams, limiter, policy: new RequestPolicy(config.clamps), observer, health, log, lastUsed,
    blobs: new BlobRegistry(stores.blobs, log),
    fleet,
    metricsEndpoint: metrics && config.metrics.listen === 'main' ? metricsEndpoint(metrics) : null,
  };
  const consoleHandler = consoleSetup?.handler(limiter, jwt instanceof OidcAuthenticator ? jwt : null) ?? null;
  const gateway = new Gateway({ ...gatewayDeps, admin: config.admin.listen === 'main' ? adminApi : null, console: config.admin.listen === 'main' ? consoleHandler : null });

  // The route table is Gatehouse's router and the gateway reads bodies and shapes errors itself,
  // so requests go straight from node:http to it: a framework pipeline in between (routing,
  // request/reply objects, content-type parsing, hooks) measured at ~4.5 µs of CPU per request,
  // about 8% of the hot path, for no work Gatehouse needed from it.
  const server = createListener(config, (req, res) => gateway.handle(req, res));
  const { host: listenHost, port, loopback } = d.listen;
  const tls = d.tls;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenFailure(err, 'main listener', config.listen, 'listen (--listen, GATEHOUSE_LISTEN or listen: in the config file)')));
    server.listen({ host: listenHost, port, backlog: 4096 }, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  undo.push(() => server.close());
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${tls ? 'https' : 'http'}://${shownHost}:${addr.port}`;

  if (!loopback && !tls) {
    log.warn(`LISTENING ON ${config.listen} WITHOUT TLS: API keys and prompts cross the network in clear text. Set tls.cert and tls.key, or put a TLS terminator in front and listen on loopback.`);
    if (ssh) log.warn('Ed25519 (ollama CLI) authentication is on without TLS: a captured signed request can be replayed for ±' + windowSec + ' s and its body changed. Use TLS, or set ssh.replay: once.');
  }
  let adminListener: { server: Server; url: string } | null = null;
  if (adminApi && config.admin.listen !== 'main') {
    adminListener = await openAdminListener(config, { ...gatewayDeps, admin: adminApi, console: consoleHandler });
    undo.push(() => adminListener?.server.close());
    log.info({ url: adminListener.url }, 'admin API listening');
  }
  let metricsListener: MetricsListener | null = null;
  if (metrics && o.worker) shareMetricsWithPrimary(metrics.registry);
  else if (metrics && config.metrics.listen !== 'main') {
    metricsListener = await openMetricsListener(config, metrics, log, { what: 'metrics listening', mainHint: true });
    undo.push(() => metricsListener?.close());
  }
  if (!o.worker) await recordStartConfig(stores.audit, config, log);
  log.info({ url, upstream: d.fleet ? d.upstreams.map((u) => `${u.name}=${u.url}`).join(' ') : d.upstreams[0]!.url, data_dir: config.data_dir, store: stores.location, keys: keys.size, manage_routes: config.routes.manage, cloud_routes: config.routes.cloud }, 'gatehouse listening');
  // Ollama down at start is not fatal (it may start after Gatehouse), but it is said at once.
  for (const t of d.upstreams) {
    void upstreamAtStart(t, Math.min(config.timeouts.upstream_connect, 3000)).then((why) => {
      if (why) log.warn({ upstream: t.url, err: why }, `the upstream ${t.url} is not answering (${why}): requests that need Ollama get 502, and /readyz answers 503 until it does. Start Ollama, or point upstream (--upstream, GATEHOUSE_UPSTREAM) at it`);
    });
  }

  let closing: Promise<void> | null = null;
  return {
    server, gateway, stores, keys, health, url, port: addr.port, adminUrl: adminListener?.url ?? (adminApi ? url : null),
    reloadTls() {
      if (!tls) {
        log.info('SIGHUP: TLS is not configured here, nothing to reload');
        return false;
      }
      try {
        const now = reloadTls(server, config);
        log.info({ subject: now.subject, sha256: now.fingerprint256, not_after: now.notAfter, client_auth: config.tls.client_auth }, 'tls certificate reloaded; new connections use it');
        return true;
      } catch (err) {
        log.error({ err: (err as Error).message, cert: config.tls.cert, key: config.tls.key }, 'tls reload failed; still serving the previous certificate');
        return false;
      }
    },
    close(graceMs = 10_000) {
      closing ??= (async () => {
        health.shuttingDown = true;
        keys.stop();
        fileKeys?.close();
        // Stop accepting and close idle keep-alive connections; requests already running finish
        // (a new request on a busy keep-alive connection gets 503 + Connection: close from the
        // gateway); after graceMs whatever is left is cut.
        const forced = setTimeout(() => server.closeAllConnections(), graceMs);
        forced.unref();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        clearTimeout(forced);
        if (adminListener) {
          adminListener.server.closeAllConnections();
          await new Promise<void>((resolve) => adminListener!.server.close(() => resolve()));
        }
        unwatchKeys?.();
        // Upstream exchanges end (or are aborted with their clients) before the observers close,
        // so every request has been observed when the audit writer flushes for the last time.
        fleet?.poller.stop();
        fleet?.fleet.close();
        await upstreams.close();
        await metricsListener?.close();
        await observer.close();
        await lastUsed.stop();
        await limiter.close();
        await stores.close();
      })();
      return closing;
    },
  };
}
