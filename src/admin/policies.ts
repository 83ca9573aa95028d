import type { z } from 'zod';
import { refuse } from '../core/errors.js';
import { randomBase62 } from '../core/ids.js';
import { DEFAULT_SCOPES, type Scope } from '../core/types.js';
import type { PolicyPatch, PolicyRecord } from '../store/types.js';
import type { AdminDeps, AdminHandler } from './context.js';
import { notFound } from './refusals.js';
import type { PolicyCreate, PolicyListQuery, PolicyUpdate } from './schemas.js';
import { policyView } from './views.js';

/** Policies through the admin API, with the CLI's rules (cli/commands/policies.ts). */

/** Names may end up in identity claims and URLs: plain words only; `pol_` is how ids start. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NO_LIMITS = { rpm: null, tpm: null, tpd: null, concurrency: null };

function checkName(name: string): string {
  if (!NAME.test(name)) throw refuse('GW_ERR_ADMIN_INVALID', `name: "${name}": use letters, digits, '.', '_' and '-' (up to 64, starting with a letter or digit)`);
  if (name.startsWith('pol_')) throw refuse('GW_ERR_ADMIN_INVALID', `name: "${name}": names cannot start with pol_ (that is how policy ids start)`);
  return name;
}

async function findPolicy(d: AdminDeps, idOrName: string): Promise<PolicyRecord> {
  const p = await d.policies.find(idOrName);
  if (!p) throw notFound(`policy "${idOrName}"`, 'list them with GET /admin/v1/policies');
  return p;
}

export const listPolicies: AdminHandler = async (d, r) => ({
  status: 200,
  body: { policies: (await d.policies.list({ includeDeleted: (r.query as z.output<typeof PolicyListQuery>).deleted === 'true' })).map(policyView) },
});

export const showPolicy: AdminHandler = async (d, r) => ({ status: 200, body: policyView(await findPolicy(d, r.params.id!)) });

export const createPolicy: AdminHandler = async (d, r) => {
  const b = r.body as z.output<typeof PolicyCreate>;
  const p = await d.policies.create({
    id: `pol_${randomBase62(12)}`,
    name: checkName(b.name),
    scopes: (b.scopes as Scope[] | undefined) ?? [...DEFAULT_SCOPES],
    models: b.models ?? null,
    limits: { ...NO_LIMITS, ...b.limits },
    clamps: b.clamps ?? {},
  }, r.by);
  return { status: 201, body: policyView(p) };
};

export const updatePolicy: AdminHandler = async (d, r) => {
  const b = r.body as z.output<typeof PolicyUpdate>;
  const p = await findPolicy(d, r.params.id!);
  if (p.deletedAt !== null) throw notFound(`policy "${r.params.id}" (it was deleted)`, 'create a new one with POST /admin/v1/policies');
  const patch: PolicyPatch = {};
  if (b.name !== undefined && b.name !== p.name) patch.name = checkName(b.name);
  if (b.scopes !== undefined) patch.scopes = b.scopes as Scope[];
  if (b.models !== undefined) patch.models = b.models;
  if (b.limits !== undefined) patch.limits = { ...p.limits, ...b.limits };
  if (b.clamps !== undefined) patch.clamps = b.clamps;
  const next = Object.keys(patch).length ? await d.policies.update(p.id, patch, r.by) : p;
  return { status: 200, body: policyView(next) };
};

export const deletePolicy: AdminHandler = async (d, r) => {
  const p = await findPolicy(d, r.params.id!);
  return { status: 200, body: policyView(await d.policies.delete(p.id, r.by)) };
};
