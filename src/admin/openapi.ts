import { z } from 'zod';
import { ADMIN_ROUTES, type AdminRoute } from './routes.js';
import { ErrorBody } from './schemas.js';

/**
 * The OpenAPI 3.1 document served at GET /admin/v1/openapi.json, generated once from the route
 * rows and their zod schemas (the same objects that validate requests), so it says exactly what
 * the handlers accept and answer. Every error, on every route, is the one ErrorBody shape.
 */

type Json = Record<string, unknown>;

function schemaOf(s: z.ZodType, io: 'input' | 'output'): Json {
  const out = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Json;
  delete out.$schema;
  return out;
}

const ERROR_REF = { $ref: '#/components/schemas/Error' };
const errorResponse = (description: string): Json => ({ description, content: { 'application/json': { schema: ERROR_REF } } });

/** Statuses any admin route can answer, whatever it does (edge, authentication, scope, body, limits). */
const COMMON_ERRORS: Record<number, string> = {
  400: 'Invalid query or body (GW_ERR_ADMIN_INVALID, GW_ERR_BODY_INVALID_JSON; usage/series: a period before its start, or more than 2000 points per series) or a Host that cannot be read',
  401: 'No credential, or one that is not valid (GW_ERR_AUTH_*)',
  403: 'Authenticated without the scope the route needs (GW_ERR_SCOPE_MISSING: admin:read to read, admin:keys to change keys, admin for the rest, or keys:self for /me/keys, which also needs a signed-in identity), or a console request that changes something without its X-CSRF-Token (GW_ERR_CONSOLE_CSRF), or a Host or Origin not allowed',
  404: 'No such resource (GW_ERR_ADMIN_NOT_FOUND)',
  405: 'The path exists with other methods (Allow header)',
  408: 'The body did not arrive in time',
  413: 'The body is larger than the admin API takes (64 KiB)',
  415: 'A body that is not application/json',
  429: 'Too many failed authentications from this address',
  500: 'Something failed inside Gatehouse: the log has the cause under the X-Request-Id',
  503: 'The gateway is shutting down or the store is unavailable',
};

function operation(r: AdminRoute): Json {
  const shape = (r.query as z.ZodObject).shape as Record<string, z.ZodType>;
  const parameters: Json[] = [];
  for (const m of r.path.matchAll(/\{(\w+)\}/g)) parameters.push({ name: m[1], in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9._~:@-]{1,200}$' }, description: 'id, or unique name' });
  for (const [name, s] of Object.entries(shape)) parameters.push({ name, in: 'query', required: false, schema: schemaOf(s, 'input') });
  const content: Json = { 'application/json': { schema: schemaOf(r.ok.schema, 'output') } };
  if (r.ok.csv) content['text/csv'] = { schema: { type: 'string', description: 'format=csv: a header row, then one row per group' } };
  const responses: Json = { [r.ok.status]: { description: r.ok.description, content } };
  for (const [status, text] of Object.entries(COMMON_ERRORS)) responses[status] = errorResponse(text);
  if (r.errors.includes(409)) responses[409] = errorResponse('Conflicts with what is stored (GW_ERR_ADMIN_CONFLICT): a name taken, a policy in use, a key that cannot rotate');
  return {
    operationId: r.id,
    summary: r.summary,
    description: `Needs the ${r.scope} scope${r.scope === 'admin:read' ? ' (admin:keys or admin will do)' : r.scope === 'admin:keys' ? ' (admin will do)' : ''}.${r.scope === 'keys:self' ? ' Only a signed-in identity (a JWT from an issuer under auth.oidc) has personal keys.' : ''}`,
    ...(parameters.length ? { parameters } : {}),
    ...(r.body ? { requestBody: { required: r.method !== 'POST' || r.id === 'admin.keys.create' || r.id === 'admin.me.keys.create' || r.id === 'admin.policies.create', content: { 'application/json': { schema: schemaOf(r.body, 'input') } } } } : {}),
    responses,
    security: [{ bearer: [] }],
  };
}

function build(): Json {
  const paths: Record<string, Json> = {};
  for (const r of ADMIN_ROUTES) (paths[r.path] ??= {})[r.method.toLowerCase()] = operation(r);
  return {
    openapi: '3.1.0',
    info: { title: 'Gatehouse admin API', version: '1', description: 'Keys, policies, usage, audit and nodes of a Gatehouse gateway. Reading needs the admin:read scope, changing keys admin:keys, changing policies admin (each admin scope includes the weaker ones), and /admin/v1/me/keys keys:self (a signed-in identity\'s own personal keys). The console\'s session cookie also authenticates; a change made with it needs its X-CSRF-Token header. Times are ms since the epoch.' },
    paths,
    components: {
      schemas: { Error: schemaOf(ErrorBody, 'output') },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A Gatehouse API key with the admin scope (ollama CLI signatures and TLS client certificates work too)' } },
    },
  };
}

let doc: Json | null = null;

/** Built on first use, then the same object. */
export function openApiDocument(): Json {
  return (doc ??= build());
}
