import type { Principal } from '../core/types.js';
import { ModelAllowlist } from '../policy/model-allowlist.js';
import type { KeyRecord } from '../store/types.js';

/** A principal with its allowlist compiled once, when the key is loaded, not per request. */
export interface ResolvedPrincipal extends Principal {
  readonly allowlist: ModelAllowlist;
  readonly revokedAt: number | null;
}

export function principalFromRecord(r: KeyRecord): ResolvedPrincipal {
  return Object.freeze({
    id: r.id,
    name: r.name,
    kind: r.kind,
    scopes: new Set(r.scopes),
    models: r.models,
    expiresAt: r.expiresAt,
    limits: r.limits,
    clamps: r.clamps,
    ...(r.fingerprint ? { fingerprint: r.fingerprint } : {}),
    allowlist: new ModelAllowlist(r.models),
    revokedAt: r.revokedAt,
  });
}
