import { DEFAULT_SCOPES } from '../../core/types.js';
import type { Config } from '../../config/schema.js';
import { randomBase62 } from '../../core/ids.js';
import type { Stores } from '../../store/index.js';
import { PolicyInUseError, type Actor, type KeyRecord, type PolicyPatch, type PolicyRecord } from '../../store/types.js';
import { configFrom, parse, UsageError } from '../args.js';
import { table, when } from '../output.js';
import { cliActor, openCommandStores, storeLine } from '../store.js';
import { parseClamps, parseLimits, parseModels, parseScopes, str } from './keys-parse.js';
import { grantRows, grantsView, ownGrants } from './keys-view.js';
import { POLICIES_HELP, POLICY_VERBS } from './policies-help.js';

export { POLICIES_HELP };

type Values = Record<string, string | boolean | undefined>;

interface Ctx {
  stores: Stores;
  config: Config;
  where: string;
  by: Actor;
}

export async function policiesCommand(argv: string[]): Promise<number> {
  const sub = argv[0];
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(POLICIES_HELP);
    return sub ? 0 : 2;
  }
  const verb = Object.hasOwn(POLICY_VERBS, sub) ? POLICY_VERBS[sub] : undefined;
  if (!verb) throw new UsageError(`unknown policies subcommand "${sub}"; the subcommands are ${Object.keys(POLICY_VERBS).join(', ')} (see gatehouse policies --help)`);
  const { values, positionals } = parse(argv.slice(1), verb.options, verb.positionals, `gatehouse policies ${sub}`);
  if (values.help) {
    console.log(verb.help);
    return 0;
  }
  if (positionals.length < verb.positionals) throw new UsageError(`usage: gatehouse policies ${verb.usage}`);
  const loaded = configFrom(values);
  const stores = await openCommandStores(values, loaded, `policies ${sub}`);
  const c: Ctx = { stores, config: loaded.config, where: storeLine(stores, loaded), by: cliActor() };
  const v = values as Values;
  try {
    switch (sub) {
      case 'list':
        return await list(c, !!v.json);
      case 'show':
        return await show(c, positionals[0]!, !!v.json);
      case 'create':
        return await create(c, positionals[0]!, v);
      case 'update':
        return await update(c, positionals[0]!, v);
      default:
        return await remove(c, positionals[0]!, !!v.json);
    }
  } finally {
    await stores.close();
  }
}

