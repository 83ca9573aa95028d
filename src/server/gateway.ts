import type { IncomingMessage, ServerResponse } from 'node:http';
import { compileClientAddress } from './client-address.js';
import { compileCors } from './cors.js';
import { compileHostCheck } from './host-check.js';
import { admin } from './stages/admin.js';
import { admit } from './stages/admit.js';
import { authenticate } from './stages/authenticate.js';
import { authorize } from './stages/authorize.js';
import { body } from './stages/body.js';
import type { GatewayContext, GatewayDeps } from './stages/context.js';
import { edge, openCall } from './stages/edge.js';
import { forward } from './stages/forward.js';
import { place } from './stages/place.js';
import { route } from './stages/route.js';
import { settle } from './stages/settle.js';
import { resume, type Stage } from './stages/stage.js';
import { verify } from './stages/verify.js';

export type { GatewayDeps } from './stages/context.js';

/**
 * The request path, socket to Ollama and back: every request takes these stages in this order
 * (each in server/stages/, each answering continue, a refusal, or "suspended, I will resume").
 * Nothing is forwarded until every stage before `forward` has said yes; every refusal is answered
 * in the route dialect's error format.
 */
const PATH: readonly Stage[] = [
  edge, //         request id, client address, shutting down, Host allowlist, base_path, CORS
  route, //        exact route match; public routes answered here or sent on to forward
  authenticate, // the authenticator chain; failed attempts counted per address
  authorize, //    route gate, scope, endpoint list, /metrics, a model named in the path
  admin, //        the admin API (/admin/v1) is answered here, never forwarded
  body, //         read and inspect the body (model allowlist, clamps), or stream a blob upload
  admit, //        limits
  verify, //       a forward-auth check (GET /auth/verify) is answered here, never forwarded
  place, //        with upstreams: the node (or nodes) that serve it, or a wait for a free one
  forward, //      to the upstream, with accounting
  settle, //       usage → limits settled → audit/metrics (once per request)
];
const FORWARD_AT = PATH.indexOf(forward);

export class Gateway {
  readonly #gw: GatewayContext;

  constructor(deps: GatewayDeps) {
    this.#gw = {
      ...deps,
      hostCheck: compileHostCheck(deps.config.allowed_hosts),
      cors: compileCors(deps.config.cors.origins, deps.config.cors.max_age),
      clientAddress: compileClientAddress(deps.config.trusted_proxies),
      basePath: deps.config.base_path,
      manage: { registries: deps.config.manage.registries, remoteHosts: deps.config.manage.remote_hosts },
      stages: PATH,
      forwardAt: FORWARD_AT,
    };
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    resume(openCall(req, res, this.#gw), this.#gw);
  }
}
