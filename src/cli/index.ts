import { ConfigError } from '../config/load.js';
import { nearestOption, UsageError } from './args.js';

export const MAIN_HELP = `gatehouse: an authenticating gateway in front of Ollama

Usage:
  gatehouse serve [--config FILE] [--listen HOST:PORT] [--upstream URL] [--data-dir DIR]
  gatehouse init [--config FILE] [--data-dir DIR]     create the key store without starting
  gatehouse keys create|add-ssh|add-cert|list|show|update|revoke ...
  gatehouse policies list|show|create|update|delete ...   named scopes, models, limits and clamps for keys
  gatehouse config check [--config FILE]
  gatehouse config schema                       JSON Schema of gatehouse.yaml, for editors
  gatehouse usage [--since 24h|7d|DATE] [--until ..] [--by key|model|node|day|hour] [--key ID] [--json|--csv]
  gatehouse audit [--since ..] [--key ID] [--denied] [--follow] [--json] [--admin]
  gatehouse doctor [--config FILE] [--json]     check a deployment; exits 1 on critical findings
  gatehouse nodes [--config FILE] [--json]      the Ollama nodes: health, in flight, loaded models

Every command finds its configuration the same way: --config FILE, else $GATEHOUSE_CONFIG, else
./gatehouse.yaml, else /etc/gatehouse/gatehouse.yaml; the data dir comes from it. Only serve and
init create a store; the other commands say so when there is none where they look.
Run \`gatehouse <command> --help\` for a command's options.
Quick start: \`gatehouse serve\` (Ollama on 127.0.0.1:11434; Gatehouse on 127.0.0.1:11435), then
\`gatehouse keys create --name me\` and send the key as "Authorization: Bearer <key>".`;

/**
 * Each command is imported only when it runs: `keys list` should not pay for loading the server,
 * the metrics registry and the Postgres driver.
 */
type Run = (argv: string[]) => Promise<number>;
const COMMANDS: Record<string, () => Promise<Run>> = {
  serve: async () => (await import('./commands/serve.js')).serveCommand,
  init: async () => (await import('./commands/init.js')).initCommand,
  keys: async () => (await import('./commands/keys.js')).keysCommand,
  policies: async () => (await import('./commands/policies.js')).policiesCommand,
  config: async () => (await import('./commands/config.js')).configCommand,
  usage: async () => (await import('./commands/usage.js')).usageCommand,
  audit: async () => (await import('./commands/audit.js')).auditCommand,
  doctor: async () => (await import('./commands/doctor.js')).doctorCommand,
  nodes: async () => (await import('./commands/nodes.js')).nodesCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help' && rest[0] && Object.hasOwn(COMMANDS, rest[0])) return main([rest[0], '--help']);
  if (!name || name === '--help' || name === '-h' || (name === 'help' && !rest[0])) {
    console.log(MAIN_HELP);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    console.log(await packageVersion());
    return 0;
  }
  const load = name !== 'help' && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    const what = name === 'help' ? `no help for "${rest[0]}": it is not a command` : name.startsWith('-') ? `unknown option "${name}"` : `unknown command "${name}"`;
    const guess = nearestOption(name === 'help' ? rest[0]! : name, Object.fromEntries(Object.keys(COMMANDS).map((c) => [c, { type: 'boolean' as const }])));
    console.error(`gatehouse: ${what}${guess ? ` (did you mean ${guess.replace(/^--/, '')}?)` : ''}; the commands are ${Object.keys(COMMANDS).join(', ')}\n\n${MAIN_HELP}`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`gatehouse ${name}: ${err.message}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 1;
    }
    console.error(`gatehouse ${name}: ${(err as Error).message}`);
    return 1;
  }
}

async function packageVersion(): Promise<string> {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
