import { z } from 'zod';
import { ALL_SCOPES } from '../core/types.js';

/**
 * The admin API's shapes, as zod schemas: request bodies and queries are validated with them
 * (strict: an unknown field is refused, never ignored), and the OpenAPI document (openapi.ts) is
 * generated from the same objects, so the two cannot drift apart. Times are ms since the epoch.
 */

const id = z.string().min(1).max(200);
const name = z.string().min(1).max(200).regex(/^[^\s/]+(?: [^\s/]+)*$/, 'a name is non-empty text without "/" or leading, trailing or double spaces');
const ms = z.number().int().nonnegative();
const count = z.number().int().nonnegative().nullable();

export const Scope = z.enum(ALL_SCOPES as [string, ...string[]]);
export const Limits = z.strictObject({ rpm: count, tpm: count, tpd: count, concurrency: count });
export const Clamps = z.strictObject({
  max_num_ctx: z.number().int().positive().nullable().optional(),
  max_num_predict: z.number().int().positive().nullable().optional(),
  max_keep_alive: z.number().int().positive().nullable().optional(),
  max_images: z.number().int().nonnegative().nullable().optional(),
  max_embed_inputs: z.number().int().positive().nullable().optional(),
  allow_runner_options: z.boolean().optional(),
});
const Models = z.array(z.string().min(1).max(300)).max(1000).nullable();

// ---- resources (responses) ----

export const Key = z.strictObject({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['api_key', 'ssh_key', 'client_cert']),
  hint: z.string().nullable(),
  fingerprint: z.string().nullable(),
  publicKey: z.string().nullable(),
  scopes: z.array(Scope),
  models: z.array(z.string()).nullable(),
  limits: Limits,
  clamps: Clamps,
  policyId: z.string().nullable(),
  createdAt: ms,
  expiresAt: ms.nullable(),
  revokedAt: ms.nullable(),
  lastUsedAt: ms.nullable(),
  updatedAt: ms,
  version: ms,
  /** The last rotation; the previous secret works while now < previousValidUntil. Never a hash. */
  rotation: z.strictObject({ rotatedAt: ms, previousValidUntil: ms }).nullable(),
  /** Personal keys: the signed-in identity that made it for itself (`/admin/v1/me/keys`); null for an operator's key. */
  owner: z.strictObject({ id: z.string(), issuer: z.string(), subject: z.string() }).nullable(),
  status: z.enum(['active', 'revoked', 'expired']),
});

/** A key just created or rotated, with its secret: the only time it is ever shown. */
export const KeyWithSecret = z.strictObject({ key: Key, secret: z.string() });
export const KeyList = z.strictObject({ keys: z.array(Key) });

export const Policy = z.strictObject({
  id: z.string(),
  name: z.string(),
  scopes: z.array(Scope),
  models: z.array(z.string()).nullable(),
  limits: Limits,
  clamps: Clamps,
  createdAt: ms,
  updatedAt: ms,
  deletedAt: ms.nullable(),
  version: ms,
});
export const PolicyList = z.strictObject({ policies: z.array(Policy) });

const UsageRow = z.strictObject({
  group: z.union([z.string(), z.number(), z.null()]),
  label: z.string().nullable(),
  requests: ms,
  refused: ms,
  promptTokens: ms,
  completionTokens: ms,
  p50Ms: z.number().nullable(),
  p95Ms: z.number().nullable(),
});
export const UsageReport = z.strictObject({
  since: ms,
  until: ms,
  by: z.enum(['key', 'model', 'node', 'day', 'hour', 'all']),
  key: z.string().nullable(),
  rows: z.array(UsageRow),
  total: UsageRow,
});

