import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { generateApiKey } from '../../auth/api-key.js';
import { describePublicKeyLineFailure, formatPublicKeyLine, parsePublicKeyLine } from '../../auth/ssh/public-key.js';
import { certRegistration } from '../../auth/client-cert-register.js';
import { newKeyId } from '../../core/ids.js';
import { ALL_SCOPES, DEFAULT_SCOPES, type PrincipalClamps, type PrincipalLimits, type Scope } from '../../core/types.js';
import { formatDuration, parseDuration } from '../../config/units.js';
import { invalidPatterns } from '../../policy/model-allowlist.js';
import { openStores } from '../../store/index.js';
import type { Actor, KeyPatch, KeyRecord } from '../../store/types.js';
import type { Config } from '../../config/schema.js';
import { COMMON_HELP, configFrom, parse, UsageError } from '../args.js';
import { table, when } from '../output.js';

const LIMIT_OPTIONS = {
  rpm: { type: 'string' },
  tpm: { type: 'string' },
  tpd: { type: 'string' },
  concurrency: { type: 'string' },
  'max-num-ctx': { type: 'string' },
  'max-num-predict': { type: 'string' },
  'max-keep-alive': { type: 'string' },
  'max-images': { type: 'string' },
  'max-embed-inputs': { type: 'string' },
  'allow-runner-options': { type: 'string' },
} as const;

const POLICY_OPTIONS = {
  scopes: { type: 'string' },
  models: { type: 'string' },
  expires: { type: 'string' },
  json: { type: 'boolean' },
  ...LIMIT_OPTIONS,
} as const;

const POLICY_HELP = `  --scopes LIST           comma-separated: ${ALL_SCOPES.join(', ')} (default: ${DEFAULT_SCOPES.join(',')})
  --models GLOBS          comma-separated model patterns, e.g. "llama3*,qwen2.5:*" (default: all; "*" = all)
  --expires DURATION      e.g. 30d, 12h, or an ISO date; "never" removes the expiry
  --rpm N                 requests per minute ("none" = no limit; default from limits.defaults)
  --tpm N                 tokens (prompt + completion) per minute
  --tpd N                 tokens per day
  --concurrency N         requests in flight at once
  --max-num-ctx N         per-key clamps overriding the clamps.* config
  --max-num-predict N
  --max-keep-alive DUR
  --max-images N
  --max-embed-inputs N
  --allow-runner-options true|false   may set num_gpu, main_gpu, num_batch, num_thread, use_mmap
  --json                  machine-readable output`;

export const KEYS_HELP = `gatehouse keys: manage API keys and registered SSH keys

Usage:
  gatehouse keys create --name NAME [--scopes LIST] [--models GLOBS] [--expires DURATION] [limits] [--json]
  gatehouse keys add-ssh --name NAME (--pubkey-file FILE | --pubkey "ssh-ed25519 AAAA... comment") [--scopes ..] [--models ..] [--expires ..] [limits] [--json]
  gatehouse keys add-cert --name NAME (--cert-file FILE [--match fingerprint|subject] | --subject "CN=..., O=...") [--scopes ..] [--models ..] [--expires ..] [limits] [--json]
  gatehouse keys list [--json]
  gatehouse keys show ID [--json]
  gatehouse keys update ID [--name NAME] [--scopes ..] [--models ..] [--expires ..] [limits] [--json]
  gatehouse keys revoke ID

ID is a key id (key_…) or a unique key name. Changes reach a running server within a second.
A new API key is shown once and stored only as a SHA-256 hash.

Options:
  --name NAME             a label for people (e.g. the user or app that holds the key)
${POLICY_HELP}
  --pubkey-file FILE      (add-ssh) an OpenSSH public key file, e.g. ~/.ollama/id_ed25519.pub
  --pubkey LINE           (add-ssh) the public key line itself
  --cert-file FILE        (add-cert) a TLS client certificate (PEM/DER, no private key); pinned by its
                          SHA-256 fingerprint, or with --match subject: any certificate with its subject
                          issued by tls.client_ca
  --subject DN            (add-cert) map a subject, e.g. "CN=alice, O=Example" (needs tls.client_ca)
${COMMON_HELP}`;

