import type { Principal, Scope } from '../core/types.js';
import { ModelAllowlist } from '../policy/model-allowlist.js';
import type { KeyOwner, KeyRecord } from '../store/types.js';
import type { ResolvedPolicy } from './policy-cache.js';

/** A principal with its allowlist compiled once, when the key is loaded, not per request. */
export interface ResolvedPrincipal extends Principal {
  readonly allowlist: ModelAllowlist;
  readonly revokedAt: number | null;
  /** The policy the grants came from (id), or null for the key's own. */
  readonly policyId: string | null;
  /** Personal keys: the identity that made it (auth/personal-keys.ts checks it is still mapped). */
  readonly owner?: KeyOwner;
}

/**
 * What a personal key never carries, whatever its owner's policy grants: it uses models, it manages
 * nothing (no gateway administration, no keys of its own, no pull/create/copy/delete/push on the
 * nodes). A leaked laptop key should cost inference, not the model store.
 */
export const NOT_FOR_PERSONAL_KEYS: ReadonlySet<Scope> = new Set<Scope>(['admin', 'admin:keys', 'admin:read', 'keys:self', 'models:manage']);

const NOTHING: ReadonlySet<never> = new Set();
const NO_MODEL = new ModelAllowlist([]);

/**
 * A key with a policy takes the policy's scopes, models, limits and clamps, not its own. When that
 * policy is not known (deleted, or not loaded yet: the next refresh rebuilds the key), the key may
 * do nothing: no scope, no model.
 */
export function principalFromRecord(r: KeyRecord, policy?: ResolvedPolicy): ResolvedPrincipal {
  const grants =
    r.policyId === null
      ? { scopes: new Set(r.scopes), models: r.models, limits: r.limits, clamps: r.clamps, allowlist: new ModelAllowlist(r.models) }
      : policy && policy.id === r.policyId
        ? { scopes: policy.scopes, models: policy.models, limits: policy.limits, clamps: policy.clamps, allowlist: policy.allowlist }
        : { scopes: NOTHING, models: [], limits: r.limits, clamps: r.clamps, allowlist: NO_MODEL };
  const scopes: ReadonlySet<Scope> = r.owner && [...grants.scopes].some((s) => NOT_FOR_PERSONAL_KEYS.has(s)) ? new Set([...grants.scopes].filter((s) => !NOT_FOR_PERSONAL_KEYS.has(s))) : grants.scopes;
  return Object.freeze({
    id: r.id,
    name: r.name,
    kind: r.kind,
    expiresAt: r.expiresAt,
    ...grants,
    scopes,
    ...(r.fingerprint ? { fingerprint: r.fingerprint } : {}),
    revokedAt: r.revokedAt,
    policyId: r.policyId,
    ...(r.owner ? { owner: r.owner } : {}),
  });
}
