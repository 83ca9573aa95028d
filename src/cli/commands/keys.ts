import { readFileSync } from 'node:fs';
import { generateApiKey } from '../../auth/api-key.js';
import { describePublicKeyLineFailure, formatPublicKeyLine, parsePublicKeyLine } from '../../auth/ssh/public-key.js';
import { certRegistration } from './keys-cert.js';
import { newKeyId } from '../../core/ids.js';
import { DEFAULT_SCOPES } from '../../core/types.js';
import { KeyNotRotatableError, type Actor, type KeyPatch, type KeyRecord, type NewKey, type PolicyRecord } from '../../store/types.js';
import type { Stores } from '../../store/index.js';
import type { Config } from '../../config/schema.js';
import { configFrom, parse, UsageError } from '../args.js';
import { table, when } from '../output.js';
import { parseClamps, parseExpiry, parseLimits, parseModels, parseScopes, str } from './keys-parse.js';
import { describe, grantsOf, publicView, status, type Grants } from './keys-view.js';
import { cliActor, isRemote, openCommandStores, storeLine } from '../store.js';
import type { RemoteStores } from '../remote-stores.js';
import { DEFAULT_OVERLAP } from '../../admin/keys.js';
import { parseDuration } from '../../config/units.js';
import { GRANT_FLAGS, KEYS_HELP, VERBS } from './keys-help.js';

export { KEYS_HELP };

export async function keysCommand(argv: string[]): Promise<number> {
  const sub = argv[0];
  const rest = argv.slice(1);
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(KEYS_HELP);
    return sub ? 0 : 2;
  }
  const verb = Object.hasOwn(VERBS, sub) ? VERBS[sub] : undefined;
  if (!verb) throw new UsageError(`unknown keys subcommand "${sub}"; the subcommands are ${Object.keys(VERBS).join(', ')} (see gatehouse keys --help)`);
  const { values, positionals } = parse(rest, verb.options, verb.positionals, `gatehouse keys ${sub}`);
  if (values.help) {
    console.log(verb.help);
    return 0;
  }
  if (positionals.length < verb.positionals) throw new UsageError(`usage: gatehouse keys ${verb.usage}`);
  const loaded = configFrom(values);
  const { config } = loaded;
  const creates = sub === 'create' || sub === 'add-ssh' || sub === 'add-cert';
  const stores = await openCommandStores(values, loaded, `keys ${sub}`, { explicitDataDir: creates && values['data-dir'] !== undefined });
  const ctx: Ctx = { store: stores.keys, policies: stores.policies, config, where: storeLine(stores, loaded), by: cliActor(), remote: isRemote(stores) ? stores : null };
  const v = values as Values;
  try {
    switch (sub) {
      case 'create':
        return await create(ctx, v, false);
      case 'add-ssh':
        return await create(ctx, v, true);
      case 'add-cert':
        return await create(ctx, v, 'cert');
      case 'list':
        return await list(ctx, !!v.json);
      case 'show':
        return await show(ctx, positionals[0]!, !!v.json);
      case 'update':
        return await update(ctx, positionals[0]!, v);
      case 'rotate':
        return await rotate(ctx, positionals[0]!, v);
      default:
        return await revoke(ctx, positionals[0]!, !!v.json);
    }
  } finally {
    await stores.close();
  }
}

type KeyStoreT = Stores['keys'];

interface Ctx {
  store: Stores['keys'];
  policies: Stores['policies'];
  config: Config;
  /** Which store this command works on, printed with every change. */
  where: string;
  by: Actor;
  /** --url: the gateway's admin API, which generates secrets itself; null for the local store. */
  remote: RemoteStores | null;
}

type Values = Record<string, string | boolean | undefined>;

