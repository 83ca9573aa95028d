import type { z } from 'zod';
import { generateApiKey } from '../auth/api-key.js';
import { parseDuration } from '../config/units.js';
import { refuse } from '../core/errors.js';
import { newKeyId } from '../core/ids.js';
import { DEFAULT_SCOPES, type Scope } from '../core/types.js';
import type { KeyPatch, KeyRecord, PolicyRecord } from '../store/types.js';
import type { AdminDeps, AdminHandler } from './context.js';
import { conflict, notFound } from './refusals.js';
import type { KeyCreate, KeyRotate, KeyUpdate } from './schemas.js';
import { keyView } from './views.js';

/**
 * Keys through the admin API, with the CLI's rules (cli/commands/keys.ts): names unique, a key
 * with a policy sets no grants of its own, the secret generated here and shown once. Only API
 * keys are created here (SSH and certificate keys: `gatehouse keys add-ssh` / `add-cert`).
 */

/** How long a rotated key's previous secret works when the request does not say. */
export const DEFAULT_OVERLAP = '24h';
const NO_LIMITS = { rpm: null, tpm: null, tpd: null, concurrency: null };
const now = (d: AdminDeps): number => (d.now ?? Date.now)();

export async function findKey(d: AdminDeps, idOrName: string): Promise<KeyRecord> {
  let rec: KeyRecord | null;
  try {
    rec = await d.keys.find(idOrName);
  } catch (err) {
    throw conflict((err as Error).message); // a name two keys share
  }
  if (!rec) throw notFound(`key "${idOrName}"`, 'list them with GET /admin/v1/keys');
  return rec;
}

async function mustBeFreeName(d: AdminDeps, name: string): Promise<void> {
  const taken = (await d.keys.list()).find((r) => r.name === name);
  if (taken) throw conflict(`a key named "${name}" already exists (${taken.id}); names must be unique: choose another, or rename that one first (PATCH /admin/v1/keys/${taken.id})`);
}

async function livePolicy(d: AdminDeps, idOrName: string): Promise<PolicyRecord> {
  const p = await d.policies.find(idOrName);
  if (!p || p.deletedAt !== null) throw notFound(`policy "${idOrName}"${p ? ' (it was deleted)' : ''}`, 'list them with GET /admin/v1/policies');
  return p;
}

/** As the CLI's --expires: an expiry must be in the future (null = never). */
function futureExpiry(d: AdminDeps, at: number | null | undefined): void {
  if (at !== null && at !== undefined && at <= now(d)) throw refuse('GW_ERR_ADMIN_INVALID', `expiresAt: ${new Date(at).toISOString()} is not in the future; give a later time (ms since the epoch) or null for no expiry`);
}

function refuseOwnGrants(b: { scopes?: unknown; models?: unknown; limits?: unknown; clamps?: unknown }, why: string): void {
  const given = (['scopes', 'models', 'limits', 'clamps'] as const).filter((k) => b[k] !== undefined);
  if (given.length) throw refuse('GW_ERR_ADMIN_INVALID', `${given.join(', ')}: ${why}; change the policy instead (PATCH /admin/v1/policies/{id}), or set "policy": null`);
}

export const listKeys: AdminHandler = async (d) => {
  const t = now(d);
  return { status: 200, body: { keys: (await d.keys.list()).map((r) => keyView(r, t)) } };
};

export const showKey: AdminHandler = async (d, r) => ({ status: 200, body: keyView(await findKey(d, r.params.id!), now(d)) });

export const createKey: AdminHandler = async (d, r) => {
  const b = r.body as z.output<typeof KeyCreate>;
  futureExpiry(d, b.expiresAt);
  await mustBeFreeName(d, b.name);
  const policy = b.policy ? await livePolicy(d, b.policy) : null;
  if (policy) refuseOwnGrants(b, `a key with a policy takes its scopes, models, limits and clamps from policy "${policy.name}"`);
  const k = generateApiKey();
  const rec = await d.keys.create({
    id: newKeyId(), name: b.name, kind: 'api_key', hash: k.hash, hint: k.hint, fingerprint: null, publicKey: null,
    // A key with a policy stores no grants of its own (as the CLI does).
    scopes: policy ? [] : ((b.scopes as Scope[] | undefined) ?? [...DEFAULT_SCOPES]),
    models: policy ? [] : (b.models ?? null),
    limits: { ...NO_LIMITS, ...b.limits },
    clamps: b.clamps ?? {},
    expiresAt: b.expiresAt ?? null,
    policyId: policy?.id ?? null,
  }, r.by);
  return { status: 201, body: { key: keyView(rec, now(d)), secret: k.key } };
};

export const updateKey: AdminHandler = async (d, r) => {
  const b = r.body as z.output<typeof KeyUpdate>;
  futureExpiry(d, b.expiresAt);
  const rec = await findKey(d, r.params.id!);
  const patch: KeyPatch = {};
  if (b.name !== undefined && b.name !== rec.name) {
    await mustBeFreeName(d, b.name);
    patch.name = b.name;
  }
  if (b.expiresAt !== undefined) patch.expiresAt = b.expiresAt;
  const policyAfter = b.policy === undefined ? rec.policyId : b.policy === null ? null : (await livePolicy(d, b.policy)).id;
  if (policyAfter !== null) refuseOwnGrants(b, `key "${rec.name}" takes its scopes, models, limits and clamps from its policy`);
  if (policyAfter !== rec.policyId) patch.policyId = policyAfter;
  if (b.scopes !== undefined) patch.scopes = b.scopes as Scope[];
  if (b.models !== undefined) patch.models = b.models;
  if (b.limits !== undefined) patch.limits = { ...rec.limits, ...b.limits };
  if (b.clamps !== undefined) patch.clamps = b.clamps;
  const next = Object.keys(patch).length ? await d.keys.update(rec.id, patch, r.by) : rec;
  return { status: 200, body: keyView(next, now(d)) };
};

export const revokeKey: AdminHandler = async (d, r) => {
  const rec = await findKey(d, r.params.id!);
  return { status: 200, body: keyView(await d.keys.revoke(rec.id, r.by), now(d)) };
};

export const rotateKey: AdminHandler = async (d, r) => {
  const b = r.body as z.output<typeof KeyRotate>;
  const overlapMs = parseDuration(b.overlap ?? DEFAULT_OVERLAP);
  if (overlapMs === null) throw refuse('GW_ERR_ADMIN_INVALID', `overlap: "${b.overlap}" is not a duration; use e.g. "24h", "30m", "2s" or "0" (the old secret stops at once)`);
  const rec = await findKey(d, r.params.id!);
  const k = generateApiKey();
  const next = await d.keys.rotate(rec.id, { hash: k.hash, hint: k.hint, overlapMs }, r.by);
  return { status: 200, body: { key: keyView(next, now(d)), secret: k.key } };
};