const Grain = z.enum(['minute', 'hour', 'day']);
const SeriesBy = z.enum(['key', 'model', 'node', 'none']);
/** One bucket of a series: its start, counts, and TTFT percentiles of allowed requests (within 5%). */
const SeriesPoint = z.strictObject({
  t: ms,
  requests: ms,
  refused: ms,
  promptTokens: ms,
  completionTokens: ms,
  ttftP50Ms: z.number().nullable(),
  ttftP95Ms: z.number().nullable(),
});
/**
 * Time series for the console's charts. `since`/`until` are the period as answered: rounded out to
 * whole buckets of `grain`. `group` is the key id, model or node (null: requests without one, and
 * the "other" series, labelled "other", summing the groups past the top 10 by requests).
 */
export const UsageSeries = z.strictObject({
  since: ms,
  until: ms,
  grain: Grain,
  by: SeriesBy,
  series: z.array(z.strictObject({ group: z.string().nullable(), label: z.string().nullable(), points: z.array(SeriesPoint) })),
});

const AuditRecord = z.strictObject({
  id: ms, at: ms, requestId: z.string(), principalId: z.string().nullable(), principalName: z.string().nullable(), clientIp: z.string(),
  method: z.string(), route: z.string().nullable(), path: z.string().nullable(), scope: z.string().nullable(), model: z.string().nullable(),
  models: z.array(z.string()), decision: z.enum(['allowed', 'refused']), reason: z.string().nullable(), status: z.number().int(),
  promptTokens: z.number().int().nullable(), completionTokens: z.number().int().nullable(), tokensEstimated: z.boolean(), ttfbMs: z.number().nullable(),
  durationMs: z.number(), bytesIn: ms, bytesOut: ms, clientAborted: z.boolean(), stream: z.boolean(), upstream: z.string().nullable(),
  upstreamError: z.string().nullable(), node: z.string().nullable(),
});
/** `nextAfterId`: pass it as afterId for the next page (oldest first); null when this page was not full. */
export const AuditPage = z.strictObject({ records: z.array(AuditRecord), nextAfterId: ms.nullable() });

const AdminEvent = z.strictObject({ id: ms, at: ms, actor: z.string(), action: z.string(), keyId: z.string().nullable(), detail: z.record(z.string(), z.unknown()) });
export const AdminEventPage = z.strictObject({ events: z.array(AdminEvent), nextAfterId: ms.nullable() });

const NodeView = z.strictObject({
  name: z.string(), url: z.string(), health: z.enum(['up', 'down', 'unknown']), breaker: z.enum(['closed', 'open', 'half-open']),
  inFlight: z.number().int(), parallel: z.number().int(), maxLoaded: z.number().int(), installed: z.number().int(),
  resident: z.array(z.strictObject({ model: z.string(), expiresAt: z.string().nullable(), loading: z.boolean(), sizeVram: z.number().nullable() })),
  lastError: z.strictObject({ at: z.string(), message: z.string() }).nullable(), coldLoads: z.number(), coldLoadSeconds: z.number(), retries: z.number(), requests: z.number(),
});
/** What `gatehouse nodes --json` prints, from this process's live fleet. */
export const Nodes = z.strictObject({ source: z.literal('gateway'), processes: z.number().int(), queued: z.number().int(), nodes: z.array(NodeView) });

/** GET /admin/v1/config: the running configuration, passwords in URLs hidden (config/redact.ts). */
export const ConfigView = z.strictObject({ config: z.record(z.string(), z.unknown()) });

const Severity = z.enum(['critical', 'warning', 'info', 'ok']);
const Finding = z.strictObject({ id: z.string(), severity: Severity, title: z.string(), detail: z.string().optional(), fix: z.string().optional() });
/** GET /admin/v1/doctor: the doctor's findings as the gateway sees them, most severe first. */
export const DoctorView = z.strictObject({ ok: z.boolean(), findings: z.array(Finding), counts: z.strictObject({ critical: z.number().int(), warning: z.number().int(), info: z.number().int(), ok: z.number().int() }) });