async function create(c: Ctx, v: Values, ssh: boolean | 'cert'): Promise<number> {
  const name = str(v.name);
  if (!name) throw new UsageError('--name is required');
  await mustBeFreeName(c.store, name);
  const policy = v.policy !== undefined ? await mustFindPolicy(c, str(v.policy)!) : null;
  if (policy) refuseGrantFlags(v, `a key with --policy takes its scopes, models, limits and clamps from policy "${policy.name}"`, `change the policy instead (gatehouse policies update ${policy.name} ...), or create the key without --policy`);
  const common = {
    id: newKeyId(),
    name,
    // A key with a policy stores no grants of its own: nothing, should it ever be read.
    scopes: policy ? [] : v.scopes !== undefined ? parseScopes(str(v.scopes)!) : [...DEFAULT_SCOPES],
    models: policy ? [] : v.models !== undefined ? parseModels(str(v.models)!) : null,
    limits: parseLimits(v, { rpm: null, tpm: null, tpd: null, concurrency: null }, c.config),
    clamps: parseClamps(v, {}, c.config),
    expiresAt: v.expires !== undefined ? parseExpiry(str(v.expires)!) : null,
    policyId: policy?.id ?? null,
  };
  const out = (rec: KeyRecord, extra: Record<string, unknown>, lines: string[]) => {
    const g = grantsOf(rec, new Map(policy ? [[policy.id, policy]] : []));
    if (v.json) console.log(JSON.stringify({ ...publicView(rec, g, c.config), ...extra, store: c.where }));
    else console.log(`${lines.join('\n')}\n\n${describe(rec, g, c.config)}\n\nWritten to the ${c.where}.`);
    return 0;
  };
  if (!ssh) {
    const { rec, key } = await issueApiKey(c, common);
    return out(rec, { key }, [
      `Created API key ${rec.id} ("${rec.name}")\n\n  ${key}\n`,
      'This is the only time the key is shown: store it now. Use it as "Authorization: Bearer <key>"',
      '(OpenAI SDKs: api_key=<key>; Anthropic SDKs: x-api-key; ollama-python: OLLAMA_API_KEY=<key>).',
    ]);
  }
  if (ssh === 'cert') {
    const reg = certRegistration({ certFile: str(v['cert-file']), subject: str(v.subject), match: str(v.match) }, c.config.tls);
    if ('error' in reg) throw new UsageError(reg.error);
    const dup = (await c.store.list()).find((r) => r.fingerprint === reg.fingerprint);
    if (dup) throw new UsageError(`${reg.fingerprint} is already registered as ${dup.id} ("${dup.name}")`);
    const rec = await c.store.create({ ...common, kind: 'client_cert', hash: null, hint: null, fingerprint: reg.fingerprint, publicKey: reg.summary }, c.by);
    return out(rec, { notes: reg.notes }, [
      `Registered client certificate ${rec.id} ("${rec.name}") by ${reg.match}: ${rec.fingerprint}\n`,
      ...reg.notes.map((n) => `note: ${n}`),
      'The holder sends no API key, only its certificate: curl --cert CERT.pem --key KEY.pem https://<gateway>/api/tags',
    ]);
  }
  const lineText = v['pubkey-file'] !== undefined ? readFileSync(str(v['pubkey-file'])!, 'utf8').trim().split('\n')[0] ?? '' : str(v.pubkey);
  if (!lineText) throw new UsageError('add-ssh needs --pubkey-file FILE or --pubkey "ssh-ed25519 AAAA..."');
  const pk = parsePublicKeyLine(lineText);
  if (!pk.ok) throw new UsageError(`not a usable public key: ${describePublicKeyLineFailure(pk)}`);
  const existing = (await c.store.list()).find((r) => r.fingerprint === pk.fingerprint);
  if (existing) throw new UsageError(`key ${pk.fingerprint} is already registered as ${existing.id} ("${existing.name}")`);
  const rec = await c.store.create({ ...common, kind: 'ssh_key', hash: null, hint: null, fingerprint: pk.fingerprint, publicKey: formatPublicKeyLine(pk.rawKey) }, c.by);
  return out(rec, {}, [
    `Registered SSH key ${rec.id} ("${rec.name}") ${rec.fingerprint}\n`,
    'The holder can now run:  OLLAMA_HOST=<gateway URL> OLLAMA_AUTH=1 ollama run <model>',
  ]);
}

