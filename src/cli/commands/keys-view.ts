import type { PrincipalClamps, PrincipalLimits } from '../../core/types.js';
import type { Config } from '../../config/schema.js';
import { formatDuration } from '../../config/units.js';
import { resolvePlan } from '../../limits/plan.js';
import type { KeyRecord, PolicyRecord } from '../../store/types.js';
import { table, when } from '../output.js';

/**
 * How `keys` and `policies` show what applies to a key or a policy. A key's unset limit or clamp
 * follows the configuration, so what is shown is the effective value and where it comes from,
 * never "default" (which says nothing about how many requests the key may make). A key with a
 * policy shows the policy's scopes, models, limits and clamps: its own are not used.
 */

export function status(r: KeyRecord, now: number): string {
  if (r.revokedAt !== null) return 'revoked';
  if (r.expiresAt !== null && now >= r.expiresAt) return 'expired';
  return 'active';
}

const CLAMPS = ['max_num_ctx', 'max_num_predict', 'max_keep_alive', 'max_images', 'max_embed_inputs'] as const;

/** Where a key's grants come from: its own values, its policy's, or (a policy deleted or missing) nothing. */
export interface Grants {
  scopes: string[];
  models: string[] | null;
  limits: PrincipalLimits;
  clamps: PrincipalClamps;
  from: 'key' | 'policy';
  /** The key's policy (null: none), as far as the store knows it. */
  policy: { id: string; name: string | null; deleted: boolean } | null;
}

/** `policies`: every policy the store holds, deleted ones included (old keys may point at them). */
export function grantsOf(r: KeyRecord, policies: ReadonlyMap<string, PolicyRecord>): Grants {
  if (r.policyId === null) return { scopes: r.scopes, models: r.models, limits: r.limits, clamps: r.clamps, from: 'key', policy: null };
  const p = policies.get(r.policyId);
  const policy = { id: r.policyId, name: p?.name ?? null, deleted: !p || p.deletedAt !== null };
  if (!p || p.deletedAt !== null) return { scopes: [], models: [], limits: r.limits, clamps: r.clamps, from: 'policy', policy };
  return { scopes: p.scopes, models: p.models, limits: p.limits, clamps: p.clamps, from: 'policy', policy };
}

/** A key's own values as grants (no policy). */
export const ownGrants = (r: Pick<KeyRecord, 'scopes' | 'models' | 'limits' | 'clamps'>, from: Grants['from'] = 'key'): Grants => ({ scopes: r.scopes, models: r.models, limits: r.limits, clamps: r.clamps, from, policy: null });

export interface Effective {
  limits: Record<'rpm' | 'tpm' | 'tpd' | 'concurrency', { value: number | null; from: 'key' | 'policy' | 'limits.defaults' }>;
  clamps: Record<(typeof CLAMPS)[number], { value: number; from: 'key' | 'policy' | 'clamps' }>;
  allowRunnerOptions: boolean;
}

/** The limits and clamps the gateway applies under `config` (limits/plan.ts decides, as for requests). */
export function effective(id: string, g: Grants, config: Config): Effective {
  const plan = resolvePlan(id, g.limits, config.limits.defaults);
  const lim = (k: 'rpm' | 'tpm' | 'tpd' | 'concurrency') => ({ value: plan[k], from: g.limits[k] === null ? ('limits.defaults' as const) : g.from });
  const clamps = Object.fromEntries(
    CLAMPS.map((k) => {
      const own = g.clamps[k];
      return [k, own === null || own === undefined ? { value: config.clamps[k], from: 'clamps' } : { value: own, from: g.from }];
    }),
  ) as unknown as Effective['clamps'];
  return { limits: { rpm: lim('rpm'), tpm: lim('tpm'), tpd: lim('tpd'), concurrency: lim('concurrency') }, clamps, allowRunnerOptions: g.clamps.allow_runner_options === true };
}

/** Scopes, models, limits and clamps as stored, and as they apply under `config`. */
export function grantsView(id: string, g: Grants, config: Config): Record<string, unknown> {
  const e = effective(id, g, config);
  const values = (o: Record<string, { value: unknown }>) => Object.fromEntries(Object.entries(o).map(([k, x]) => [k, x.value]));
  return {
    scopes: g.scopes, models: g.models, limits: g.limits, clamps: g.clamps,
    effective_limits: values(e.limits), effective_clamps: { ...values(e.clamps), allow_runner_options: e.allowRunnerOptions },
  };
}

/** Everything about a key except the hash (not a secret, but of no use outside the store). */
export function publicView(r: KeyRecord, g: Grants, config: Config): Record<string, unknown> {
  return {
    id: r.id, name: r.name, kind: r.kind, hint: r.hint, fingerprint: r.fingerprint, public_key: r.publicKey,
    policy: g.policy ? { id: g.policy.id, name: g.policy.name, deleted: g.policy.deleted } : null,
    ...grantsView(r.id, g, config),
    created_at: when(r.createdAt), expires_at: r.expiresAt === null ? null : when(r.expiresAt),
    revoked_at: r.revokedAt === null ? null : when(r.revokedAt), last_used_at: r.lastUsedAt === null ? null : when(r.lastUsedAt),
    status: status(r, Date.now()),
  };
}

/** The rows that say what applies: scopes, models, limits, clamps. */
export function grantRows(id: string, g: Grants, config: Config): string[][] {
  const e = effective(id, g, config);
  const limit = (k: keyof Effective['limits']) => {
    const { value, from } = e.limits[k];
    return `${k}=${value === null ? 'unlimited' : value}${from === 'limits.defaults' ? ' (limits.defaults)' : ''}`;
  };
  const clamp = (k: (typeof CLAMPS)[number]) => {
    const { value, from } = e.clamps[k];
    return `${k}=${k === 'max_keep_alive' ? formatDuration(value) : value}${from === 'clamps' ? ' (config)' : ''}`;
  };
  return [
    ['scopes', g.scopes.length ? g.scopes.join(', ') : 'none'],
    ['models', g.models ? (g.models.length ? g.models.join(', ') : 'none') : 'all'],
    ['limits', (['rpm', 'tpm', 'tpd', 'concurrency'] as const).map(limit).join(', ')],
    ['clamps', [...CLAMPS.map(clamp), `runner options ${e.allowRunnerOptions ? 'allowed' : 'removed'}`].join(', ')],
  ];
}

export function policyLabel(g: Grants): string {
  if (!g.policy) return 'none (the key\'s own scopes, models, limits and clamps)';
  if (g.policy.deleted) return `${g.policy.name ?? g.policy.id} (${g.policy.id}, deleted: the key may do nothing)`;
  return `${g.policy.name} (${g.policy.id}): the scopes, models, limits and clamps below are the policy's`;
}

export function describe(r: KeyRecord, g: Grants, config: Config): string {
  return table([
    ['id', r.id],
    ['name', r.name],
    ['kind', r.kind === 'api_key' ? `API key (${r.hint}…)` : r.kind === 'client_cert' ? `client certificate ${r.fingerprint}` : `SSH key ${r.fingerprint}`],
    ...(r.publicKey ? [['public key', r.publicKey]] : []),
    ...(g.policy ? [['policy', policyLabel(g)]] : []),
    ...grantRows(r.id, g, config),
    ['created', when(r.createdAt)],
    ['expires', r.expiresAt === null ? 'never' : when(r.expiresAt)],
    ['status', status(r, Date.now())],
    ['last used', when(r.lastUsedAt)],
  ]);
}
