import type { Config } from '../../config/schema.js';
import { formatDuration } from '../../config/units.js';
import { resolvePlan } from '../../limits/plan.js';
import type { KeyRecord } from '../../store/types.js';
import { table, when } from '../output.js';

/**
 * How `keys` shows a key: what it is and what applies to it. A key's unset limit or clamp follows
 * the configuration, so what is shown is the effective value and where it comes from, never
 * "default" (which says nothing about how many requests the key may make).
 */

export function status(r: KeyRecord, now: number): string {
  if (r.revokedAt !== null) return 'revoked';
  if (r.expiresAt !== null && now >= r.expiresAt) return 'expired';
  return 'active';
}

const CLAMPS = ['max_num_ctx', 'max_num_predict', 'max_keep_alive', 'max_images', 'max_embed_inputs'] as const;

export interface Effective {
  limits: Record<'rpm' | 'tpm' | 'tpd' | 'concurrency', { value: number | null; from: 'key' | 'limits.defaults' }>;
  clamps: Record<(typeof CLAMPS)[number], { value: number; from: 'key' | 'clamps' }>;
  allowRunnerOptions: boolean;
}

/** The limits and clamps the gateway applies to this key under `config` (limits/plan.ts decides, as for requests). */
export function effective(r: KeyRecord, config: Config): Effective {
  const plan = resolvePlan(r.id, r.limits, config.limits.defaults);
  const lim = (k: 'rpm' | 'tpm' | 'tpd' | 'concurrency') => ({ value: plan[k], from: r.limits[k] === null ? ('limits.defaults' as const) : ('key' as const) });
  const clamps = Object.fromEntries(
    CLAMPS.map((k) => {
      const own = r.clamps[k];
      return [k, own === null || own === undefined ? { value: config.clamps[k], from: 'clamps' } : { value: own, from: 'key' }];
    }),
  ) as unknown as Effective['clamps'];
  return { limits: { rpm: lim('rpm'), tpm: lim('tpm'), tpd: lim('tpd'), concurrency: lim('concurrency') }, clamps, allowRunnerOptions: r.clamps.allow_runner_options === true };
}

/** Everything about a key except the hash (not a secret, but of no use outside the store). */
export function publicView(r: KeyRecord, config: Config): Record<string, unknown> {
  const e = effective(r, config);
  const values = (o: Record<string, { value: unknown }>) => Object.fromEntries(Object.entries(o).map(([k, x]) => [k, x.value]));
  return {
    id: r.id, name: r.name, kind: r.kind, hint: r.hint, fingerprint: r.fingerprint, public_key: r.publicKey,
    scopes: r.scopes, models: r.models, limits: r.limits, clamps: r.clamps,
    effective_limits: values(e.limits), effective_clamps: { ...values(e.clamps), allow_runner_options: e.allowRunnerOptions },
    created_at: when(r.createdAt), expires_at: r.expiresAt === null ? null : when(r.expiresAt),
    revoked_at: r.revokedAt === null ? null : when(r.revokedAt), last_used_at: r.lastUsedAt === null ? null : when(r.lastUsedAt),
    status: status(r, Date.now()),
  };
}

export function describe(r: KeyRecord, config: Config): string {
  const e = effective(r, config);
  const limit = (k: keyof Effective['limits']) => {
    const { value, from } = e.limits[k];
    return `${k}=${value === null ? 'unlimited' : value}${from === 'key' ? '' : ' (limits.defaults)'}`;
  };
  const clamp = (k: (typeof CLAMPS)[number]) => {
    const { value, from } = e.clamps[k];
    return `${k}=${k === 'max_keep_alive' ? formatDuration(value) : value}${from === 'key' ? '' : ' (config)'}`;
  };
  return table([
    ['id', r.id],
    ['name', r.name],
    ['kind', r.kind === 'api_key' ? `API key (${r.hint}…)` : r.kind === 'client_cert' ? `client certificate ${r.fingerprint}` : `SSH key ${r.fingerprint}`],
    ...(r.publicKey ? [['public key', r.publicKey]] : []),
    ['scopes', r.scopes.join(', ')],
    ['models', r.models ? r.models.join(', ') : 'all'],
    ['limits', (['rpm', 'tpm', 'tpd', 'concurrency'] as const).map(limit).join(', ')],
    ['clamps', [...CLAMPS.map(clamp), `runner options ${e.allowRunnerOptions ? 'allowed' : 'removed'}`].join(', ')],
    ['created', when(r.createdAt)],
    ['expires', r.expiresAt === null ? 'never' : when(r.expiresAt)],
    ['status', status(r, Date.now())],
    ['last used', when(r.lastUsedAt)],
  ]);
}