export async function keysCommand(argv: string[]): Promise<number> {
  const sub = argv[0];
  const rest = argv.slice(1);
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(KEYS_HELP);
    return sub ? 0 : 2;
  }
  const { values, positionals } = parse(rest, { name: { type: 'string' }, 'pubkey-file': { type: 'string' }, pubkey: { type: 'string' }, 'cert-file': { type: 'string' }, subject: { type: 'string' }, match: { type: 'string' }, ...POLICY_OPTIONS });
  if (values.help) {
    console.log(KEYS_HELP);
    return 0;
  }
  const { config } = configFrom(values);
  const stores = await openStores({ dataDir: config.data_dir, store: config.store });
  const by: Actor = { actor: `cli:${safeUser()}@${hostname()}` };
  try {
    switch (sub) {
      case 'create':
        return await create(stores.keys, values, by, false);
      case 'add-ssh':
        return await create(stores.keys, values, by, true);
      case 'add-cert':
        return await create(stores.keys, values, by, 'cert', config.tls);
      case 'list':
        return await list(stores.keys, !!values.json);
      case 'show':
        return await show(stores.keys, one(positionals, 'show'), !!values.json);
      case 'update':
        return await update(stores.keys, one(positionals, 'update'), values, by);
      case 'revoke':
        return await revoke(stores.keys, one(positionals, 'revoke'), by, !!values.json);
      default:
        throw new UsageError(`unknown keys subcommand "${sub}" (see gatehouse keys --help)`);
    }
  } finally {
    await stores.close();
  }
}

type Values = Record<string, string | boolean | undefined>;
type KeyStoreT = Awaited<ReturnType<typeof openStores>>['keys'];

async function create(store: KeyStoreT, v: Values, by: Actor, ssh: boolean | 'cert', tls?: Config['tls']): Promise<number> {
  const name = str(v.name);
  if (!name) throw new UsageError('--name is required');
  const common = {
    id: newKeyId(),
    name,
    scopes: v.scopes !== undefined ? parseScopes(str(v.scopes)!) : [...DEFAULT_SCOPES],
    models: v.models !== undefined ? parseModels(str(v.models)!) : null,
    limits: parseLimits(v, { rpm: null, tpm: null, tpd: null, concurrency: null }),
    clamps: parseClamps(v, {}),
    expiresAt: v.expires !== undefined ? parseExpiry(str(v.expires)!) : null,
  };
  if (!ssh) {
    const k = generateApiKey();
    const rec = await store.create({ ...common, kind: 'api_key', hash: k.hash, hint: k.hint, fingerprint: null, publicKey: null }, by);
    if (v.json) console.log(JSON.stringify({ ...publicView(rec), key: k.key }));
    else {
      console.log(`Created API key ${rec.id} ("${rec.name}")\n\n  ${k.key}\n`);
      console.log('This is the only time the key is shown: store it now. Use it as "Authorization: Bearer <key>"');
      console.log(`(OpenAI SDKs: api_key=<key>; Anthropic SDKs: x-api-key; ollama-python: OLLAMA_API_KEY=<key>).\n`);
      console.log(describe(rec));
    }
    return 0;
  }
  if (ssh === 'cert') {
    const reg = certRegistration({ certFile: str(v['cert-file']), subject: str(v.subject), match: str(v.match) }, tls!);
    if ('error' in reg) throw new UsageError(reg.error);
    const dup = (await store.list()).find((r) => r.fingerprint === reg.fingerprint);
    if (dup) throw new UsageError(`${reg.fingerprint} is already registered as ${dup.id} ("${dup.name}")`);
    const rec = await store.create({ ...common, kind: 'client_cert', hash: null, hint: null, fingerprint: reg.fingerprint, publicKey: reg.summary }, by);
    if (v.json) console.log(JSON.stringify({ ...publicView(rec), notes: reg.notes }));
    else {
      console.log(`Registered client certificate ${rec.id} ("${rec.name}") by ${reg.match}: ${rec.fingerprint}\n`);
      for (const n of reg.notes) console.log(`note: ${n}`);
      console.log('The holder sends no API key, only its certificate: curl --cert CERT.pem --key KEY.pem https://<gateway>/api/tags\n');
      console.log(describe(rec));
    }
    return 0;
  }
  const lineText = v['pubkey-file'] !== undefined ? readFileSync(str(v['pubkey-file'])!, 'utf8').trim().split('\n')[0] ?? '' : str(v.pubkey);
  if (!lineText) throw new UsageError('add-ssh needs --pubkey-file FILE or --pubkey "ssh-ed25519 AAAA..."');
  const pk = parsePublicKeyLine(lineText);
  if (!pk.ok) throw new UsageError(`not a usable public key: ${describePublicKeyLineFailure(pk)}`);
  const existing = (await store.list()).find((r) => r.fingerprint === pk.fingerprint);
  if (existing) throw new UsageError(`key ${pk.fingerprint} is already registered as ${existing.id} ("${existing.name}")`);
  const rec = await store.create({ ...common, kind: 'ssh_key', hash: null, hint: null, fingerprint: pk.fingerprint, publicKey: formatPublicKeyLine(pk.rawKey) }, by);
  if (v.json) console.log(JSON.stringify(publicView(rec)));
  else {
    console.log(`Registered SSH key ${rec.id} ("${rec.name}") ${rec.fingerprint}\n`);
    console.log('The holder can now run:  OLLAMA_HOST=<gateway URL> OLLAMA_AUTH=1 ollama run <model>\n');
    console.log(describe(rec));
  }
  return 0;
}