async function list(c: Ctx, json: boolean): Promise<number> {
  const all = await c.store.list();
  const policies = await policyMap(c);
  if (json) {
    console.log(JSON.stringify(all.map((r) => publicView(r, grantsOf(r, policies), c.config))));
    return 0;
  }
  if (all.length === 0) {
    console.log(`no keys in the ${c.where} (create one with: gatehouse keys create --name NAME)`);
    return 0;
  }
  const now = Date.now();
  console.log(
    table([
      ['ID', 'NAME', 'KIND', 'KEY', 'POLICY', 'SCOPES', 'MODELS', 'STATUS', 'LAST USED'],
      ...all.map((r) => {
        const g = grantsOf(r, policies);
        const policy = g.policy ? `${g.policy.name ?? g.policy.id}${g.policy.deleted ? ' (deleted)' : ''}` : '-';
        const models = g.models ? (g.models.length ? g.models.join(',') : '-') : '*';
        return [r.id, r.name, r.kind === 'api_key' ? 'api' : r.kind === 'client_cert' ? 'cert' : 'ssh', r.hint ? `${r.hint}…` : (r.fingerprint ?? ''), policy, g.scopes.join(',') || '-', models, status(r, now), when(r.lastUsedAt)];
      }),
    ]),
  );
  return 0;
}

async function show(c: Ctx, id: string, json: boolean): Promise<number> {
  const rec = await mustFind(c.store, id);
  const g = grantsOf(rec, await policyMap(c));
  console.log(json ? JSON.stringify(publicView(rec, g, c.config)) : describe(rec, g, c.config));
  return 0;
}

async function update(c: Ctx, id: string, v: Values): Promise<number> {
  const rec = await mustFind(c.store, id);
  const patch: KeyPatch = {};
  if (v.name !== undefined && str(v.name) !== rec.name) {
    await mustBeFreeName(c.store, str(v.name)!);
    patch.name = str(v.name)!;
  }
  if (v.expires !== undefined) patch.expiresAt = parseExpiry(str(v.expires)!);
  if (v.policy !== undefined && v['no-policy']) throw new UsageError('--policy and --no-policy contradict each other: give one');
  const policies = await policyMap(c);
  // The grants the key's own values start from: its own, or, when it leaves its policy, the policy's.
  let own: Pick<KeyRecord, 'scopes' | 'models' | 'limits' | 'clamps'> = rec;
  if (v.policy !== undefined) {
    const p = await mustFindPolicy(c, str(v.policy)!);
    refuseGrantFlags(v, `with --policy the key takes its scopes, models, limits and clamps from policy "${p.name}"`, `change the policy instead (gatehouse policies update ${p.name} ...)`);
    if (p.id !== rec.policyId) patch.policyId = p.id;
    policies.set(p.id, p);
  } else if (v['no-policy']) {
    if (rec.policyId === null) throw new UsageError(`key "${rec.name}" has no policy`);
    const p = policies.get(rec.policyId);
    if (p && p.deletedAt === null) own = p;
    patch.policyId = null;
  } else if (rec.policyId !== null) {
    const name = policies.get(rec.policyId)?.name ?? rec.policyId;
    refuseGrantFlags(v, `key "${rec.name}" takes its scopes, models, limits and clamps from policy "${name}"`, `change the policy (gatehouse policies update ${name} ...), or give the key its own with --no-policy`);
  }
  const scopes = v.scopes !== undefined ? parseScopes(str(v.scopes)!) : own.scopes;
  const models = v.models !== undefined ? parseModels(str(v.models)!) : own.models;
  const limits = parseLimits(v, own.limits, c.config);
  const clamps = parseClamps(v, own.clamps, c.config);
  for (const [k, value] of [['scopes', scopes], ['models', models], ['limits', limits], ['clamps', clamps]] as const) {
    if (JSON.stringify(value) !== JSON.stringify(rec[k])) (patch as Record<string, unknown>)[k] = value;
  }
  if (Object.keys(patch).length === 0) throw new UsageError('nothing to update: give at least one of --name, --policy, --no-policy, --scopes, --models, --expires or a limit that differs from the key\'s');
  const next = await c.store.update(rec.id, patch, c.by);
  const g = grantsOf(next, policies);
  console.log(v.json ? JSON.stringify({ ...publicView(next, g, c.config), store: c.where }) : `Updated ${next.id} in the ${c.where}\n\n${describe(next, g, c.config)}`);
  return 0;
}

