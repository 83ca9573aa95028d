import type { Logger } from 'pino';
import type { AdminApi } from '../../admin/api.js';
import type { AuthenticatorChain } from '../../auth/authenticator.js';
import type { ConsoleHandler } from '../console/handler.js';
import type { LastUsed } from '../../auth/last-used.js';
import type { Config } from '../../config/schema.js';
import type { Limiter } from '../../limits/types.js';
import type { MetricsEndpoint } from '../../metrics/endpoint.js';
import type { ManageRules } from '../../policy/manage.js';
import type { RequestPolicy } from '../../policy/request-policy.js';
import type { UpstreamSet } from '../../proxy/upstream-set.js';
import type { Observer } from '../../request/observer.js';
import type { BlobRegistry } from '../blob-registry.js';
import type { compileClientAddress } from '../client-address.js';
import type { CorsPolicy } from '../cors.js';
import type { Health } from '../health.js';
import type { HostVerdict } from '../host-check.js';
import type { Stage } from './stage.js';
import type { FleetDeps } from './place.js';

/** What the composition root (server/app.ts) hands the gateway. */
export interface GatewayDeps {
  config: Config;
  /** The authenticators, in order (auth/authenticator.ts). */
  authenticators: AuthenticatorChain;
  upstreams: UpstreamSet;
  limiter: Limiter;
  policy: RequestPolicy;
  observer: Observer;
  health: Health;
  log: Logger;
  /** Batches last-used times to the key store. */
  lastUsed?: LastUsed;
  /** Answers GET /metrics on this listener (metrics.listen: main); null = the route does not exist here. */
  metricsEndpoint?: MetricsEndpoint | null;
  /** Blobs uploaded through Gatehouse, per key: what a create may reference. */
  blobs: BlobRegistry;
  /** `upstreams` is configured: the fleet places requests on nodes (stages/place.ts). */
  fleet?: FleetDeps | null;
  /** The admin API (/admin/v1) on this listener; null/absent = its paths are 404 here. */
  admin?: AdminApi | null;
  /** The web console (/console/), where the admin API is served and admin.console.enabled; null/absent = 404. */
  console?: ConsoleHandler | null;
  /** A listener of the admin API's own (admin.listen: HOST:PORT): every other path is 404. */
  adminOnly?: boolean;
}

/** What every stage reads besides the call: the deps, and what the gateway compiled from config once. */
export interface GatewayContext extends GatewayDeps {
  readonly hostCheck: (h: string | undefined) => HostVerdict;
  readonly cors: CorsPolicy;
  readonly clientAddress: ReturnType<typeof compileClientAddress>;
  readonly basePath: string;
  readonly manage: ManageRules;
  /** The path every request takes, in order (server/gateway.ts). */
  readonly stages: readonly Stage[];
  /** Where a public route that is forwarded joins the path: it skips authentication, the body and the limiter. */
  readonly forwardAt: number;
}