async function list(store: KeyStoreT, json: boolean): Promise<number> {
  const all = await store.list();
  if (json) {
    console.log(JSON.stringify(all.map(publicView)));
    return 0;
  }
  if (all.length === 0) {
    console.log('no keys (create one with: gatehouse keys create --name NAME)');
    return 0;
  }
  const now = Date.now();
  console.log(
    table([
      ['ID', 'NAME', 'KIND', 'KEY', 'SCOPES', 'MODELS', 'STATUS', 'LAST USED'],
      ...all.map((r) => [r.id, r.name, r.kind === 'api_key' ? 'api' : r.kind === 'client_cert' ? 'cert' : 'ssh', r.hint ? `${r.hint}…` : (r.fingerprint ?? ''), r.scopes.join(','), r.models ? r.models.join(',') : '*', status(r, now), when(r.lastUsedAt)]),
    ]),
  );
  return 0;
}

async function show(store: KeyStoreT, id: string, json: boolean): Promise<number> {
  const rec = await mustFind(store, id);
  console.log(json ? JSON.stringify(publicView(rec)) : describe(rec));
  return 0;
}

async function update(store: KeyStoreT, id: string, v: Values, by: Actor): Promise<number> {
  const rec = await mustFind(store, id);
  const patch: KeyPatch = {};
  if (v.name !== undefined) patch.name = str(v.name)!;
  if (v.scopes !== undefined) patch.scopes = parseScopes(str(v.scopes)!);
  if (v.models !== undefined) patch.models = parseModels(str(v.models)!);
  if (v.expires !== undefined) patch.expiresAt = parseExpiry(str(v.expires)!);
  const limits = parseLimits(v, rec.limits);
  if (JSON.stringify(limits) !== JSON.stringify(rec.limits)) patch.limits = limits;
  const clamps = parseClamps(v, rec.clamps);
  if (JSON.stringify(clamps) !== JSON.stringify(rec.clamps)) patch.clamps = clamps;
  if (Object.keys(patch).length === 0) throw new UsageError('nothing to update: give at least one of --name, --scopes, --models, --expires or a limit');
  const next = await store.update(rec.id, patch, by);
  console.log(v.json ? JSON.stringify(publicView(next)) : `Updated ${next.id}\n\n${describe(next)}`);
  return 0;
}

async function revoke(store: KeyStoreT, id: string, by: Actor, json: boolean): Promise<number> {
  const rec = await mustFind(store, id);
  const next = await store.revoke(rec.id, by);
  console.log(json ? JSON.stringify(publicView(next)) : `Revoked ${next.id} ("${next.name}"); a running gateway refuses it within a second.`);
  return 0;
}

/** Everything about a key except the hash (not a secret, but of no use outside the store). */
export function publicView(r: KeyRecord): Record<string, unknown> {
  return {
    id: r.id, name: r.name, kind: r.kind, hint: r.hint, fingerprint: r.fingerprint, public_key: r.publicKey,
    scopes: r.scopes, models: r.models, limits: r.limits, clamps: r.clamps,
    created_at: when(r.createdAt), expires_at: r.expiresAt === null ? null : when(r.expiresAt),
    revoked_at: r.revokedAt === null ? null : when(r.revokedAt), last_used_at: r.lastUsedAt === null ? null : when(r.lastUsedAt),
    status: status(r, Date.now()),
  };
}

