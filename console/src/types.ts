/**
 * The shapes the console reads, as the admin API (src/admin/schemas.ts) and the console endpoints
 * (/console/api/*) answer them. Only the fields the console uses are required here.
 */

export type Role = 'viewer' | 'operator' | 'admin';

export interface Session {
  principal: { id: string; name: string; kind: string; scopes: string[] };
  role: Role;
  csrf: string;
  expiresAt: number;
  idleTimeoutMs: number;
}

export interface SignInOptions {
  oidc: { id: string; issuer: string; label: string }[];
  key: boolean;
}

export interface Limits { rpm: number | null; tpm: number | null; tpd: number | null; concurrency: number | null }

export interface Key {
  id: string;
  name: string;
  kind: 'api_key' | 'ssh_key' | 'client_cert';
  hint: string | null;
  scopes: string[];
  models: string[] | null;
  limits: Limits;
  policyId: string | null;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  rotation: { rotatedAt: number; previousValidUntil: number } | null;
  owner: { id: string; issuer: string; subject: string } | null;
  status: 'active' | 'revoked' | 'expired';
}

export interface Policy {
  id: string;
  name: string;
  scopes: string[];
  models: string[] | null;
  limits: Limits;
  createdAt: number;
  updatedAt: number;
  deletedAt: number | null;
}

export type UsageBy = 'key' | 'model' | 'node' | 'day' | 'hour';

export interface UsageRow {
  group: string | number | null;
  label: string | null;
  requests: number;
  refused: number;
  promptTokens: number;
  completionTokens: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

export interface UsageReport { since: number; until: number; by: string; rows: UsageRow[]; total: UsageRow }

export interface AuditRecord {
  id: number;
  at: number;
  requestId: string;
  principalId: string | null;
  principalName: string | null;
  clientIp: string;
  method: string;
  path: string | null;
  route: string | null;
  model: string | null;
  decision: 'allowed' | 'refused';
  reason: string | null;
  status: number;
  promptTokens: number | null;
  completionTokens: number | null;
  ttfbMs: number | null;
  durationMs: number;
  node: string | null;
}

export interface AuditPage { records: AuditRecord[]; nextAfterId: number | null }

export interface NodeView {
  name: string;
  url: string;
  health: 'up' | 'down' | 'unknown';
  breaker: 'closed' | 'open' | 'half-open';
  inFlight: number;
  parallel: number;
  maxLoaded: number;
  installed: number;
  resident: { model: string; expiresAt: string | null; loading: boolean; sizeVram: number | null }[];
  lastError: { at: string; message: string } | null;
  coldLoads: number;
  requests: number;
}

export interface Nodes { processes: number; queued: number; nodes: NodeView[] }

export type Grain = 'minute' | 'hour' | 'day';
export type SeriesBy = 'none' | 'key' | 'model' | 'node';

export interface SeriesPoint {
  t: number;
  requests: number;
  refused: number;
  promptTokens: number;
  completionTokens: number;
  ttftP50Ms: number | null;
  ttftP95Ms: number | null;
}

export interface UsageSeries {
  since: number;
  until: number;
  grain: Grain;
  by: SeriesBy;
  series: { group: string | null; label: string | null; points: SeriesPoint[] }[];
}

export interface Finding { check: string; status: 'ok' | 'warn' | 'fail'; message: string }
