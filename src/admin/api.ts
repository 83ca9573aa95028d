import { GatewayError, refuse } from '../core/errors.js';
import type { Principal } from '../core/types.js';
import type { AdminAnswer, AdminDeps, AdminHandler } from './context.js';
import { createKey, listKeys, revokeKey, rotateKey, showKey, updateKey } from './keys.js';
import { createMyKey, listMyKeys, revokeMyKey } from './me-keys.js';
import { openApiDocument } from './openapi.js';
import { createPolicy, deletePolicy, listPolicies, showPolicy, updatePolicy } from './policies.js';
import { fromStoreError, invalid } from './refusals.js';
import { adminTrail, audit, nodes, usage } from './reports.js';
import { usageSeries } from './series.js';
import type { AdminRoute } from './routes.js';
import { doctor, showConfig } from './settings.js';

/** Route id → what answers it. Every row of ADMIN_ROUTES has one (checked at start). */
const HANDLERS: Record<string, AdminHandler> = {
  'admin.openapi': async () => ({ status: 200, body: openApiDocument() }),
  'admin.keys.list': listKeys,
  'admin.keys.create': createKey,
  'admin.keys.show': showKey,
  'admin.keys.update': updateKey,
  'admin.keys.revoke': revokeKey,
  'admin.keys.rotate': rotateKey,
  'admin.me.keys.list': listMyKeys,
  'admin.me.keys.create': createMyKey,
  'admin.me.keys.revoke': revokeMyKey,
  'admin.policies.list': listPolicies,
  'admin.policies.create': createPolicy,
  'admin.policies.show': showPolicy,
  'admin.policies.update': updatePolicy,
  'admin.policies.delete': deletePolicy,
  'admin.usage': usage,
  'admin.usage.series': usageSeries,
  'admin.audit': audit,
  'admin.audit.admin': adminTrail,
  'admin.nodes': nodes,
  'admin.config': showConfig,
  'admin.doctor': doctor,
};

/** Who a change made through the API is recorded as in the admin trail: `api:<name>/<id>`. */
export function apiActor(p: Pick<Principal, 'id' | 'name'>): { actor: string } {
  return { actor: `api:${p.name}/${p.id}` };
}

/**
 * The admin API after the request path has authenticated the caller and checked its `admin`
 * scope, or `keys:self` for /me (server/stages/admin.ts hands over the raw query and body): validates them against the
 * route's schemas, runs the handler, and turns what the store refuses into a coded refusal.
 */
export class AdminApi {
  readonly #deps: AdminDeps;

  constructor(deps: AdminDeps) {
    this.#deps = deps;
  }

  /** Resolves with the answer, or rejects with the GatewayError to send. */
  async answer(route: AdminRoute, params: Record<string, string>, rawQuery: string, rawBody: Buffer | null, principal: Principal): Promise<AdminAnswer> {
    const query = route.query.safeParse(queryObject(rawQuery));
    if (!query.success) throw invalid('query', query.error);
    let body: unknown = undefined;
    if (route.body === null) {
      if (rawBody && rawBody.length) throw refuse('GW_ERR_ADMIN_INVALID', `${route.method} ${route.path} takes no body; send none`);
    } else {
      const parsed = route.body.safeParse(parseJson(rawBody));
      if (!parsed.success) throw invalid('body', parsed.error);
      body = parsed.data;
    }
    const handler = HANDLERS[route.id]!;
    try {
      return await handler(this.#deps, { params, query: query.data, body, by: apiActor(principal), principal });
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw fromStoreError(err) ?? err;
    }
  }
}

/** Missing routes in HANDLERS are a programming error: found at start, not on a request. */
export function checkHandlers(routes: readonly AdminRoute[]): void {
  for (const r of routes) if (!HANDLERS[r.id]) throw new Error(`admin route ${r.id} has no handler`);
}

/** A query string as one value per name; a name given twice is refused rather than guessed. */
function queryObject(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const [k, v] of new URLSearchParams(raw)) {
    if (Object.hasOwn(out, k)) throw refuse('GW_ERR_ADMIN_INVALID', `query: "${k}" was given more than once; give it once`);
    out[k] = v;
  }
  return out;
}

function parseJson(raw: Buffer | null): unknown {
  if (!raw || raw.length === 0) return {};
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw refuse('GW_ERR_BODY_INVALID_JSON', `the body is not valid JSON (${(err as Error).message}); send a JSON object`);
  }
}