function describe(r: KeyRecord): string {
  const lim = (n: number | null) => (n === null ? 'default' : String(n));
  const clampText = Object.entries(r.clamps).filter(([, x]) => x !== null && x !== undefined).map(([k, x]) => `${k}=${k === 'max_keep_alive' ? formatDuration(Number(x)) : x}`).join(' ');
  return table([
    ['id', r.id],
    ['name', r.name],
    ['kind', r.kind === 'api_key' ? `API key (${r.hint}…)` : r.kind === 'client_cert' ? `client certificate ${r.fingerprint}` : `SSH key ${r.fingerprint}`],
    ...(r.publicKey ? [['public key', r.publicKey]] : []),
    ['scopes', r.scopes.join(', ')],
    ['models', r.models ? r.models.join(', ') : 'all'],
    ['limits', `rpm=${lim(r.limits.rpm)} tpm=${lim(r.limits.tpm)} tpd=${lim(r.limits.tpd)} concurrency=${lim(r.limits.concurrency)}`],
    ['clamps', clampText || 'gateway defaults'],
    ['created', when(r.createdAt)],
    ['expires', r.expiresAt === null ? 'never' : when(r.expiresAt)],
    ['status', status(r, Date.now())],
    ['last used', when(r.lastUsedAt)],
  ]);
}

function status(r: KeyRecord, now: number): string {
  if (r.revokedAt !== null) return 'revoked';
  if (r.expiresAt !== null && now >= r.expiresAt) return 'expired';
  return 'active';
}

async function mustFind(store: KeyStoreT, id: string): Promise<KeyRecord> {
  const rec = await store.find(id);
  if (!rec) throw new UsageError(`no key "${id}" (see gatehouse keys list)`);
  return rec;
}

function one(positionals: string[], cmd: string): string {
  if (positionals.length !== 1) throw new UsageError(`usage: gatehouse keys ${cmd} ID`);
  return positionals[0]!;
}

function str(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function parseScopes(text: string): Scope[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new UsageError('--scopes needs at least one scope');
  for (const s of list) if (!ALL_SCOPES.includes(s as Scope)) throw new UsageError(`unknown scope "${s}"; scopes are ${ALL_SCOPES.join(', ')}`);
  return [...new Set(list)] as Scope[];
}

export function parseModels(text: string): string[] | null {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new UsageError('--models needs at least one pattern ("*" for all)');
  if (list.includes('*') || list.includes('all')) return null;
  const bad = invalidPatterns(list);
  if (bad.length) throw new UsageError(`invalid model pattern(s): ${bad.join(', ')}`);
  return list;
}

export function parseExpiry(text: string, now = Date.now()): number | null {
  if (text === 'never' || text === 'none') return null;
  const ms = parseDuration(text);
  if (ms !== null) return now + ms;
  const t = Date.parse(text);
  if (!Number.isNaN(t) && /^\d{4}-\d{2}-\d{2}/.test(text)) return t;
  throw new UsageError(`--expires: "${text}" is neither a duration (30d, 12h) nor a date (2026-12-31)`);
}

function parseCount(flag: string, text: string): number | null {
  if (text === 'none' || text === 'unlimited' || text === 'default') return null;
  if (!/^\d+$/.test(text)) throw new UsageError(`--${flag}: expected a whole number or "none", got "${text}"`);
  return Number(text);
}

function parseLimits(v: Values, base: PrincipalLimits): PrincipalLimits {
  const out = { ...base };
  for (const k of ['rpm', 'tpm', 'tpd', 'concurrency'] as const) {
    const t = str(v[k]);
    if (t !== undefined) out[k] = parseCount(k, t);
  }
  return out;
}

function parseClamps(v: Values, base: PrincipalClamps): PrincipalClamps {
  const out: PrincipalClamps = { ...base };
  const num = (flag: string, key: 'max_num_ctx' | 'max_num_predict' | 'max_images' | 'max_embed_inputs') => {
    const t = str(v[flag]);
    if (t !== undefined) out[key] = parseCount(flag, t);
  };
  num('max-num-ctx', 'max_num_ctx');
  num('max-num-predict', 'max_num_predict');
  num('max-images', 'max_images');
  num('max-embed-inputs', 'max_embed_inputs');
  const ka = str(v['max-keep-alive']);
  if (ka !== undefined) {
    if (ka === 'none' || ka === 'default') out.max_keep_alive = null;
    else {
      const ms = parseDuration(ka);
      if (ms === null) throw new UsageError(`--max-keep-alive: "${ka}" is not a duration (e.g. 10m)`);
      out.max_keep_alive = ms;
    }
  }
  const aro = str(v['allow-runner-options']);
  if (aro !== undefined) {
    if (aro !== 'true' && aro !== 'false') throw new UsageError('--allow-runner-options takes true or false');
    out.allow_runner_options = aro === 'true';
  }
  return out;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