export const ErrorBody = z.strictObject({
  error: z.strictObject({ code: z.string().regex(/^GW_ERR_[A-Z_]+$/), message: z.string(), request_id: z.string() }),
});

/** The OpenAPI document itself: checked by the tests against the OpenAPI 3.1 essentials only. */
export const OpenApiDoc = z.object({ openapi: z.string(), info: z.object({}).passthrough(), paths: z.object({}).passthrough() }).passthrough();

// ---- requests ----

const grants = {
  scopes: z.array(Scope).max(ALL_SCOPES.length).optional(),
  models: Models.optional(),
  limits: Limits.partial().optional(),
  clamps: Clamps.optional(),
};

/** Scopes default to the CLI's (inference, models:read); `admin` only when asked for. */
export const KeyCreate = z.strictObject({
  name,
  ...grants,
  expiresAt: ms.nullable().optional(),
  /** A policy (id or name): the key then takes its scopes, models, limits and clamps, and may not set its own. */
  policy: z.string().min(1).max(200).nullable().optional(),
});

export const KeyUpdate = z.strictObject({
  name: name.optional(),
  ...grants,
  expiresAt: ms.nullable().optional(),
  /** A policy id or name; null detaches the key from its policy. */
  policy: z.string().min(1).max(200).nullable().optional(),
});

/** `overlap`: a duration ("24h", "30m", "2s"; "0" = the old secret stops at once); default 24h. */
export const KeyRotate = z.strictObject({ overlap: z.string().max(20).optional() });
export const Empty = z.strictObject({});

/** A personal key: only a name and an expiry; its grants are its owner's policy (admin/me-keys.ts). */
export const MyKeyCreate = z.strictObject({ name, expiresAt: ms.nullable().optional() });

export const PolicyCreate = z.strictObject({ name, ...grants });
export const PolicyUpdate = z.strictObject({ name: name.optional(), ...grants });

const queryTime = z.string().regex(/^\d{1,15}$/, 'ms since the epoch').transform(Number);
const queryInt = (max: number) => z.string().regex(/^[1-9]\d{0,6}$/, 'a positive whole number').transform(Number).refine((n) => n <= max, `at most ${max}`);

export const UsageQuery = z.strictObject({
  since: queryTime.optional(),
  until: queryTime.optional(),
  by: z.enum(['key', 'model', 'node', 'day', 'hour', 'all']).optional(),
  key: id.optional(),
  /** csv: text/csv with a header row (the rows, no total), as `gatehouse usage --csv`. */
  format: z.enum(['json', 'csv']).optional(),
});

/** Default period: the last 24 hours; default grain: the finest giving at most 500 points. */
export const SeriesQuery = z.strictObject({
  since: queryTime.optional(),
  until: queryTime.optional(),
  grain: Grain.optional(),
  by: SeriesBy.optional(),
  key: id.optional(),
  model: z.string().min(1).max(300).optional(),
  node: z.string().min(1).max(200).optional(),
});

export const AuditQuery = z.strictObject({
  since: queryTime.optional(),
  until: queryTime.optional(),
  key: id.optional(),
  denied: z.enum(['true', 'false']).optional(),
  afterId: z.string().regex(/^\d{1,15}$/).transform(Number).optional(),
  limit: queryInt(5000).optional(),
  order: z.enum(['asc', 'desc']).optional(),
});

export const AdminEventQuery = z.strictObject({
  since: queryTime.optional(),
  until: queryTime.optional(),
  key: id.optional(),
  action: z.string().min(1).max(100).optional(),
  afterId: z.string().regex(/^\d{1,15}$/).transform(Number).optional(),
  limit: queryInt(5000).optional(),
  order: z.enum(['asc', 'desc']).optional(),
});

export const NoQuery = z.strictObject({});

/** `deleted=true`: deleted policies too (what revoked keys may still point at). */
export const PolicyListQuery = z.strictObject({ deleted: z.enum(['true', 'false']).optional() });
