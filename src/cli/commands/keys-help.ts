import { DEFAULT_OVERLAP } from '../../admin/keys.js';
import { ALL_SCOPES, DEFAULT_SCOPES } from '../../core/types.js';
import { REMOTE_HELP, REMOTE_OPTIONS } from '../admin-client.js';
import { COMMON_HELP } from '../args.js';

/** The `keys` verbs: the flags each takes (only those: `keys list --rpm 5` is an error) and its help. */

export const LIMIT_OPTIONS = {
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

/** What a key or a policy grants: scopes, models, limits, clamps (`policies` takes the same). */
export const GRANT_OPTIONS = { scopes: { type: 'string' }, models: { type: 'string' }, ...LIMIT_OPTIONS } as const;
/** The flags of GRANT_OPTIONS, as typed: the ones a key with a policy refuses. */
export const GRANT_FLAGS: readonly string[] = Object.keys(GRANT_OPTIONS);
const KEY_OPTIONS = { ...GRANT_OPTIONS, expires: { type: 'string' }, policy: { type: 'string' }, json: { type: 'boolean' } } as const;
const JSON_ONLY = { json: { type: 'boolean' } } as const;

/** Help for GRANT_OPTIONS. */
export const GRANT_HELP = `  --scopes LIST           comma-separated: ${ALL_SCOPES.join(', ')} (default: ${DEFAULT_SCOPES.join(',')})
  --models GLOBS          comma-separated model patterns, e.g. "llama3*,qwen2.5:*" (default: all; "*" = all)
  --rpm N                 requests per minute ("default" = follow limits.defaults.rpm, the default)
  --tpm N                 tokens (prompt + completion) per minute ("default" as above)
  --tpd N                 tokens per UTC day ("default" as above)
  --concurrency N         requests in flight at once ("default" as above)
  --max-num-ctx N         per-key clamps overriding the clamps.* config ("default" = the config's)
  --max-num-predict N
  --max-keep-alive DUR
  --max-images N
  --max-embed-inputs N
  --allow-runner-options true|false   may set num_gpu, main_gpu, num_batch, num_thread, use_mmap`;

const POLICY_HELP = `  --policy NAME           take scopes, models, limits and clamps from this policy (gatehouse policies);
                          then none of the flags below may be given: change the policy instead
${GRANT_HELP}
  --expires WHEN          a duration from now (30d, 12h) or a future date (2026-12-31); "never" = no expiry
  --json                  machine-readable output`;

const UPDATE_HELP = POLICY_HELP.replace(
  '  --policy NAME ',
  `  --no-policy             stop using the key's policy: the key keeps what the policy grants now, as its own
                          values, changed by any flags below given with it
  --policy NAME `,
);

const STORE_NOTE = 'Every keys command works on the store of the configuration it finds (see --config); it never\ncreates one: `gatehouse serve` or `gatehouse init` does.';

export interface Verb {
  usage: string;
  summary: string;
  options: Record<string, { type: 'string' | 'boolean'; short?: string }>;
  /** Positional arguments it takes (the key ID). */
  positionals: number;
  help: string;
}

function verb(usage: string, summary: string, options: Verb['options'], positionals: number, body: string, remote = true): Verb {
  return {
    usage, summary, positionals,
    options: remote ? { ...options, ...REMOTE_OPTIONS } : options,
    help: `gatehouse keys ${usage.split(' ')[0]}: ${summary}\n\nUsage:\n  gatehouse keys ${usage}\n\n${body ? `Options:\n${body}\n` : 'Options:\n'}${COMMON_HELP}\n${remote ? `${REMOTE_HELP}\n` : ''}\n${STORE_NOTE}`,
  };
}

export const VERBS: Record<string, Verb> = {
  create: verb('create --name NAME [--policy NAME | [--scopes LIST] [--models GLOBS] [limits]] [--expires WHEN] [--json]', 'create an API key (shown once, stored as a SHA-256 hash)', { name: { type: 'string' }, ...KEY_OPTIONS }, 0,
    `  --name NAME             a unique label for people (the user or app that holds the key)\n${POLICY_HELP}`),
  'add-ssh': verb('add-ssh --name NAME (--pubkey-file FILE | --pubkey "ssh-ed25519 AAAA... comment") [--policy NAME | --scopes ..] [--models ..] [--expires ..] [limits] [--json]', 'register an ollama CLI Ed25519 public key', { name: { type: 'string' }, 'pubkey-file': { type: 'string' }, pubkey: { type: 'string' }, ...KEY_OPTIONS }, 0,
    `  --name NAME             a unique label for people\n  --pubkey-file FILE      an OpenSSH public key file, e.g. ~/.ollama/id_ed25519.pub\n  --pubkey LINE           the public key line itself\n${POLICY_HELP}`, false),
  'add-cert': verb('add-cert --name NAME (--cert-file FILE [--match fingerprint|subject] | --subject "CN=..., O=...") [--policy NAME | --scopes ..] [--models ..] [--expires ..] [limits] [--json]', 'register a TLS client certificate as a principal', { name: { type: 'string' }, 'cert-file': { type: 'string' }, subject: { type: 'string' }, match: { type: 'string' }, ...KEY_OPTIONS }, 0,
    `  --name NAME             a unique label for people\n  --cert-file FILE        a TLS client certificate (PEM/DER, no private key); pinned by its SHA-256\n                          fingerprint, or with --match subject: any certificate with its subject\n                          issued by tls.client_ca\n  --subject DN            map a subject, e.g. "CN=alice, O=Example" (needs tls.client_ca)\n${POLICY_HELP}`, false),
  list: verb('list [--json]', 'list keys (never the keys themselves)', JSON_ONLY, 0, '  --json                  machine-readable output'),
  show: verb('show ID [--json]', 'show one key, with the limits and clamps that apply to it', JSON_ONLY, 1, '  --json                  machine-readable output'),
  update: verb('update ID [--name NAME] [--policy NAME | --no-policy] [--scopes ..] [--models ..] [--expires ..] [limits] [--json]', 'change a key; a running gateway applies it within a second', { name: { type: 'string' }, 'no-policy': { type: 'boolean' }, ...KEY_OPTIONS }, 1,
    `  --name NAME             a new unique label\n${UPDATE_HELP}`),
  revoke: verb('revoke ID [--json]', 'revoke a key; a running gateway refuses it within a second', JSON_ONLY, 1, '  --json                  machine-readable output'),
  rotate: verb('rotate ID [--overlap 24h] [--json]', 'a new secret for an API key (same id, grants and history); the old one works until the overlap ends', { overlap: { type: 'string' }, json: { type: 'boolean' } }, 1,
    `  --overlap DURATION      how long the old secret keeps working (default ${DEFAULT_OVERLAP}); 0 = refused at once\n  --json                  machine-readable output (the new secret in "key")`),
};

export const KEYS_HELP = `gatehouse keys: manage API keys and registered SSH keys and certificates

Usage:
${Object.values(VERBS).map((v) => `  gatehouse keys ${v.usage}`).join('\n')}

${Object.entries(VERBS).map(([name, v]) => `  ${name.padEnd(9)} ${v.summary}`).join('\n')}

ID is a key id (key_…) or a key name (names are unique). Changes reach a running server within a
second. A new API key is shown once and stored only as a SHA-256 hash.
\`gatehouse keys VERB --help\` shows a verb's options.

Options common to every verb:
${COMMON_HELP}
${REMOTE_HELP}
                     (every verb but add-ssh and add-cert)

${STORE_NOTE}`;
