import type { z } from 'zod';
import { generateApiKey } from '../auth/api-key.js';
import { refuse } from '../core/errors.js';
import { newKeyId } from '../core/ids.js';
import type { Principal } from '../core/types.js';
import type { KeyOwner, KeyRecord } from '../store/types.js';
import type { AdminDeps, AdminHandler } from './context.js';
import { conflict, notFound } from './refusals.js';
import type { MyKeyCreate } from './schemas.js';
import { keyView } from './views.js';

/**
 * Self-service keys (`/admin/v1/me/keys`, scope `keys:self`): a person signed in with their
 * identity provider makes API keys for themselves, for tools that cannot fetch a token (an editor
 * plugin, a notebook). A personal key is bounded by its owner's policy (it takes that policy, and
 * never `admin`, `keys:self` or `models:manage`: auth/principal.ts), tied to the owner's issuer and subject, and
 * works only while a rule of that issuer still gives the policy (auth/personal-keys.ts).
 *
 * Only an identity (a JWT) may make one: a key making keys would outlive whoever holds it. Each
 * owner sees and revokes only their own keys; anyone else's answer 404, as if absent.
 */

/** Live (not revoked, not expired) personal keys one identity may hold. */
export const MAX_PERSONAL_KEYS = 20;
/** A personal key expires: 90 days unless asked otherwise, one year at most. */
export const PERSONAL_KEY_DEFAULT_TTL_MS = 90 * 86_400_000;
export const PERSONAL_KEY_MAX_TTL_MS = 365 * 86_400_000;

const NO_LIMITS = { rpm: null, tpm: null, tpd: null, concurrency: null };
const now = (d: AdminDeps): number => (d.now ?? Date.now)();

interface Identity {
  owner: KeyOwner;
  policyId: string;
}

/** The caller as an identity with a policy, or the refusal that says what a personal key needs. */
function identity(p: Principal): Identity {
  const policyId = (p as Principal & { policyId?: string | null }).policyId;
  if (p.kind !== 'oidc' || !p.issuer || !p.subject || !policyId) {
    throw refuse('GW_ERR_SCOPE_MISSING', `personal keys are made by people signed in with their identity provider: call /admin/v1/me/keys with a JWT from an issuer under auth.oidc, not with a ${p.kind.replace('_', ' ')}; an operator makes other keys with POST /admin/v1/keys or \`gatehouse keys create\``);
  }
  return { owner: { id: p.id, issuer: p.issuer, subject: p.subject }, policyId };
}

const mine = (r: KeyRecord, who: Identity): boolean => r.owner?.id === who.owner.id;
const live = (r: KeyRecord, t: number): boolean => r.revokedAt === null && (r.expiresAt === null || r.expiresAt > t);

export const listMyKeys: AdminHandler = async (d, r) => {
  const who = identity(r.principal);
  const t = now(d);
  return { status: 200, body: { keys: (await d.keys.list()).filter((k) => mine(k, who)).map((k) => keyView(k, t)) } };
};

export const createMyKey: AdminHandler = async (d, r) => {
  const who = identity(r.principal);
  const b = r.body as z.output<typeof MyKeyCreate>;
  const t = now(d);
  const expiresAt = b.expiresAt ?? t + PERSONAL_KEY_DEFAULT_TTL_MS;
  if (expiresAt <= t) throw refuse('GW_ERR_ADMIN_INVALID', `expiresAt: ${new Date(expiresAt).toISOString()} is not in the future; give a later time (ms since the epoch), or leave it out for 90 days`);
  if (expiresAt > t + PERSONAL_KEY_MAX_TTL_MS) throw refuse('GW_ERR_ADMIN_INVALID', `expiresAt: a personal key lasts one year at most; give a time before ${new Date(t + PERSONAL_KEY_MAX_TTL_MS).toISOString()}`);
  const own = (await d.keys.list()).filter((k) => mine(k, who));
  const same = own.find((k) => k.name === b.name && k.revokedAt === null);
  if (same) throw conflict(`you already have a key named "${b.name}" (${same.id}); choose another name, or revoke that one first (POST /admin/v1/me/keys/${same.id}/revoke)`);
  const active = own.filter((k) => live(k, t)).length;
  if (active >= MAX_PERSONAL_KEYS) throw conflict(`you have ${active} personal keys, the most one identity may hold; revoke one you no longer use (POST /admin/v1/me/keys/{id}/revoke)`);
  const k = generateApiKey();
  const rec = await d.keys.create({
    id: newKeyId(), name: b.name, kind: 'api_key', hash: k.hash, hint: k.hint, fingerprint: null, publicKey: null,
    // Its grants are the owner's policy, followed live; it stores none of its own.
    scopes: [], models: [], limits: { ...NO_LIMITS }, clamps: {},
    expiresAt, policyId: who.policyId, owner: who.owner,
  }, r.by);
  return { status: 201, body: { key: keyView(rec, t), secret: k.key } };
};

export const revokeMyKey: AdminHandler = async (d, r) => {
  const who = identity(r.principal);
  const ref = r.params.id!;
  // Only among your own keys, by id or by a name you gave one key that is not revoked: someone
  // else's key, or an operator's, is answered as absent (its existence is not yours to learn).
  const own = (await d.keys.list()).filter((k) => mine(k, who));
  const byId = own.find((k) => k.id === ref);
  const byName = own.filter((k) => k.name === ref && k.revokedAt === null);
  const rec = byId ?? (byName.length === 1 ? byName[0] : undefined);
  if (!rec) throw notFound(`personal key "${r.params.id}"`, 'list yours with GET /admin/v1/me/keys and revoke by id');
  return { status: 200, body: keyView(await d.keys.revoke(rec.id, r.by), now(d)) };
};