async function revoke(c: Ctx, id: string, json: boolean): Promise<number> {
  const rec = await mustFind(c.store, id);
  const next = await c.store.revoke(rec.id, c.by);
  console.log(json ? JSON.stringify({ ...publicView(next, grantsOf(next, await policyMap(c)), c.config), store: c.where }) : `Revoked ${next.id} ("${next.name}") in the ${c.where}; a running gateway refuses it within a second.`);
  return 0;
}

/** A new API key: generated here for the local store, by the gateway through --url (its secret never travels twice). */
async function issueApiKey(c: Ctx, common: Omit<NewKey, 'kind' | 'hash' | 'hint' | 'fingerprint' | 'publicKey'>): Promise<{ rec: KeyRecord; key: string }> {
  if (c.remote) return c.remote.createApiKey(common);
  const k = generateApiKey();
  const rec = await c.store.create({ ...common, kind: 'api_key', hash: k.hash, hint: k.hint, fingerprint: null, publicKey: null }, c.by);
  return { rec, key: k.key };
}

async function rotate(c: Ctx, id: string, v: Values): Promise<number> {
  const overlap = str(v.overlap) ?? DEFAULT_OVERLAP;
  const overlapMs = parseDuration(overlap);
  if (overlapMs === null) throw new UsageError(`--overlap: "${overlap}" is not a duration (e.g. 24h, 30m, 0)`);
  const rec = await mustFind(c.store, id);
  let next: KeyRecord;
  let key: string;
  try {
    if (c.remote) ({ rec: next, key } = await c.remote.rotateApiKey(rec.id, overlap));
    else {
      const k = generateApiKey();
      next = await c.store.rotate(rec.id, { hash: k.hash, hint: k.hint, overlapMs }, c.by);
      key = k.key;
    }
  } catch (err) {
    if (err instanceof KeyNotRotatableError) throw new UsageError(err.message);
    throw err;
  }
  const until = next.rotation!.previousUntil;
  const g = grantsOf(next, await policyMap(c));
  if (v.json) console.log(JSON.stringify({ ...publicView(next, g, c.config), key, previous_valid_until: when(until), store: c.where }));
  else {
    console.log([
      `Rotated API key ${next.id} ("${next.name}") in the ${c.where}\n\n  ${key}\n`,
      'This is the only time the new secret is shown: store it now.',
      overlapMs === 0 ? 'The old secret is refused from now on (within a second on running gateways).' : `The old secret keeps working until ${when(until)}, then it is refused as rotated.`,
    ].join('\n'));
  }
  return 0;
}

/**
 * Names are how people point at keys (`keys show alice`): two keys with one name make every such
 * command ambiguous, so a name already taken (by any key, revoked ones included) is refused.
 */
async function mustBeFreeName(store: KeyStoreT, name: string): Promise<void> {
  const taken = (await store.list()).find((r) => r.name === name);
  if (!taken) return;
  throw new UsageError(`a key named "${name}" already exists (${taken.id}, ${status(taken, Date.now())}); names must be unique, so that commands can name a key. Choose another --name, or rename the other one: gatehouse keys update ${taken.id} --name ${name}-old`);
}

/** Every policy, deleted ones included (a revoked key may point at one), by id. */
async function policyMap(c: Ctx): Promise<Map<string, PolicyRecord>> {
  return new Map((await c.policies.list({ includeDeleted: true })).map((p) => [p.id, p]));
}

async function mustFindPolicy(c: Ctx, nameOrId: string): Promise<PolicyRecord> {
  const p = await c.policies.find(nameOrId);
  if (!p || p.deletedAt !== null) throw new UsageError(`no policy "${nameOrId}"${p ? ' (it was deleted)' : ''} (see gatehouse policies list)`);
  return p;
}

/** A key with a policy has no grants of its own: a flag that would set one is an error, not ignored. */
function refuseGrantFlags(v: Values, why: string, instead: string): void {
  const given = GRANT_FLAGS.filter((f) => v[f] !== undefined);
  if (given.length) throw new UsageError(`${given.map((f) => `--${f}`).join(', ')}: ${why}; ${instead}`);
}

async function mustFind(store: KeyStoreT, id: string): Promise<KeyRecord> {
  const rec = await store.find(id);
  if (!rec) throw new UsageError(`no key "${id}" (see gatehouse keys list)`);
  return rec;
}
