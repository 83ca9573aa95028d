import { REMOTE_HELP, REMOTE_OPTIONS } from '../admin-client.js';
import { COMMON_HELP } from '../args.js';
import { GRANT_HELP, GRANT_OPTIONS, type Verb } from './keys-help.js';

/** The `policies` verbs: the flags each takes and its help (the grant flags are those of `keys create`). */

const JSON_ONLY = { json: { type: 'boolean' } } as const;
const JSON_HELP = '  --json                  machine-readable output';
const STORE_NOTE = 'Every policies command works on the store of the configuration it finds (see --config); it never\ncreates one: `gatehouse serve` or `gatehouse init` does.';

function verb(usage: string, summary: string, options: Verb['options'], positionals: number, body: string): Verb {
  return { usage, summary, options: { ...options, ...REMOTE_OPTIONS }, positionals, help: `gatehouse policies ${usage.split(' ')[0]}: ${summary}\n\nUsage:\n  gatehouse policies ${usage}\n\nOptions:\n${body}\n${COMMON_HELP}\n${REMOTE_HELP}\n\n${STORE_NOTE}` };
}

export const POLICY_VERBS: Record<string, Verb> = {
  list: verb('list [--json]', 'list policies, with how many keys use each', JSON_ONLY, 0, JSON_HELP),
  show: verb('show NAME [--json]', 'show one policy: what it grants and which keys use it', JSON_ONLY, 1, JSON_HELP),
  create: verb('create NAME [--scopes LIST] [--models GLOBS] [limits] [--json]', 'create a policy keys can take their scopes, models, limits and clamps from', { ...GRANT_OPTIONS, ...JSON_ONLY }, 1,
    `  NAME                    letters, digits, '.', '_', '-' (up to 64; not starting with pol_)\n${GRANT_HELP}\n${JSON_HELP}`),
  update: verb('update NAME [--name NEW] [--scopes ..] [--models ..] [limits] [--json]', 'change a policy: every key that uses it changes, in a running gateway within a second', { name: { type: 'string' }, ...GRANT_OPTIONS, ...JSON_ONLY }, 1,
    `  --name NEW              rename it (keys point at the policy's id, so they keep it)\n${GRANT_HELP.replace(/ \(default: [^)]*\)/g, '')}\n${JSON_HELP}`),
  delete: verb('delete NAME [--json]', 'delete a policy no key (that is not revoked) uses', JSON_ONLY, 1, JSON_HELP),
};

export const POLICIES_HELP = `gatehouse policies: named sets of scopes, models, limits and clamps that keys take instead of their own

Usage:
${Object.values(POLICY_VERBS).map((v) => `  gatehouse policies ${v.usage}`).join('\n')}

${Object.entries(POLICY_VERBS).map(([name, v]) => `  ${name.padEnd(7)} ${v.summary}`).join('\n')}

A key takes a policy with \`gatehouse keys create --name N --policy NAME\` or \`keys update ID --policy NAME\`;
while it has one, the key's own scopes, models, limits and clamps are not used. Changing a policy
changes every key that uses it; a running gateway applies it within a second. Limits stay per key:
each key of a policy has the policy's rpm, not a share of it. A policy that keys use cannot be
deleted. NAME is a policy name or id (pol_…). \`gatehouse policies VERB --help\` shows a verb's options.

Options common to every verb:
${COMMON_HELP}
${REMOTE_HELP}

${STORE_NOTE}`;
