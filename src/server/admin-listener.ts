import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { derived } from '../config/resolved.js';
import type { Config } from '../config/schema.js';
import { splitHostPort } from '../core/ip.js';
import { Gateway, type GatewayDeps } from './gateway.js';
import { createListener } from './listen.js';
import { listenFailure } from './startup-errors.js';

/**
 * admin.listen: HOST:PORT — the admin API on a listener of its own (a management network, a
 * loopback address), with the main listener's TLS, timeouts and edge checks (Host allowlist, CORS)
 * and the same authentication; it serves /admin/v1 and nothing else, and the main listener then
 * does not serve it at all.
 */
export async function openAdminListener(config: Config, deps: GatewayDeps): Promise<{ server: Server; url: string }> {
  const gateway = new Gateway({ ...deps, adminOnly: true });
  const server = createListener(config, (req, res) => gateway.handle(req, res));
  const { host, port } = splitHostPort(config.admin.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenFailure(err, 'admin listener', config.admin.listen, 'admin.listen in the config file')));
    server.listen({ host, port }, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return { server, url: `${derived(config).tls ? 'https' : 'http'}://${shown}:${addr.port}` };
}