/** Names may end up in identity claims and URLs: plain words only; `pol_` is how ids start. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function checkName(name: string): string {
  if (!NAME.test(name)) throw new UsageError(`policy name "${name}": use letters, digits, '.', '_' and '-' (up to 64, starting with a letter or digit)`);
  if (name.startsWith('pol_')) throw new UsageError(`policy name "${name}": names cannot start with pol_ (that is how policy ids start)`);
  return name;
}

async function create(c: Ctx, name: string, v: Values): Promise<number> {
  checkName(name);
  const p = await c.stores.policies.create({
    id: `pol_${randomBase62(12)}`,
    name,
    scopes: v.scopes !== undefined ? parseScopes(str(v.scopes)!) : [...DEFAULT_SCOPES],
    models: v.models !== undefined ? parseModels(str(v.models)!) : null,
    limits: parseLimits(v, { rpm: null, tpm: null, tpd: null, concurrency: null }, c.config),
    clamps: parseClamps(v, {}, c.config),
  }, c.by).catch(asUsage);
  if (v.json) console.log(JSON.stringify({ ...view(p, [], c.config), store: c.where }));
  else console.log(`Created policy ${p.id} ("${p.name}") in the ${c.where}\nKeys take it with: gatehouse keys create --name NAME --policy ${p.name} (or keys update ID --policy ${p.name})\n\n${describe(p, [], c.config)}`);
  return 0;
}

async function update(c: Ctx, nameOrId: string, v: Values): Promise<number> {
  const p = await mustFind(c, nameOrId);
  const patch: PolicyPatch = {};
  if (v.name !== undefined && str(v.name) !== p.name) patch.name = checkName(str(v.name)!);
  if (v.scopes !== undefined) patch.scopes = parseScopes(str(v.scopes)!);
  if (v.models !== undefined) patch.models = parseModels(str(v.models)!);
  const limits = parseLimits(v, p.limits, c.config);
  if (JSON.stringify(limits) !== JSON.stringify(p.limits)) patch.limits = limits;
  const clamps = parseClamps(v, p.clamps, c.config);
  if (JSON.stringify(clamps) !== JSON.stringify(p.clamps)) patch.clamps = clamps;
  const changes = Object.keys(patch).filter((k) => JSON.stringify(patch[k as keyof PolicyPatch]) !== JSON.stringify(p[k as keyof PolicyPatch]));
  if (changes.length === 0) throw new UsageError('nothing to update: give at least one of --name, --scopes, --models or a limit or clamp that differs from the policy\'s');
  const next = await c.stores.policies.update(p.id, patch, c.by).catch(asUsage);
  const users = await usersOf(c, p.id);
  if (v.json) console.log(JSON.stringify({ ...view(next, users, c.config), store: c.where }));
  else console.log(`Updated policy ${next.id} ("${next.name}") in the ${c.where}; ${count(users)} use${users.length === 1 ? 's' : ''} it, and a running gateway applies the change to ${users.length === 1 ? 'it' : 'them'} within a second.\n\n${describe(next, users, c.config)}`);
  return 0;
}

async function remove(c: Ctx, nameOrId: string, json: boolean): Promise<number> {
  const p = await mustFind(c, nameOrId);
  let gone: PolicyRecord;
  try {
    gone = await c.stores.policies.delete(p.id, c.by);
  } catch (err) {
    if (!(err instanceof PolicyInUseError)) throw err;
    const users = await usersOf(c, p.id);
    throw new UsageError(`${err.message}. Nothing was deleted.\nKeys using it: ${users.map((k) => `${k.name} (${k.id})`).join(', ')}`);
  }
  console.log(json ? JSON.stringify({ id: gone.id, name: gone.name, deleted_at: when(gone.deletedAt), store: c.where }) : `Deleted policy ${gone.id} ("${gone.name}") from the ${c.where}.`);
  return 0;
}

async function list(c: Ctx, json: boolean): Promise<number> {
  const all = await c.stores.policies.list();
  const keys = (await c.stores.keys.list()).filter((k) => k.revokedAt === null && k.policyId !== null);
  const usersOfP = (p: PolicyRecord) => keys.filter((k) => k.policyId === p.id);
  if (json) {
    console.log(JSON.stringify(all.map((p) => view(p, usersOfP(p), c.config))));
    return 0;
  }
  if (all.length === 0) {
    console.log(`no policies in the ${c.where} (create one with: gatehouse policies create NAME --scopes .. --models ..)`);
    return 0;
  }
  const lim = (p: PolicyRecord) => (['rpm', 'tpm', 'tpd', 'concurrency'] as const).filter((k) => p.limits[k] !== null).map((k) => `${k}=${p.limits[k]}`).join(',') || '-';
  console.log(table([
    ['NAME', 'ID', 'SCOPES', 'MODELS', 'LIMITS', 'KEYS', 'UPDATED'],
    ...all.map((p) => [p.name, p.id, p.scopes.join(','), p.models ? p.models.join(',') : '*', lim(p), String(usersOfP(p).length), when(p.updatedAt)]),
  ]));
  return 0;
}

async function show(c: Ctx, nameOrId: string, json: boolean): Promise<number> {
  const p = await mustFind(c, nameOrId);
  const users = await usersOf(c, p.id);
  console.log(json ? JSON.stringify(view(p, users, c.config)) : describe(p, users, c.config));
  return 0;
}

/** Keys that are not revoked and use the policy: the ones it governs (and that keep it from being deleted). */
async function usersOf(c: Ctx, id: string): Promise<KeyRecord[]> {
  return (await c.stores.keys.list()).filter((k) => k.policyId === id && k.revokedAt === null);
}

function view(p: PolicyRecord, users: KeyRecord[], config: Config): Record<string, unknown> {
  return {
    id: p.id, name: p.name, ...grantsView(p.id, ownGrants(p, 'policy'), config),
    keys: users.length, key_names: users.map((k) => k.name), created_at: when(p.createdAt), updated_at: when(p.updatedAt),
  };
}

function describe(p: PolicyRecord, users: KeyRecord[], config: Config): string {
  const shown = users.slice(0, 10).map((k) => k.name).join(', ');
  return table([
    ['id', p.id],
    ['name', p.name],
    ...grantRows(p.id, ownGrants(p, 'policy'), config),
    ['keys', users.length === 0 ? 'none' : `${count(users)}: ${shown}${users.length > 10 ? ', …' : ''}`],
    ['created', when(p.createdAt)],
    ['updated', when(p.updatedAt)],
  ]);
}

const count = (users: readonly unknown[]): string => `${users.length} key${users.length === 1 ? '' : 's'}`;

async function mustFind(c: Ctx, nameOrId: string): Promise<PolicyRecord> {
  const p = await c.stores.policies.find(nameOrId);
  if (!p || p.deletedAt !== null) throw new UsageError(`no policy "${nameOrId}"${p ? ' (it was deleted)' : ''} (see gatehouse policies list)`);
  return p;
}

/** The store's refusals a person can fix (a name in use) are usage errors. */
function asUsage(err: unknown): never {
  if (err instanceof Error && /already exists/.test(err.message)) throw new UsageError(err.message);
  throw err;
}
