import type { KeyRecord, PolicyRecord } from '../store/types.js';

/**
 * Records as the admin API shows them. A key never shows its hash, nor its previous one: only
 * when it was rotated and until when the previous secret works.
 */
export function keyView(r: KeyRecord, now: number): Record<string, unknown> {
  const rot = r.rotation ?? null;
  return {
    id: r.id, name: r.name, kind: r.kind, hint: r.hint, fingerprint: r.fingerprint, publicKey: r.publicKey,
    scopes: r.scopes, models: r.models, limits: r.limits, clamps: r.clamps, policyId: r.policyId,
    createdAt: r.createdAt, expiresAt: r.expiresAt, revokedAt: r.revokedAt, lastUsedAt: r.lastUsedAt, updatedAt: r.updatedAt, version: r.version,
    rotation: rot ? { rotatedAt: rot.rotatedAt, previousValidUntil: rot.previousUntil } : null,
    owner: r.owner ? { id: r.owner.id, issuer: r.owner.issuer, subject: r.owner.subject } : null,
    status: r.revokedAt !== null ? 'revoked' : r.expiresAt !== null && now >= r.expiresAt ? 'expired' : 'active',
  };
}

export function policyView(p: PolicyRecord): Record<string, unknown> {
  return {
    id: p.id, name: p.name, scopes: p.scopes, models: p.models, limits: p.limits, clamps: p.clamps,
    createdAt: p.createdAt, updatedAt: p.updatedAt, deletedAt: p.deletedAt, version: p.version,
  };
}
